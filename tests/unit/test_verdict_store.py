"""Kept verdicts on disk: what a run keeps another finds (with the run that verified it),
``--no-cache`` finds nothing, a damaged file is no verdict, and the directory stays bounded.
What a stage found is kept whole: findings and check results read back as they were."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pipeline.lint.findings import Finding, LintResult
from pipeline.smoke.stage import SmokeResult
from pipeline.smoke.verdicts import CheckResult, Verdict
from pipeline.verdicts import store as store_module
from pipeline.verdicts.records import (
    lint_from_record,
    lint_record,
    smoke_from_record,
    smoke_record,
)
from pipeline.verdicts.store import VerdictStore

KEY = "a1" * 32


def test_a_kept_verdict_is_found_by_the_next_run_with_who_verified_it(tmp_path: Path) -> None:
    VerdictStore(tmp_path, "run-1").keep("lint", KEY, {"tools": ["hadolint"]})

    kept = VerdictStore(tmp_path, "run-2").find("lint", KEY)

    assert kept is not None
    assert kept.record == {"tools": ["hadolint"]}
    assert kept.verified.run_id == "run-1" and kept.verified.at.endswith("+00:00")
    assert VerdictStore(tmp_path, "run-2").find("lint", "b2" * 32) is None
    assert VerdictStore(tmp_path, "run-2").find("smoke", KEY) is None


def test_no_cache_finds_nothing_but_still_keeps(tmp_path: Path) -> None:
    VerdictStore(tmp_path, "run-1").keep("smoke", KEY, {"checks": []})
    forced = VerdictStore(tmp_path, "run-2", reuse=False)

    assert forced.find("smoke", KEY) is None
    forced.keep("smoke", KEY, {"checks": ["again"]})
    kept = VerdictStore(tmp_path, "run-3").find("smoke", KEY)
    assert kept is not None and kept.verified.run_id == "run-2"


def test_a_damaged_or_foreign_file_is_no_verdict(tmp_path: Path) -> None:
    store = VerdictStore(tmp_path, "run-1")
    store.keep("lint", KEY, {"tools": []})
    path = tmp_path / "lint" / f"{KEY}.json"
    for text in ("{not json", json.dumps({"stage": "lint", "key": "other"}), "[]", ""):
        path.write_text(text)
        assert store.find("lint", KEY) is None, text
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_the_newest_verdicts_stay_and_a_reused_one_counts_as_new(
    tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(store_module, "KEEP", 3)
    store = VerdictStore(tmp_path, "run-1")
    keys = [f"{n:064x}" for n in range(5)]
    for age, key in enumerate(keys):
        store.keep("lint", key, {})
        os.utime(tmp_path / "lint" / f"{key}.json", (1000 + age, 1000 + age))
    store.find("lint", keys[2])  # reused: now the newest of the first three

    store.keep("lint", "f" * 64, {})

    left = {p.stem for p in (tmp_path / "lint").glob("*.json")}
    assert left == {keys[2], keys[4], "f" * 64}


def test_lint_findings_read_back_as_they_were() -> None:
    result = LintResult(
        [Finding("hadolint", "app/Dockerfile", 3, "DL3007", "style", "Using latest")],
        ["hadolint", "eslint"],
        ["ruff (no paths)"],
    )
    assert lint_from_record(json.loads(json.dumps(lint_record(result)))) == result
    assert lint_from_record({"findings": [{"tool": "hadolint"}]}) is None


def test_smoke_checks_read_back_as_they_were() -> None:
    results = [
        CheckResult("service", "readiness", Verdict.PASSED, 0.61, "healthy after 0.6 s"),
        CheckResult("service", "graceful stop", Verdict.WARNING, 10.0, "ignored", "0", "137"),
    ]
    result = SmokeResult("http://127.0.0.1:4711", 0.61, ["1/2 checks passed"], results)
    assert smoke_from_record(json.loads(json.dumps(smoke_record(result)))) == result
    assert smoke_from_record({"results": [{"verdict": "maybe"}]}) is None
