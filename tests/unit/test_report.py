"""The end-of-run summary: stages with result and seconds, then what went where."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.output.summary import render_markdown, render_summary
from pipeline.push.target import PushResult
from pipeline.report import RunReport, read_report, write_report
from pipeline.result import StageResult, Status, VerifiedBy
from pipeline.units import human_size

DIGEST = "sha256:" + "cd" * 32


def sample(push_error: str | None = None) -> RunReport:
    report = RunReport(run_id="r1", config="pipeline.yaml", image="node-app", started="now")
    report.version = "main"
    report.tags = ["main", "sha-abc1234"]
    report.image_id = "sha256:" + "12" * 32
    report.size, report.own_size = 218_132_751, 37_734
    report.stages = [
        StageResult("lint", Status.PASSED, 1.23, "hadolint: 0 finding(s)"),
        StageResult("build", Status.PASSED, 4.5, "built"),
        StageResult("smoke", Status.PASSED, 0.8, "ready"),
        StageResult("push", Status.FAILED if push_error else Status.PASSED, 2.0, "pushed"),
    ]
    report.pushes = [
        PushResult("local", "127.0.0.1:5000/node-app", ["127.0.0.1:5000/node-app:main"],
                   DIGEST, 1, 1.5),
        PushResult("ghcr", "ghcr.io/acme/node-app", [], None, 4, 9.0, push_error),
    ]  # fmt: skip
    return report


def test_summary_lists_stages_and_targets() -> None:
    text = render_summary(sample())
    lines = text.splitlines()
    assert lines[0] == "hoist run r1: node-app main"
    assert any(line.split()[:3] == ["lint", "passed", "1.2"] for line in lines)
    assert any(line.startswith("push") and "passed" in line for line in lines)
    assert "size 218.1 MB  own layers 37.7 KB" in text
    assert any("127.0.0.1:5000/node-app:main" in line and DIGEST in line for line in lines)
    assert lines[-1] == "result: OK"


def test_failed_target_is_shown_with_its_error_and_attempts() -> None:
    report = sample(push_error="ghcr: unauthorized")
    text = render_summary(report)
    row = next(line for line in text.splitlines() if line.startswith("ghcr"))
    assert "FAILED: ghcr: unauthorized" in row and " 4 " in row
    assert text.splitlines()[-1] == "result: FAILED"
    assert not report.ok


def test_markdown_table_for_the_job_summary() -> None:
    markdown = render_markdown(sample())
    assert "| lint | ✅ passed | 1.2 | hadolint: 0 finding(s) |" in markdown
    assert f"`{DIGEST}`" in markdown


def test_report_json_and_last_pointer(tmp_path: Path) -> None:
    path = write_report(sample(), tmp_path)
    data = json.loads(path.read_text())
    assert data["ok"] is True
    assert data["stages"][0] == {
        "stage": "lint", "status": "passed", "seconds": 1.23, "summary": "hadolint: 0 finding(s)",
        "cached": None,
    }  # fmt: skip
    assert data["pushes"][0]["digest"] == DIGEST
    assert json.loads((tmp_path / "last.json").read_text()) == data


def test_a_cached_stage_says_so_and_names_the_run_that_verified_it(tmp_path: Path) -> None:
    report = sample()
    verified = VerifiedBy("20261201120000-abcdef", "2026-12-01T12:00:00+00:00")
    report.stages[2] = StageResult("smoke", Status.PASSED, 0.01, "ready in 0.61 s", verified)

    data = json.loads(write_report(report, tmp_path).read_text())

    assert data["stages"][2]["cached"] == {
        "run_id": "20261201120000-abcdef", "at": "2026-12-01T12:00:00+00:00"
    }  # fmt: skip
    assert read_report(tmp_path / "last.json").stages[2] == report.stages[2]  # type: ignore[union-attr]
    assert any(line.split()[:3] == ["smoke", "cached", "0.0"] for line in
               render_summary(report).splitlines())  # fmt: skip
    assert "| smoke | ✅ cached | 0.0 | ready in 0.61 s |" in render_markdown(report)


def test_human_size() -> None:
    assert [human_size(n) for n in (None, 999, 37_734, 218_132_751)] == [
        "-", "999 B", "37.7 KB", "218.1 MB"
    ]  # fmt: skip
