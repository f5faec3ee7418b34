"""The bridge from pipeline.yaml and the repository to tags and labels for one run.

``pipeline.tags`` knows metadata-action's rules and ``pipeline.git`` the context; this module
only feeds them the project's configuration, so ``build`` and ``invoke tags`` compute exactly
the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from pipeline.config import PipelineConfig
from pipeline.errors import ConfigError
from pipeline.git import Context, NotARepository, resolve_context
from pipeline.tags import Metadata, RepoInfo, compute_metadata, parse_images

DIRTY_LABEL = "io.hoist.dirty"
NO_GIT_RULE = "type=raw,value=latest"


def image_metadata(
    config: PipelineConfig,
    environ: Mapping[str, str],
    *,
    rules: Sequence[str] | None = None,
    flavor: Sequence[str] | None = None,
) -> Metadata:
    """Tags and labels for this repository state; ``rules``/``flavor`` replace the config's.

    Outside a git repository there is nothing for git-based rules to read, so the image is
    tagged ``latest`` alone; ``Metadata.warnings`` says so.
    """
    meta = config.metadata
    warnings: list[str] = []
    try:
        context = resolve_context(config.root, environ)
    except NotARepository as exc:
        # Like `docker build -t name .` outside git: no git facts, the image is `latest`.
        context = Context(event_name="push", ref="", sha="", source="none")
        rules = [NO_GIT_RULE]
        warnings.append(f"{exc.message}: tagged latest only")
    repo = RepoInfo(
        name=meta.title or "",
        description=meta.description or "",
        url=meta.url or "",
        source=meta.source or "",
        licenses=meta.licenses or "",
    )
    labels = dict(meta.labels)
    if context.dirty:
        # The revision label names a commit the image does not exactly come from: say so.
        labels.setdefault(DIRTY_LABEL, "true")
    computed = compute_metadata(
        context,
        meta.tags if rules is None else rules,
        meta.flavor if flavor is None else flavor,
        repo,
        labels,
        short_sha_length=_short_sha_length(environ),
    )
    return replace(computed, warnings=[*warnings, *computed.warnings])


def _short_sha_length(environ: Mapping[str, str]) -> int:
    """metadata-action's ``DOCKER_METADATA_SHORT_SHA_LENGTH`` (default 7)."""
    value = environ.get("DOCKER_METADATA_SHORT_SHA_LENGTH", "7")
    if not value.isdigit() or not 1 <= int(value) <= 40:
        raise ConfigError(
            "DOCKER_METADATA_SHORT_SHA_LENGTH", None, f"{value!r} is not a number from 1 to 40"
        )
    return int(value)


def image_names(
    config: PipelineConfig, environ: Mapping[str, str], given: Sequence[str] = ()
) -> list[str]:
    """The names an image goes by: the local name, then every remote target's repository.

    ``given`` (``invoke tags --image``) replaces them: metadata-action's ``images`` lines,
    where ``enable=false`` leaves an image out — all of them out means bare tags, as there.
    The embedded registry is left out: its references are the local name on a loopback
    address that only exists while it runs.
    """
    from pipeline.registries import resolve_target

    if given:
        return [image.name for image in parse_images(given, "--image") if image.enable]
    names = [config.image]
    for target in config.registries:
        if target.kind != "local":
            names.append(resolve_target(target, config.image, environ).repository)
    return names
