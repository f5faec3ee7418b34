"""The registry layer cache as BuildKit flags, and the cache registry's credentials for the CLI.

A hosted CI runner starts with an empty engine, so without a cache every run is a cold build.
BuildKit reads layers from a cache ref before the build (``--cache-from``); what the CLI can
write differs: buildx exports the whole graph (``type=registry,mode=max``, or ``type=gha``
inside GitHub Actions), while the 20.10 CLI's built-in BuildKit only embeds its cache in the
image (``BUILDKIT_INLINE_CACHE=1``), which is then pushed as the cache ref. Either way the
cache is *written* only after the gates passed (``push.cache`` does it, called by the
runner), so a failed run never poisons it; a pull request run has no destination at all.

Several platforms (``build.platforms``) each read and write a cache of their own
(``CachePlan.for_platform``): one ref per platform, ``:buildcache-linux-arm64``, and one
``scope`` per platform in GitHub's cache — the convention of docker/build-push-action's
matrix recipe, because BuildKit's registry and gha exporters keep one platform per ref and
the last platform written would replace the others' (docker/buildx#1044).

The CLI authenticates to the cache registry from a docker config directory: a temporary one
(mode 0700, its ``config.json`` 0600) holding the user's config plus the cache registry's
credentials, removed when the build ends — also on Ctrl-C/SIGTERM, which arrive here as
exceptions. The credentials are never on argv; the user's own config is never touched.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pipeline.build.backend import BuildkitCli
from pipeline.build.platforms import Platform
from pipeline.build.settings import BuildConfig

GHA = "gha"
INLINE_CACHE_ARG = "BUILDKIT_INLINE_CACHE"


@dataclass(frozen=True)
class RegistryLogin:
    """Credentials for one registry host the cache is read from or written to."""

    host: str
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class CachePlan:
    """Where this run reads layers from and writes them to (``GHA`` for GitHub's cache)."""

    sources: tuple[str, ...]
    destination: str | None
    logins: tuple[RegistryLogin, ...] = ()
    scope: str | None = None  # GitHub's cache scope (one per platform), None: buildx's default

    @property
    def gha(self) -> bool:
        return GHA in self.sources or self.destination == GHA

    def for_platform(self, slug: str) -> CachePlan:
        """This plan for one platform (``linux-arm64``): each ref's tag suffixed with it, and
        GitHub's cache scoped to it; a ref pinned by digest is read as it is."""
        return replace(
            self,
            sources=tuple(platform_ref(ref, slug) for ref in self.sources),
            destination=platform_ref(self.destination, slug) if self.destination else None,
            scope=slug,
        )


def platform_ref(reference: str, slug: str) -> str:
    """``r.io/app:buildcache`` -> ``r.io/app:buildcache-linux-arm64`` (no tag: ``latest``)."""
    if reference == GHA or "@" in reference:
        return reference
    name, colon, tag = reference.rpartition(":")
    if not colon or "/" in tag:  # the colon was a registry port's, or there was none
        name, tag = reference, "latest"
    return f"{name}:{tag}-{slug}"


@dataclass(frozen=True)
class CacheExport:
    """What writing the cache after the gates takes: the cache ref, the Dockerfile's own
    image (pushed as that ref when its cache is inline) and, for buildx, the same build
    again with ``--cache-to`` (every step a hit on the builder's own cache)."""

    destination: str
    content_id: str
    cli: BuildkitCli
    build: BuildConfig
    args: Mapping[str, str]
    platform: Platform | None = None  # the one of build.platforms this build was for

    @property
    def inline(self) -> bool:
        return not self.cli.buildx


def usable_with(cli: BuildkitCli | None, plan: CachePlan) -> str | None:
    """Why ``plan`` cannot be used with this builder (a line for the log), or None."""
    if cli is None:
        return "the classic builder cannot use build.cache: building without it"
    if plan.gha and not cli.buildx:
        return f"the cache is gha, which needs buildx ({cli.describe()} has none): no cache"
    return None


def read_flags(cli: BuildkitCli, plan: CachePlan) -> list[str]:
    """``--cache-from`` for every source, and the inline cache when this CLI writes that."""
    flags: list[str] = []
    for source in plan.sources:
        if source == GHA:
            flags += ["--cache-from", "type=gha" + (f",scope={plan.scope}" if plan.scope else "")]
        elif cli.buildx:
            flags += ["--cache-from", f"type=registry,ref={source}"]
        else:
            flags += ["--cache-from", source]
    if plan.destination and not cli.buildx:
        flags += ["--build-arg", f"{INLINE_CACHE_ARG}=1"]
    return flags


def write_flags(destination: str, scope: str | None = None) -> list[str]:
    """buildx's export of the whole build graph (every stage, not only the final image's)."""
    if destination == GHA:
        return ["--cache-to", "type=gha,mode=max" + (f",scope={scope}" if scope else "")]
    return ["--cache-to", f"type=registry,ref={destination},mode=max"]


def registry_host(reference: str) -> str:
    """The registry a reference names (docker's rule: a first part with '.' or ':', or
    localhost; else Docker Hub)."""
    first, _, rest = reference.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


@contextlib.contextmanager
def docker_config_with(
    logins: tuple[RegistryLogin, ...], environ: Mapping[str, str]
) -> Iterator[Path | None]:
    """A private DOCKER_CONFIG holding ``logins`` for the CLI, removed on every way out;
    None (the CLI's own config) when there is nothing to add."""
    if not logins:
        yield None
        return
    directory = Path(tempfile.mkdtemp(prefix="hoist-docker-config-"))  # mode 0700
    try:
        config = _user_config(environ)
        auths = config.setdefault("auths", {})
        helpers = config.get("credHelpers") or {}
        for login in logins:
            token = base64.b64encode(f"{login.username}:{login.password}".encode()).decode()
            auths[login.host] = {"auth": token}
            helpers.pop(login.host, None)  # a helper would win over auths
        config.pop("credsStore", None)  # a global store would too, for every host
        path = directory / "config.json"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            json.dump(config, file)
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _user_config(environ: Mapping[str, str]) -> dict[str, Any]:
    """The user's docker config (credential helpers for other registries stay usable)."""
    home = environ.get("DOCKER_CONFIG") or str(
        Path(environ.get("HOME", "~")).expanduser() / ".docker"
    )
    try:
        loaded = json.loads((Path(home) / "config.json").read_text())
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}
