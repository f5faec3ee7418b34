"""How a run looks on a terminal: ``==> stage`` headers, progress lines, the summary table.

Every line goes through ``pipeline.secrets.redact``; ``GitHubOutput`` (``output.github``)
builds on this for GitHub Actions.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from pipeline.lint.findings import Finding
from pipeline.output.summary import render_summary
from pipeline.report import RunReport
from pipeline.secrets import redact, write_line


class LocalOutput:
    """Plain, readable output for a terminal."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._open = False

    @property
    def stream(self) -> TextIO:
        """stdout as it is when writing (pytest's capsys swaps it after we were made)."""
        return self._stream or sys.stdout

    def write_line(self, line: str) -> None:
        """One whole line at once (see ``pipeline.secrets``: a line is never split)."""
        write_line(self.stream, line)

    def say(self, line: str) -> None:
        """A progress line, with any known secret replaced by ``***``."""
        self.write_line(redact(line))

    def stage(self, name: str) -> None:
        self.say(f"==> {name}")

    def end_stage(self) -> None:
        pass

    def mask(self, secret: str) -> None:
        """Nothing to tell a terminal: ``say`` already redacts every registered secret."""

    def findings(self, findings: Iterable[Finding], root: Path, threshold: str) -> None:
        """Locally the lint stage already printed each finding as ``file:line: ...``."""

    def summary(self, report: RunReport, path: Path) -> None:
        self.say("")
        for line in render_summary(report).splitlines():
            self.say(line)
        self.say(f"report: {path}")
