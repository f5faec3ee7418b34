"""Plain results shared by the stages and the report, after nox's ``Status`` + ``Result``.

Each stage returns its own detailed result; the runner wraps it in a ``StageResult`` with the
status, the seconds it took and a one-line summary, which is all the report needs.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone


class Status(enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class StageResult:
    stage: str
    status: Status
    seconds: float
    summary: str = ""

    @property
    def ok(self) -> bool:
        return self.status is Status.PASSED


Log = Callable[[str], None]
"""Where a stage writes its progress lines; the task decides how they are shown."""


def new_run_id() -> str:
    """A run's id (pipeline runs and deploys alike): sortable by time, unique across machines."""
    return f"{datetime.now(timezone.utc):%Y%m%d%H%M%S}-{secrets.token_hex(3)}"
