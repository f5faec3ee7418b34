"""The embedded registry: the CNCF distribution server hoist runs on 127.0.0.1.

It is the default target when pipeline.yaml names none, so a fresh checkout pushes somewhere
real with zero configuration. Using it starts it (``invoke registry.up`` does the same).
"""

from __future__ import annotations

from collections.abc import Mapping

from pipeline.config.names import IMAGE_NAME_RE
from pipeline.errors import ConfigError
from pipeline.push.registries.base import (
    Credentials,
    RegistryKind,
    Target,
    TargetConfig,
    check_options,
    target_from,
)
from pipeline.push.registry_server import embedded_registry, ensure_embedded_registry


def check_target(config: TargetConfig, image: str, environ: Mapping[str, str]) -> str:
    """Validate the target without starting the registry; the repository path."""
    check_options(config, {})
    path = config.repository or _without_host(image)
    if not IMAGE_NAME_RE.match(path) or path != _without_host(path):
        raise ConfigError(
            config.source,
            f"registries[{config.name}].repository",
            f"{path!r}: the local registry takes a path without a host (e.g. team/app)",
        )
    if config.endpoint:
        target_from(config, "127.0.0.1", path)  # refuses an endpoint that is not HOST[:PORT]
    return path


def make_target(config: TargetConfig, image: str, environ: Mapping[str, str]) -> Target:
    path = check_target(config, image, environ)
    server = ensure_embedded_registry()
    return target_from(config, server.address, path)


def _without_host(name: str) -> str:
    first, _, rest = name.partition("/")
    has_host = rest and ("." in first or ":" in first or first == "localhost")
    return rest if has_host else name


def credentials(target: Target, environ: Mapping[str, str]) -> Credentials | None:
    server = embedded_registry() or ensure_embedded_registry()
    return Credentials(server.username, server.password, source="embedded registry")


KIND = RegistryKind("local", make_target, credentials, check_target=check_target)
