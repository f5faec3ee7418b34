"""What the deploy modules check of a run, and the report `invoke push` would have left them."""

from __future__ import annotations

import re
import secrets
import subprocess
from pathlib import Path

from pipeline.push.target import PushResult
from pipeline.report import RunReport, write_report


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The run's one ``hoist: error:`` line; no traceback."""
    errors = [line for line in result.stderr.splitlines() if line.startswith("hoist: error:")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return errors[0]


def reported(pattern: str, output: str) -> float:
    """The number ``pattern``'s first group finds in ``output`` (a figure hoist printed)."""
    match = re.search(pattern, output)
    assert match, f"{pattern!r} not in output"
    return float(match[1])


def write_push_report(
    config: Path, state_dir: str, image: str, revision: str, push: PushResult
) -> RunReport:
    """What `invoke push` leaves behind: the run report naming the pushed digest."""
    report = RunReport(
        run_id=f"20260101000000-{secrets.token_hex(3)}",
        config=str(config),
        image=image,
        started="2026-01-01T00:00:00+00:00",
        labels={"org.opencontainers.image.revision": revision},
        pushes=[push],
    )
    write_report(report, Path(state_dir) / "reports")
    return report
