"""The bridge from pipeline.yaml and the repository to tags and labels for one run.

``tags.evaluate`` knows metadata-action's rules and ``pipeline.context`` the repository
state; this module only feeds them the ``metadata`` section, so ``build`` and ``invoke tags``
compute exactly the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from pipeline.context.model import Context
from pipeline.context.resolve import resolve_context
from pipeline.errors import ConfigError, NotARepository
from pipeline.tags.evaluate import Metadata, compute_metadata
from pipeline.tags.oci_labels import RepoInfo
from pipeline.tags.settings import MetadataConfig

DIRTY_LABEL = "io.hoist.dirty"
NO_GIT_RULE = "type=raw,value=latest"


def image_metadata(
    meta: MetadataConfig,
    root: Path,
    environ: Mapping[str, str],
    *,
    rules: Sequence[str] | None = None,
    flavor: Sequence[str] | None = None,
) -> Metadata:
    """Tags and labels for the repository state at ``root`` (pipeline.yaml's directory);
    ``rules``/``flavor`` replace the section's.

    Outside a git repository there is nothing for git-based rules to read, so the image is
    tagged ``latest`` alone; ``Metadata.warnings`` says so.
    """
    warnings: list[str] = []
    try:
        context = resolve_context(root, environ)
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
