"""Red Hat Quay: ``quay.io/NAMESPACE/NAME`` (or a self-hosted Quay's own host).

Credentials: ``QUAY_USERNAME`` + ``QUAY_PASSWORD`` — normally a robot account
(``namespace+robot`` and its token). A robot belongs to one namespace and can only be granted
repositories there, so a robot of another namespace is refused before the push with the reason,
instead of as a bare 401 from the registry.
"""

from __future__ import annotations

from collections.abc import Mapping

from pipeline.push.registries.base import (
    Credentials,
    RegistryKind,
    Target,
    TargetConfig,
    check_options,
    config_error,
    env_credentials,
    no_credentials,
    parse_repository,
    require_depth,
    target_from,
)

REGISTRY = "quay.io"


def make_target(config: TargetConfig, image: str, environ: Mapping[str, str]) -> Target:
    check_options(config, {})
    if not config.repository:
        raise config_error(config, "repository", "is required for kind quay", "quay.io/NS/NAME")
    host, path = parse_repository(config, config.repository, default_host=REGISTRY)
    if host == REGISTRY:
        require_depth(config, host, path, 2, 2, "NAMESPACE/NAME (two levels)")
    else:
        require_depth(config, host, path, 2, None, "NAMESPACE/NAME")
    return target_from(config, host, path)


def credentials(target: Target, environ: Mapping[str, str]) -> Credentials:
    found = env_credentials(
        target, environ, "QUAY_USERNAME", "QUAY_PASSWORD", "a Quay robot account and its token"
    )
    robot_namespace, plus, _ = found.username.partition("+")
    namespace = target.path.split("/", 1)[0]
    if plus and robot_namespace.lower() != namespace:
        raise no_credentials(
            target,
            f"use a robot account of {namespace} (QUAY_USERNAME={namespace}+NAME)",
            why=f"robot {found.username} belongs to {robot_namespace}, not {namespace}",
        )
    return found


KIND = RegistryKind("quay", make_target, credentials)
