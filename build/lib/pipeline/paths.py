"""Where hoist finds its project and keeps its state: the embedded registry, run reports,
caches and locks.

A project is the directory of its ``pipeline.yaml``, found in the current directory or above
it as git finds ``.git``; its state is ``.hoist/`` beside that file, so an installed ``hoist``
keeps each repository's state in that repository, never in its own install.
"""

from __future__ import annotations

import os
from pathlib import Path

CONFIG_FILE = "pipeline.yaml"

_project: Path | None = None  # the directory of the pipeline.yaml this process runs


def find_config(start: Path) -> Path | None:
    """The nearest ``pipeline.yaml`` in ``start`` or a directory above it, or None."""
    start = start.absolute()
    for directory in (start, *start.parents):
        candidate = directory / CONFIG_FILE
        if candidate.is_file():
            return candidate
    return None


def use_project(directory: Path | None) -> None:
    """Keep this process's state beside the pipeline.yaml a task runs (``directory`` is its
    folder; None forgets it). Set once the task has loaded the file, before any state is
    touched."""
    global _project
    _project = directory.absolute() if directory is not None else None


def state_dir() -> Path:
    """``$HOIST_STATE_DIR``, else ``.hoist/`` beside the pipeline.yaml this process runs: the
    one a task loaded, else the nearest from the current directory up (``registry.up`` loads
    none), else the current directory."""
    configured = os.environ.get("HOIST_STATE_DIR")
    if configured:
        return Path(configured)
    if _project is not None:
        return _project / ".hoist"
    found = find_config(Path.cwd())
    return (found.parent if found else Path.cwd()) / ".hoist"
