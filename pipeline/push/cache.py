"""The build cache's registry side: which refs a run reads and writes, with whose credentials,
and the write itself — called by the runner only once the gates passed.

``build.cache: registry`` means the first push target's ``:buildcache`` tag (one per platform
with ``build.platforms``: ``CachePlan.for_platform``), on the address
the engine reaches it at (its endpoint); explicit ``from``/``to`` refs are used as written,
with the credentials of the push target on the same registry host, if one is configured
(else the CLI's own docker config). A pull request run reads the cache anonymously and never
writes it: its code is not yet trusted, so it gets no credential (as it gets none to push),
and what it built must not become another run's layers. A cache BuildKit cannot read is a
warning of its own; the build goes on without it.

Writing, after the gates: with the 20.10 CLI's inline cache, the Dockerfile's own image
(which carries the cache in its config) is pushed as the cache ref through the SDK, as the
push stage pushes, and the local tag removed again; with buildx the build runs again with
``--cache-to`` (all hits on the builder's cache) so the whole graph is exported. A failed
write is a warning: the image passed its gates, only the next run will be slower.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence

import docker
from docker.errors import APIError

from pipeline.build.buildkit import buildkit_build
from pipeline.build.cache import (
    GHA,
    CacheExport,
    CachePlan,
    RegistryLogin,
    docker_config_with,
    read_flags,
    registry_host,
    write_flags,
)
from pipeline.build.settings import CacheConfig
from pipeline.errors import PipelineError
from pipeline.push.registries.base import Target, TargetConfig
from pipeline.push.registries.kinds import resolve_target, target_credentials
from pipeline.push.registry_server import embedded_registry
from pipeline.push.stream import read_push_stream
from pipeline.result import Log

CACHE_TAG = "buildcache"
PULL_REQUEST_EVENTS = ("pull_request", "pull_request_target")


def cache_plan(
    cache: CacheConfig,
    registries: Sequence[TargetConfig],
    image: str,
    environ: Mapping[str, str],
    log: Log,
) -> CachePlan | None:
    """This run's cache: refs to read, the ref to write (none for a pull request), logins."""
    if not cache.enabled:
        return None
    targets: list[Target] = []
    if cache.default == GHA:
        sources: tuple[str, ...] = (GHA,)
        destination: str | None = GHA
    elif cache.default == "registry":
        if not registries:
            raise PipelineError("build.cache is registry, but no push target is configured")
        targets = [resolve_target(registries[0], image, environ)]
        destination = f"{targets[0].push_repository}:{CACHE_TAG}"
        sources = (destination,)
    else:
        sources, destination = cache.sources, cache.destination
        targets = _running_targets(registries, image, environ)
    if environ.get("GITHUB_EVENT_NAME") in PULL_REQUEST_EVENTS:
        log("cache: a pull request reads the cache anonymously and never writes it")
        return CachePlan(sources, None)
    refs = [r for r in (*sources, destination) if r and r != GHA]
    return CachePlan(sources, destination, _logins(refs, targets, environ, log))


def _running_targets(
    registries: Sequence[TargetConfig], image: str, environ: Mapping[str, str]
) -> list[Target]:
    """The targets an explicit ref may be on, to find its login — without starting the
    embedded registry for that (a ``local`` target counts only while it runs)."""
    return [
        resolve_target(config, image, environ)
        for config in registries
        if config.kind != "local" or embedded_registry() is not None
    ]


def _logins(
    refs: list[str], targets: list[Target], environ: Mapping[str, str], log: Log
) -> tuple[RegistryLogin, ...]:
    """The push target's credentials for each registry host the cache refs name."""
    logins = []
    for host in dict.fromkeys(registry_host(ref) for ref in refs):
        target = next((t for t in targets if host in (t.endpoint, t.registry)), None)
        if target is None:
            continue  # no target there: the CLI's own docker config answers
        try:
            credentials = target_credentials(target, environ)
        except PipelineError as exc:
            log(f"cache: no credentials for {host} ({exc.message}): anonymous")
            continue
        if credentials is not None:
            logins.append(RegistryLogin(host, credentials.username, credentials.password))
    return tuple(logins)


def write_cache(
    client: docker.DockerClient,
    export: CacheExport,
    plan: CachePlan,
    environ: Mapping[str, str],
    log: Log,
) -> str:
    """Write the cache (the gates passed); a line saying what happened, never an error."""
    try:
        if export.inline:
            _push_inline(client, export, plan, log)
        else:
            flags = [*read_flags(export.cli, plan), *write_flags(export.destination, plan.scope)]
            with docker_config_with(plan.logins, environ) as config:
                buildkit_build(export.cli, export.build, export.args, flags, environ,
                               lambda _: None, config, export.platform)  # fmt: skip
    except PipelineError as exc:
        line = f"cache: not written to {export.destination}: {exc}"
    else:
        line = f"cache: written to {export.destination}"
    log(line)
    return line


def _push_inline(
    client: docker.DockerClient, export: CacheExport, plan: CachePlan, log: Log
) -> None:
    """The Dockerfile's own image, whose config holds the inline cache, pushed as the ref."""
    repository, tag = export.destination.rsplit(":", 1)
    login = next((x for x in plan.logins if x.host == registry_host(repository)), None)
    auth = {"username": login.username, "password": login.password} if login else None
    client.api.tag(export.content_id, repository, tag)
    try:
        stream = client.api.push(repository, tag, auth_config=auth, stream=True, decode=True)
        read_push_stream("cache", stream, log)
    except APIError as exc:
        raise PipelineError(str(exc.explanation or exc)) from None
    finally:
        with contextlib.suppress(APIError):  # only the tag: the image is the build's
            client.api.remove_image(export.destination, noprune=True)
