"""Any OCI distribution registry (Harbor, a self-hosted distribution, Nexus, ...).

Credentials: ``REGISTRY_USERNAME`` + ``REGISTRY_PASSWORD``, else whatever the user's docker
credential store holds for that host (``docker login``), else anonymous.
"""

from __future__ import annotations

from collections.abc import Mapping

from pipeline.config import TargetConfig
from pipeline.errors import ConfigError
from pipeline.registries.base import (
    Credentials,
    Target,
    env_credentials,
    split_repository,
    target_from,
)


def make_target(config: TargetConfig, image: str, environ: Mapping[str, str]) -> Target:
    if not config.repository:
        raise ConfigError(
            "pipeline.yaml",
            f"registries[{config.name}].repository",
            "is required for kind generic",
            hint="e.g. registry.example.com/team/app",
        )
    host, path = split_repository(config, config.repository)
    return target_from(config, host, path)


def credentials(target: Target, environ: Mapping[str, str]) -> Credentials | None:
    if environ.get("REGISTRY_USERNAME") or environ.get("REGISTRY_PASSWORD"):
        return env_credentials(
            target, environ, "REGISTRY_USERNAME", "REGISTRY_PASSWORD", "the registry's login"
        )
    return None
