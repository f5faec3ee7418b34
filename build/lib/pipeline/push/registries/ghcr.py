"""GitHub Container Registry: ``ghcr.io/OWNER/NAME[/...]``.

Naming: GHCR names are lower case, but GitHub owners keep their case in
``GITHUB_REPOSITORY_OWNER`` (``Acme-Corp``), so the owner is lower-cased, as
docker/metadata-action does. Without ``repository`` the target is
``ghcr.io/<owner>/<image name>``, the owner taken from ``GITHUB_REPOSITORY_OWNER``.

Credentials: ``GHCR_TOKEN`` (a personal access token with ``write:packages``) if set, else
``GITHUB_TOKEN`` (in Actions, with ``permissions: packages: write``); the user name is
``GITHUB_ACTOR`` (GHCR ignores it for tokens but docker requires one).
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
    image_basename,
    no_credentials,
    parse_repository,
    require_depth,
    target_from,
)

REGISTRY = "ghcr.io"


def make_target(config: TargetConfig, image: str, environ: Mapping[str, str]) -> Target:
    check_options(config, {})
    repository = config.repository
    if not repository:
        owner = environ.get("GITHUB_REPOSITORY_OWNER")
        if not owner:
            raise config_error(
                config,
                "repository",
                "no GHCR repository configured",
                hint="set repository: ghcr.io/OWNER/NAME (GITHUB_REPOSITORY_OWNER is unset)",
            )
        repository = f"{REGISTRY}/{owner}/{image_basename(image)}"
    host, path = parse_repository(config, repository, default_host=REGISTRY, lower_owner=True)
    if host != REGISTRY:
        raise config_error(
            config,
            "repository",
            f"{repository!r} is on {host}, not {REGISTRY}",
            hint="use kind generic (or the registry's own kind) for other registries",
        )
    require_depth(config, host, path, 2, None, "OWNER/NAME")
    return target_from(config, host, path)


def credentials(target: Target, environ: Mapping[str, str]) -> Credentials:
    actor = environ.get("GITHUB_ACTOR")
    token_var = "GHCR_TOKEN" if environ.get("GHCR_TOKEN") else "GITHUB_TOKEN"
    token = environ.get(token_var)
    if not actor or not token:
        missing = [
            v for v, value in (("GITHUB_ACTOR", actor), ("GITHUB_TOKEN", token)) if not value
        ]
        raise no_credentials(
            target,
            f"set {' and '.join(missing)} (in GitHub Actions: permissions: packages: write), "
            "or GHCR_TOKEN with a personal access token that has write:packages",
        )
    return Credentials(actor, token, source=f"GITHUB_ACTOR/{token_var}")


KIND = RegistryKind("ghcr", make_target, credentials)
