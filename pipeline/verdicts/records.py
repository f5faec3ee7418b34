"""What a kept verdict holds besides its key: what the stage found, as plain JSON.

A reused lint verdict still prints its findings below the threshold, annotates them in
GitHub Actions and writes them as SARIF; a reused smoke verdict still summarises its checks
and can write them as JUnit. So the findings and the check results are kept, and read back
into the stage's own types. A record that does not read back (edited by hand, truncated) is
no verdict: ``None``, and the stage runs.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

from pipeline.lint.findings import Finding, LintResult
from pipeline.smoke.stage import SmokeResult
from pipeline.smoke.verdicts import CheckResult, Verdict

_FINDING = tuple(f.name for f in fields(Finding))
_CHECK = tuple(f.name for f in fields(CheckResult))
_UNREADABLE = (KeyError, TypeError, ValueError, AttributeError)


def lint_record(result: LintResult) -> dict[str, Any]:
    return {
        "findings": [asdict(f) for f in result.findings],
        "tools": list(result.tools),
        "skipped": list(result.skipped),
    }


def lint_from_record(record: dict[str, Any]) -> LintResult | None:
    try:
        findings = [Finding(**{k: item[k] for k in _FINDING}) for item in record["findings"]]
        return LintResult(findings, [str(t) for t in record["tools"]], list(record["skipped"]))
    except _UNREADABLE:
        return None


def smoke_record(result: SmokeResult) -> dict[str, Any]:
    return {
        "url": result.url,
        "seconds_to_ready": result.seconds_to_ready,
        "checks": list(result.checks),
        "results": [{**asdict(r), "verdict": r.verdict.value} for r in result.results],
    }


def smoke_from_record(record: dict[str, Any]) -> SmokeResult | None:
    try:
        results = [
            CheckResult(**{**{k: item[k] for k in _CHECK}, "verdict": Verdict(item["verdict"])})
            for item in record["results"]
        ]
        return SmokeResult(
            str(record["url"]),
            float(record["seconds_to_ready"]),
            [str(c) for c in record["checks"]],
            results,
        )
    except _UNREADABLE:
        return None
