"""Plain results shared by the stages and the report, after nox's ``Status`` + ``Result``.

Each stage returns its own detailed result; the runner wraps it in a ``StageResult`` with the
status, the seconds it took and a one-line summary, which is all the report needs. A stage
whose verdict was kept from an earlier run (``pipeline.verdicts``) passed without running:
its result says which run verified it, and when.
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
class VerifiedBy:
    """The run that verified a kept verdict, and when (ISO 8601, UTC)."""

    run_id: str
    at: str


@dataclass(frozen=True)
class StageResult:
    stage: str
    status: Status
    seconds: float
    summary: str = ""
    cached: VerifiedBy | None = None  # passed on an earlier run's verdict, not run again

    @property
    def ok(self) -> bool:
        return self.status is Status.PASSED


Log = Callable[[str], None]
"""Where a stage writes its progress lines; the task decides how they are shown."""


def new_run_id() -> str:
    """A run's id (pipeline runs and deploys alike): sortable by time, unique across machines."""
    return f"{datetime.now(timezone.utc):%Y%m%d%H%M%S}-{secrets.token_hex(3)}"
