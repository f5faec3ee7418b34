"""The build stage: the image built from ``build.context`` with its labels and every tag.

BuildKit through a docker CLI (``build.buildkit``) or the SDK's classic builder
(``build.classic``) builds the Dockerfile's image, as ``build.backend`` decides; either way
the labels are added the same way afterwards, and the tags apart (``tag_image``), when the
runner says so. This module decides the base image
(``build.base_image``: the configured one, or the offline stand-in), refuses bad input before
anything is built (``build.context``, ``build.labels``) and returns a plain ``BuildResult``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import docker

from pipeline.build.backend import Backend, choose_backend
from pipeline.build.base_image import BaseImage, resolve_base
from pipeline.build.buildkit import buildkit_build
from pipeline.build.cache import CacheExport, CachePlan, docker_config_with, read_flags, usable_with
from pipeline.build.classic import apply_labels, run_build
from pipeline.build.context import check_context
from pipeline.build.labels import check_labels
from pipeline.build.platforms import Platform
from pipeline.build.settings import BuildConfig
from pipeline.errors import ConfigError
from pipeline.result import Log


@dataclass(frozen=True)
class PlatformBuild:
    """A build for one of ``build.platforms``: ``foreign`` is set when it is not the engine's
    own (then the base stand-in is that platform's)."""

    target: Platform
    foreign: Platform | None


@dataclass(frozen=True)
class BuildResult:
    image_id: str
    references: list[str]
    size: int
    own_size: int
    base: BaseImage
    labels: dict[str, str] = field(default_factory=dict)
    cached_steps: int = 0
    steps: int = 0
    backend: str = "classic"
    content_id: str = ""  # the Dockerfile's own image, before the label step
    cache_export: CacheExport | None = None  # how to write the cache once the gates passed


def build_image(
    client: docker.DockerClient,
    build: BuildConfig,
    references: list[str],
    labels: dict[str, str],
    log: Log,
    environ: Mapping[str, str] = os.environ,
    cache: CachePlan | None = None,
    backend: Backend | None = None,
    platform: PlatformBuild | None = None,
) -> BuildResult:
    """Build ``build.context`` for ``references`` (the first names the previous image, reused
    when unchanged); the tags are given by ``tag_image``, once the run's lint has passed. A
    ``cache`` plan's layers are read (written after the gates); ``backend`` is the run's (else
    ``build.backend``'s); ``platform`` is one of ``build.platforms`` (BuildKit only)."""
    check_labels(labels)
    check_context(build.context, build.dockerfile)
    backend, cache = _backend(build, environ, backend, platform, cache, log)
    base = resolve_base(
        client, build.dockerfile, build.base_arg, build.args.get(build.base_arg), log,
        platform.foreign if platform else None,
    )  # fmt: skip
    args = dict(build.args)
    if base.used:
        args[build.base_arg] = base.used
    target = platform.target if platform else None
    content, steps, cached = _build_content(
        client, backend, build, args, environ, log, cache, target
    )
    image_id, labels = apply_labels(client, content, labels, references[0], log)
    size = int(client.api.inspect_image(image_id).get("Size", 0))
    base_size = _image_size(client, base.used) if base.used else 0
    return BuildResult(
        image_id=image_id,
        references=references,
        size=size,
        own_size=max(size - base_size, 0),
        base=base,
        labels=labels,
        cached_steps=cached,
        steps=steps,
        backend=backend.name,
        content_id=content,
        cache_export=(
            CacheExport(cache.destination, content, backend.cli, build, args, target)
            if cache and cache.destination and backend.cli
            else None
        ),
    )


def _backend(
    build: BuildConfig,
    environ: Mapping[str, str],
    chosen: Backend | None,
    platform: PlatformBuild | None,
    cache: CachePlan | None,
    log: Log,
) -> tuple[Backend, CachePlan | None]:
    """The builder (the run's choice, else ``build.backend``'s), and the cache plan if that
    builder can use it."""
    backend = chosen or choose_backend(build, environ)
    log(f"building with {backend.describe()}" + (f" for {platform.target}" if platform else ""))
    if platform is not None and backend.cli is None:
        raise ConfigError("build.platforms", None, "needs BuildKit and no docker CLI here can "
                          "drive it", hint="install a 20.10-22.x docker CLI or buildx")  # fmt: skip
    if cache is not None and (unusable := usable_with(backend.cli, cache)):
        log(f"cache: {unusable}")
        cache = None
    return backend, cache


def _build_content(
    client: docker.DockerClient,
    backend: Backend,
    build: BuildConfig,
    args: dict[str, str],
    environ: Mapping[str, str],
    log: Log,
    cache: CachePlan | None,
    platform: Platform | None = None,
) -> tuple[str, int, int]:
    """The Dockerfile's own image (no labels, no tags) from the chosen builder."""
    if backend.cli is not None:
        if cache is None:
            return buildkit_build(backend.cli, build, args, (), environ, log, None, platform)
        log(f"cache: reading {', '.join(cache.sources)}")
        flags = read_flags(backend.cli, cache)
        with docker_config_with(cache.logins, environ) as config:
            return buildkit_build(backend.cli, build, args, flags, environ, log, config, platform)
    stream = client.api.build(
        path=str(build.context),
        dockerfile=str(build.dockerfile.relative_to(build.context)),
        buildargs=args,
        target=build.target,
        rm=True,
        forcerm=True,
        decode=True,
    )
    return run_build(client, stream, log)


def tag_image(client: docker.DockerClient, built: BuildResult) -> None:
    """Give the built image every reference: apart from the build, which runs beside lint, so
    a lint failure leaves no tagged image."""
    for reference in built.references:
        repository, tag = reference.rsplit(":", 1)
        client.api.tag(built.image_id, repository, tag)


def _image_size(client: docker.DockerClient, name: str) -> int:
    return int(client.images.get(name).attrs.get("Size", 0))
