"""Docker Hub: ``docker.io/NAMESPACE/NAME``.

Naming: Docker Hub has exactly two levels. A bare ``app`` is an official image
(``library/app``, as docker expands it); ``index.docker.io/...``, ``registry-1.docker.io/...``
and ``docker.io/...`` all mean the same registry, and the canonical host pushes are reported
under is ``docker.io``. Without ``repository`` the target is
``docker.io/$DOCKERHUB_USERNAME/<image name>``: the account the token belongs to.

Credentials: ``DOCKERHUB_USERNAME`` + ``DOCKERHUB_TOKEN`` (an access token, the names
docker/login-action's documentation uses).
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
    image_basename,
    parse_repository,
    require_depth,
    target_from,
)
from pipeline.push.registries.credstore import DOCKER_HUB_HOSTS

REGISTRY = "docker.io"


def make_target(config: TargetConfig, image: str, environ: Mapping[str, str]) -> Target:
    check_options(config, {})
    repository = config.repository
    if not repository:
        user = environ.get("DOCKERHUB_USERNAME")
        if not user:
            raise config_error(
                config,
                "repository",
                "no Docker Hub repository configured",
                hint="set repository: NAMESPACE/NAME, or DOCKERHUB_USERNAME",
            )
        repository = f"{user.lower()}/{image_basename(image)}"
    host, path = parse_repository(config, repository, default_host=REGISTRY)
    if host not in DOCKER_HUB_HOSTS:
        raise config_error(
            config,
            "repository",
            f"{repository!r} is on {host}, not Docker Hub",
            hint="use kind generic (or the registry's own kind) for other registries",
        )
    if "/" not in path:
        path = f"library/{path}"
    require_depth(config, REGISTRY, path, 2, 2, "NAMESPACE/NAME (two levels)")
    return target_from(config, REGISTRY, path)


def credentials(target: Target, environ: Mapping[str, str]) -> Credentials:
    return env_credentials(
        target,
        environ,
        "DOCKERHUB_USERNAME",
        "DOCKERHUB_TOKEN",
        "a Docker Hub access token with Read & Write scope",
    )


KIND = RegistryKind("dockerhub", make_target, credentials)
