"""The run report: what each stage did and what went where, kept as JSON.

One ``RunReport`` is filled by the runner, written as a JSON file whose path is printed (for
scripts, the benchmark and ``deploy``, which reads the pushed digest back from it) and rendered
for people by ``pipeline.output.summary``. It holds no secrets: only names, digests and
messages that already went to the terminal.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from pipeline.atomic import replace_text
from pipeline.attest.stage import AttestResult
from pipeline.errors import PipelineError
from pipeline.push.target import PushResult
from pipeline.result import StageResult, Status, VerifiedBy


@dataclass
class PlatformRecord:
    """One platform of ``build.platforms``: its image, its smoke verdict and, once pushed,
    its manifest digest (what ``merge`` checks a matrix job's digest against)."""

    platform: str
    image_id: str = ""
    build: str = ""
    smoke: str = "not run"  # "passed", or why not
    digest: str | None = None

    @property
    def passed(self) -> bool:
        return self.smoke == "passed"


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
    platforms: list[PlatformRecord] = field(default_factory=list)
    by_digest: bool = False  # pushed by digest only, nothing tagged (a matrix job's half)
    seconds: float | None = None  # the run's wall time, stages side by side counted once

    @property
    def ok(self) -> bool:
        return (
            self.error is None
            and all(s.status is not Status.FAILED for s in self.stages)
            and (all(p.ok for p in self.pushes))
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunReport:
        """A report read back (``deploy`` takes the pushed digest from it); unknown keys — a
        newer hoist's — are ignored, so an older deploy still reads a newer report."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["stages"] = [
            StageResult(
                s["stage"],
                Status(s["status"]),
                s.get("seconds", 0.0),
                s.get("summary", ""),
                VerifiedBy(**s["cached"]) if s.get("cached") else None,
            )
            for s in data.get("stages", [])
        ]
        push_fields = {f.name for f in fields(PushResult)}
        values["pushes"] = [
            PushResult(**{k: v for k, v in p.items() if k in push_fields})
            for p in data.get("pushes", [])
        ]
        values["platforms"] = [PlatformRecord(**p) for p in data.get("platforms", [])]
        return cls(**values)

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
    replace_text(path, text)
    replace_text(directory / "last.json", text)
    return path


def read_report(path: Path) -> RunReport | None:
    """The report at ``path``, or None when there is none; an unreadable one is an error."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise PipelineError(f"cannot read the run report {path}: {exc}") from None
    try:
        return RunReport.from_dict(data)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise PipelineError(f"cannot read the run report {path}: {exc!r}") from None
