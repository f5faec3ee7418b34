"""Files replaced whole: written aside, then renamed over the old one.

Why: runs finishing at once, or a reader (``deploy`` reading ``last.json``, a run looking up a
kept verdict) while another run writes, must never see a half-written file; a rename within
one directory is atomic on POSIX, so a reader sees the old file or the new one.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path


def replace_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` in one step (the aside file is removed on any failure)."""
    aside = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        aside.write_text(text)
        os.replace(aside, path)
    finally:
        aside.unlink(missing_ok=True)
