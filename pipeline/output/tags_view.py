"""What ``invoke tags`` prints: the version, every full reference and the OCI labels this
repository state gets, as lines or as JSON (for scripts)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from pipeline.project import PipelineConfig
from pipeline.push.names import image_names
from pipeline.tags.images import image_references
from pipeline.tags.metadata import image_metadata


def render_tags(
    config: PipelineConfig,
    environ: Mapping[str, str],
    images: Sequence[str] = (),
    rules: Sequence[str] = (),
    flavor: Sequence[str] = (),
    as_json: bool = False,
) -> str:
    """The tags view; ``images``/``rules``/``flavor`` replace the configured ones when given."""
    meta = image_metadata(
        config.metadata, config.root, environ, rules=list(rules) or None,
        flavor=list(flavor) or None,
    )  # fmt: skip
    references = image_references(
        image_names(config.image, config.registries, environ, tuple(images)), meta.tags
    )
    if as_json:
        payload = {"version": meta.version, "tags": references, "labels": meta.labels}
        return json.dumps(payload, indent=2)
    lines = [f"version: {meta.version or '(none)'}", "tags:"]
    lines += [f"  {reference}" for reference in references]
    lines += ["labels:", *(f"  {key}={value}" for key, value in meta.labels.items())]
    lines += [f"warning: {warning}" for warning in meta.warnings]
    return "\n".join(lines)
