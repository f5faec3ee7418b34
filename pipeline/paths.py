"""Where hoist keeps its state: the embedded registry, run reports, caches and locks."""

from __future__ import annotations

import os
from pathlib import Path


def state_dir() -> Path:
    """Where hoist keeps run state: ``$HOIST_STATE_DIR`` or ``.hoist/`` in the checkout."""
    configured = os.environ.get("HOIST_STATE_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parents[1] / ".hoist"
