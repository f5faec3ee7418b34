"""Where verdicts are kept: one JSON file per stage and key, ``<state dir>/verdicts/<stage>/``.

Files, not a database: runs on one machine (and a GitHub Actions job, whose state dir is
inside its workspace) share them with no server and no network, each is written whole
(``atomic.replace_text``) so a run reading while another writes sees the old verdict or the
new one, and a file that cannot be read is simply no verdict. The newest ``KEEP`` per stage
stay (a verdict that is reused counts as new), so the directory does not grow with every
commit ever built.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipeline.atomic import replace_text
from pipeline.result import VerifiedBy

KEEP = 50


@dataclass(frozen=True)
class Kept:
    """A kept verdict: who verified it, and what the stage found (``verdicts.records``)."""

    verified: VerifiedBy
    record: dict[str, Any]


class VerdictStore:
    """The verdicts of one run's state dir; ``reuse=False`` (``--no-cache``) finds none, but
    the verdicts of this run are still kept."""

    def __init__(self, directory: Path, run_id: str, reuse: bool = True) -> None:
        self.directory, self.run_id, self.reuse = directory, run_id, reuse

    def find(self, stage: str, key: str) -> Kept | None:
        if not self.reuse:
            return None
        path = self._path(stage, key)
        try:
            data = json.loads(path.read_text())
            if data["stage"] != stage or data["key"] != key:
                return None
            kept = Kept(VerifiedBy(str(data["run_id"]), str(data["at"])), dict(data["record"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        with contextlib.suppress(OSError):  # reused: the newest, for pruning
            os.utime(path)
        return kept

    def keep(self, stage: str, key: str, record: dict[str, Any]) -> VerifiedBy:
        """Keep this run's passing verdict; an ``OSError`` (no space, read-only) is raised."""
        verified = VerifiedBy(self.run_id, datetime.now(timezone.utc).isoformat(timespec="seconds"))
        entry = {"stage": stage, "key": key, "run_id": verified.run_id, "at": verified.at,
                 "record": record}  # fmt: skip
        path = self._path(stage, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_text(path, json.dumps(entry))
        self._prune(path.parent)
        return verified

    def _path(self, stage: str, key: str) -> Path:
        return self.directory / stage / f"{key}.json"

    def _prune(self, folder: Path) -> None:
        def age(path: Path) -> float:
            try:
                return -path.stat().st_mtime
            except OSError:  # removed meanwhile by another run's pruning
                return 0.0

        for stale in sorted(folder.glob("*.json"), key=age)[KEEP:]:
            stale.unlink(missing_ok=True)
