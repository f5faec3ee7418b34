"""The keys of kept verdicts: a digest of everything a stage's verdict depends on.

What each stage reads is listed next to the stage (``lint.inputs``, ``smoke.inputs``); this
module adds the section and hoist's own code — the checks that gave the verdict — so a key
changes when any of them does, and only then.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path

from pipeline.digests import of_bytes, of_value
from pipeline.lint.settings import LintConfig

PACKAGE = Path(__file__).resolve().parents[1]


@functools.cache
def hoist_identity() -> str:
    """hoist's own code: a digest of every module of ``pipeline/``, which changes with each
    release and with each local edit (a version number would miss the second)."""
    parts = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts += [str(path.relative_to(PACKAGE)).encode(), of_bytes(path.read_bytes()).encode()]
    return of_bytes(b"\0".join(parts))


def lint_key(settings: LintConfig, inputs: Mapping[str, str], hoist: str) -> str:
    """lint: the section (linters, threshold), what they read (``lint.inputs``), hoist."""
    return of_value({"stage": "lint", "section": settings, "inputs": dict(inputs), "hoist": hoist})


def smoke_key(image_id: str, inputs: Mapping[str, str], hoist: str) -> str:
    """smoke: the image's id (its content), the section and host inputs, hoist."""
    return of_value({"stage": "smoke", "image": image_id, "inputs": dict(inputs), "hoist": hoist})
