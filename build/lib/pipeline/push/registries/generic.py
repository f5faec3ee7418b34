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
    RegistryKind,
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
    return _from_variables(target, environ) or credstore.read(target, environ)


def check_credentials(target: Target, environ: Mapping[str, str]) -> None:
    """Before the run only a half-set variable pair is missing. The store is not read here:
    its credential helper is a program (it may unlock a keyring or call a cloud), and finding
    nothing there means an anonymous push, which some registries take — the check beside lint
    and build asks the registry, reading the store as the push will."""
    _from_variables(target, environ)


def anonymous_hint(name: str) -> str:
    """What to do when the registry wants credentials and neither place had any."""
    return (
        f"no credentials were found for {name}: set REGISTRY_USERNAME and REGISTRY_PASSWORD, "
        f"or `invoke login --to {name}`"
    )


def _from_variables(target: Target, environ: Mapping[str, str]) -> Credentials | None:
    """The variable pair; None when neither is set, an error naming the other if one is."""
    if not (environ.get("REGISTRY_USERNAME") or environ.get("REGISTRY_PASSWORD")):
        return None
    return env_credentials(
        target, environ, "REGISTRY_USERNAME", "REGISTRY_PASSWORD", "the registry's login"
    )


KIND = RegistryKind("generic", make_target, credentials, check_credentials=check_credentials)
