"""Any OCI distribution registry (Harbor, a self-hosted distribution, Nexus, ...).

Credentials: ``REGISTRY_USERNAME`` + ``REGISTRY_PASSWORD``, else whatever the user's docker
credential store holds for the endpoint (``docker login``), else anonymous — the same order a
person expects from ``docker push`` after ``docker login``.
"""

from __future__ import annotations

from collections.abc import Mapping

from pipeline.push.registries import credstore
from pipeline.push.registries.base import (
    Credentials,
    Target,
    TargetConfig,
    check_options,
    config_error,
    env_credentials,
    parse_repository,
    target_from,
)


def make_target(config: TargetConfig, image: str, environ: Mapping[str, str]) -> Target:
    check_options(config, {})
    if not config.repository:
        raise config_error(
            config,
            "repository",
            "is required for kind generic",
            "e.g. registry.example.com/team/app",
        )
    host, path = parse_repository(config, config.repository, default_host=None)
    return target_from(config, host, path)


def credentials(target: Target, environ: Mapping[str, str]) -> Credentials | None:
    if environ.get("REGISTRY_USERNAME") or environ.get("REGISTRY_PASSWORD"):
        return env_credentials(
            target, environ, "REGISTRY_USERNAME", "REGISTRY_PASSWORD", "the registry's login"
        )
    return credstore.read(target, environ)
