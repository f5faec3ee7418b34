"""The run report: what each stage did and what went where, kept as JSON.

One ``RunReport`` is filled by the runner, written as a JSON file whose path is printed (for
scripts, the benchmark and ``deploy``, which reads the pushed digest back from it) and rendered
for people by ``pipeline.output.summary``. It holds no secrets: only names, digests and
messages that already went to the terminal.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pipeline.attest.stage import AttestResult
from pipeline.push.stage import PushResult
from pipeline.result import StageResult, Status


@dataclass
class RunReport:
    run_id: str
    config: str
    image: str
    started: str
    version: str = ""
    tags: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    stages: list[StageResult] = field(default_factory=list)
    image_id: str | None = None
    size: int | None = None
    own_size: int | None = None
    base_image: str | None = None
    pushes: list[PushResult] = field(default_factory=list)
    attestations: list[AttestResult] = field(default_factory=list)
    skipped_gates: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return (
            self.error is None
            and all(s.status is not Status.FAILED for s in self.stages)
            and (all(p.ok for p in self.pushes))
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        data["stages"] = [{**asdict(s), "status": s.status.value} for s in self.stages]
        return data


def write_report(report: RunReport, directory: Path) -> Path:
    """Write ``run-<id>.json`` and refresh ``last.json`` (what `deploy` reads by default).

    Each file is replaced whole (written aside, then renamed): runs finishing at once, or a
    ``deploy`` reading ``last.json`` while a run ends, never see a half-written file.
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"run-{report.run_id}.json"
    text = json.dumps(report.to_dict(), indent=2)
    _replace(path, text)
    _replace(directory / "last.json", text)
    return path


def _replace(path: Path, text: str) -> None:
    aside = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        aside.write_text(text)
        os.replace(aside, path)
    finally:
        aside.unlink(missing_ok=True)
