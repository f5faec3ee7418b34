"""Stage output and results in flow order, though lint runs beside build and smoke.

Lint runs in a thread of its own while this thread builds and smoke-tests the image, and each
stage still reads as it did when they ran one after the other: its ``==> stage`` header, its
lines and its result in the report come once every stage that started before it has ended;
until then its lines wait here. When a stage fails, the stages after it are dropped — what
they printed is never shown, their results are not recorded — and their next line raises
``Cancelled``: a stage stops at its next line through the cleanup it runs on SIGTERM (the
build removes its step container, smoke its containers). So a stage logs in its normal flow
only, never from a cleanup.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from pipeline.errors import EXIT_FAILURE, Interrupted
from pipeline.report import RunReport
from pipeline.result import Log, StageResult


class Cancelled(Interrupted):
    """A stage stopped because one before it failed beside it; the run fails with that one's
    error. An ``Interrupted``, so every stage cleans up as it does on a signal."""

    def __init__(self, failed: str) -> None:
        super().__init__(f"the failure of {failed}", EXIT_FAILURE)
        self.failed = failed


@dataclass(eq=False)
class _Entry:
    stage: str
    waiting: list[str] = field(default_factory=list)  # lines not shown yet
    result: StageResult | None = None
    shown: bool = False
    recorded: bool = False
    then: list[Callable[[], None]] = field(default_factory=list)  # once recorded


class StageOrder:
    """The run's stages as they are shown and recorded: in the order they started."""

    def __init__(self, report: RunReport, say: Log, on_stage: Callable[[str], None]) -> None:
        self.report, self.say, self.on_stage = report, say, on_stage
        self._lock = threading.Lock()
        self._entries: list[_Entry] = []
        self._failed: str | None = None

    def start(self, stage: str) -> Log:
        """Begin ``stage``; returns its log. After a failure no stage begins: ``Cancelled``."""
        with self._lock:
            if self._failed is not None:
                raise Cancelled(self._failed)
            entry = _Entry(stage)
            self._entries.append(entry)
            self._show()
        return lambda line: self._line(entry, line)

    def line(self, text: str) -> None:
        """A line of the run between stages: shown after the last started stage's lines."""
        with self._lock:
            entry = self._entries[-1] if self._entries else None
        if entry is None:
            self.say(text)
        else:
            self._line(entry, text)

    def end(self, result: StageResult) -> None:
        """The stage passed (or was skipped); ignored for a stage that has ended already."""
        with self._lock:
            entry = self._open(result.stage)
            if entry is not None:
                entry.result = result
                self._show()

    def fail(self, result: StageResult) -> None:
        """The stage failed (or was interrupted): the run ends with it, the stages that
        started after it are dropped. Ignored for a stage that has ended already."""
        with self._lock:
            entry = self._open(result.stage)
            if entry is None:
                return
            entry.result = result
            del self._entries[self._entries.index(entry) + 1 :]
            self._failed = result.stage
            self._show()

    def when_recorded(self, stage: str, then: Callable[[], None]) -> None:
        """Run ``then`` when ``stage``'s result goes into the report (at once if it has): what
        a stage adds to the report (the image id, the tags) arrives with its result, in flow
        order, and not at all when the stage is dropped."""
        with self._lock:
            entry = next((e for e in reversed(self._entries) if e.stage == stage), None)
            if entry is None:
                return
            if entry.recorded:
                then()
            else:
                entry.then.append(then)

    def _open(self, stage: str) -> _Entry | None:
        return next((e for e in self._entries if e.stage == stage and e.result is None), None)

    def _line(self, entry: _Entry, text: str) -> None:
        with self._lock:
            if entry not in self._entries:
                assert self._failed is not None
                raise Cancelled(self._failed)
            if entry.stage == self._failed:
                return  # what a stage says after its failure would come after its verdict
            if entry.shown:
                self.say(text)
            else:
                entry.waiting.append(text)

    def _show(self) -> None:
        """Show and record, in order, every stage whose predecessors have all ended."""
        for entry in self._entries:
            if not entry.shown:
                self.on_stage(entry.stage)
                for text in entry.waiting:
                    self.say(text)
                entry.waiting.clear()
                entry.shown = True
            if entry.result is None:
                return
            if not entry.recorded:
                self.report.stages.append(entry.result)
                entry.recorded = True
                for then in entry.then:
                    then()
