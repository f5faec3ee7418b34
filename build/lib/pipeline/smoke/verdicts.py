"""One verdict per smoke check — structure test, service check or policy — with its time and diff.

The smoke stage runs dozens of small checks of different kinds; they all end up as the same
``CheckResult`` so the stage output, the error message, the JUnit file and the report show them
the same way. A check is a function that raises ``CheckFailed`` (or ``CheckWarning``) with what
was expected and what came back; ``run_check`` times it and turns the outcome into a result, so
no check has to build results or measure time itself.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass

from pipeline.errors import Interrupted

MAX_SHOWN = 2000  # characters of "expected"/"got" kept in a result: enough to see, not a log dump


class Verdict(enum.Enum):
    PASSED = "pass"
    FAILED = "fail"
    WARNING = "warn"
    SKIPPED = "skip"


class CheckFailed(Exception):
    """Raised by a check: ``message`` is one line; ``expected``/``got`` become the diff."""

    def __init__(self, message: str, expected: str | None = None, got: str | None = None):
        super().__init__(message)
        self.message = message
        self.expected = expected
        self.got = got


class CheckWarning(CheckFailed):
    """Raised by a check whose problem should be seen but must not fail the stage."""


class CheckSkipped(CheckFailed):
    """Raised by a check that could not run (e.g. the service never became ready)."""


@dataclass(frozen=True)
class CheckResult:
    kind: str  # "structure", "service" or "policy"
    name: str
    verdict: Verdict
    seconds: float
    message: str = ""
    expected: str | None = None
    got: str | None = None

    @property
    def failed(self) -> bool:
        return self.verdict is Verdict.FAILED

    @property
    def title(self) -> str:
        return f"{self.kind}: {self.name}"

    def line(self) -> str:
        """The line printed for every check: verdict, kind, name, time, and why if not passed."""
        text = f"{self.verdict.value.upper():4}  {self.title}  ({self.seconds:.2f} s)"
        return f"{text}  {self.message}" if self.message else text

    @property
    def passed(self) -> bool:
        return self.verdict is Verdict.PASSED

    def diff(self) -> str:
        """Expected vs got, aligned; continuation lines of multi-line values are indented."""
        if self.expected is None and self.got is None:
            return ""

        def block(label: str, value: str | None) -> str:
            lines = (value if value is not None else "-").rstrip("\n").splitlines() or [""]
            return "\n".join([f"{label:>10}: {lines[0]}", *(" " * 12 + line for line in lines[1:])])

        return block("expected", self.expected) + "\n" + block("got", self.got)


def clip(text: str, limit: int = MAX_SHOWN) -> str:
    """Keep the end of long output: errors are usually printed last."""
    return text if len(text) <= limit else f"[... {len(text) - limit} chars] " + text[-limit:]


def run_check(kind: str, name: str, check: Callable[[], str | None]) -> CheckResult:
    """Run one check; it passes by returning (optionally a note), fails by raising."""
    started = time.monotonic()
    verdict, message, expected, got = Verdict.PASSED, "", None, None
    try:
        message = check() or ""
    except CheckFailed as exc:
        verdict = (
            Verdict.WARNING
            if isinstance(exc, CheckWarning)
            else Verdict.SKIPPED
            if isinstance(exc, CheckSkipped)
            else Verdict.FAILED
        )
        message = exc.message
        expected = None if exc.expected is None else clip(exc.expected)
        got = None if exc.got is None else clip(exc.got)
    except Interrupted:
        raise
    except Exception as exc:  # one broken check (an engine error, a bug) must not hide the rest
        verdict, message = Verdict.FAILED, f"error: {type(exc).__name__}: {exc}"
    return CheckResult(kind, name, verdict, time.monotonic() - started, message, expected, got)
