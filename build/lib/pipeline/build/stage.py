"""The build stage: the image built from ``build.context`` with its labels and every tag.

The classic builder (``build.classic``) does the work; this module decides the base image
(``build.base_image``: the configured one, or the offline stand-in), refuses bad input before
anything is built (``build.context``, ``build.labels``) and returns a plain ``BuildResult``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import docker

from pipeline.build.base_image import BaseImage, resolve_base
from pipeline.build.classic import apply_labels, run_build
from pipeline.build.context import check_context
from pipeline.build.labels import check_labels
from pipeline.build.settings import BuildConfig
from pipeline.result import Log


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


def build_image(
    client: docker.DockerClient,
    build: BuildConfig,
    references: list[str],
    labels: dict[str, str],
    log: Log,
) -> BuildResult:
    """Build ``build.context`` and tag it with every reference in ``references``."""
    check_labels(labels)
    check_context(build.context, build.dockerfile)
    base = resolve_base(
        client, build.dockerfile, build.base_arg, build.args.get(build.base_arg), log
    )
    args = dict(build.args)
    if base.used:
        args[build.base_arg] = base.used
    stream = client.api.build(
        path=str(build.context),
        dockerfile=str(build.dockerfile.relative_to(build.context)),
        buildargs=args,
        target=build.target,
        rm=True,
        forcerm=True,
        decode=True,
    )
    content, steps, cached = run_build(client, stream, log)
    image_id, labels = apply_labels(client, content, labels, references[0], log)
    for reference in references:
        repository, tag = reference.rsplit(":", 1)
        client.api.tag(image_id, repository, tag)
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
    )


def _image_size(client: docker.DockerClient, name: str) -> int:
    return int(client.images.get(name).attrs.get("Size", 0))
