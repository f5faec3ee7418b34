"""The run report for people: the plain table at the end of every run, and the same as
GitHub-flavoured Markdown for the job summary."""

from __future__ import annotations

from pipeline.report import RunReport
from pipeline.result import StageResult, Status
from pipeline.units import human_size


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


def _platform_rows(report: RunReport) -> list[list[str]]:
    """One row per platform of build.platforms: its image, its own smoke verdict, its digest."""
    return [[p.platform, p.build or "-", p.smoke, p.digest or "-"] for p in report.platforms]


def _result(stage: StageResult) -> str:
    """A stage's result word: ``cached`` for a pass kept from an earlier run."""
    return "cached" if stage.cached else stage.status.value


def render_summary(report: RunReport) -> str:
    """The plain-text table printed at the end of every run."""
    lines = [f"hoist run {report.run_id}: {report.image} {report.version}".rstrip()]
    lines += _table(
        ["stage", "result", "seconds", "summary"],
        [[s.stage, _result(s), f"{s.seconds:.1f}", s.summary] for s in report.stages],
    )
    if report.image_id:
        lines.append(
            f"image {report.image_id[:19]}  size {human_size(report.size)}"
            f"  own layers {human_size(report.own_size)}  base {report.base_image or '-'}"
        )
    if report.platforms:
        lines.append("")
        lines += _table(["platform", "image", "smoke", "digest"], _platform_rows(report))
    if report.pushes:
        lines.append("")
        lines += _table(
            ["target", "references", "digest", "attempts", "seconds", "result"],
            _push_rows(report),
        )
    if report.by_digest:
        lines.append("pushed by digest only: nothing tagged (put the index with `invoke merge`)")
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
        f"| {s.stage} | {icon[s.status]} {_result(s)} | {s.seconds:.1f} | {s.summary} |"
        for s in report.stages
    ]
    if report.platforms:
        lines += ["", "| platform | image | smoke | digest |", "| --- | --- | --- | --- |"]
        lines += ["| " + " | ".join(row) + " |" for row in _platform_rows(report)]
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
