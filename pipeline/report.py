"""The run report: what each stage did and what went where, as a table, JSON and Markdown.

One ``RunReport`` is filled by the runner and rendered three ways: a plain table at the end of
every run (stage, result, seconds; reference and digest per target), a JSON file whose path is
printed (for scripts, the benchmark and ``deploy``, which reads the pushed digest from it), and
Markdown for the GitHub job summary. It holds no secrets: only names, digests and messages
that already went to the terminal.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

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


def load_report(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def human_size(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in
              enumerate(headers)]  # fmt: skip
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return [row.rstrip() for row in out]


def _push_rows(report: RunReport) -> list[list[str]]:
    return [
        [
            p.target,
            ", ".join(p.references) if p.ok else p.repository,
            p.digest or "-",
            str(p.attempts),
            f"{p.seconds:.1f}",
            "pushed" if p.ok else f"FAILED: {p.error}",
        ]
        for p in report.pushes
    ]


def render_summary(report: RunReport) -> str:
    """The plain-text table printed at the end of every run."""
    lines = [f"hoist run {report.run_id}: {report.image} {report.version}".rstrip()]
    lines += _table(
        ["stage", "result", "seconds", "summary"],
        [[s.stage, s.status.value, f"{s.seconds:.1f}", s.summary] for s in report.stages],
    )
    if report.image_id:
        lines.append(
            f"image {report.image_id[:19]}  size {human_size(report.size)}"
            f"  own layers {human_size(report.own_size)}  base {report.base_image or '-'}"
        )
    if report.pushes:
        lines.append("")
        lines += _table(
            ["target", "references", "digest", "attempts", "seconds", "result"],
            _push_rows(report),
        )
    for gate in report.skipped_gates:
        lines.append(f"WARNING: gate skipped by request: {gate}")
    lines.append(f"result: {'OK' if report.ok else 'FAILED'}")
    return "\n".join(lines)


def render_markdown(report: RunReport) -> str:
    """The same summary as GitHub-flavoured Markdown (for $GITHUB_STEP_SUMMARY)."""
    icon = {Status.PASSED: "✅", Status.FAILED: "❌", Status.SKIPPED: "⏭️",
            Status.INTERRUPTED: "⛔"}  # fmt: skip
    lines = [f"### hoist: {report.image} {report.version}".rstrip(), ""]
    lines += ["| stage | result | seconds | summary |", "| --- | --- | ---: | --- |"]
    lines += [
        f"| {s.stage} | {icon[s.status]} {s.status.value} | {s.seconds:.1f} | {s.summary} |"
        for s in report.stages
    ]
    if report.pushes:
        lines += ["", "| target | references | digest | attempts | seconds | result |",
                  "| --- | --- | --- | ---: | ---: | --- |"]  # fmt: skip
        lines += [
            "| " + " | ".join(f"`{c}`" if i in (1, 2) and c != "-" else c for i, c in
                              enumerate(row)) + " |"
            for row in _push_rows(report)
        ]  # fmt: skip
    lines.append("")
    return "\n".join(lines)
