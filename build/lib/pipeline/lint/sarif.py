"""Lint findings as SARIF 2.1.0, the format GitHub code scanning (upload-sarif) ingests.

One ``run`` per tool that ran — code scanning groups alerts by tool, and a tool with zero
results still says "this was checked" — with the rules seen in that run and one ``result`` per
finding. Paths are relative to the repository root (``%SRCROOT%``) so alerts land on the right
file in a pull request, and lines are at least 1 (SARIF regions start at 1; some tools report 0
for "the whole file").
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from pipeline.lint.findings import Finding

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"error": "error", "warning": "warning", "info": "note", "style": "note"}
RULE_HELP = {
    "hadolint": "https://github.com/hadolint/hadolint/wiki/{rule}",
    "ruff": "https://docs.astral.sh/ruff/rules/{rule}/",
    "eslint": "https://eslint.org/docs/latest/rules/{rule}",
    "zizmor": "https://docs.zizmor.sh/audits/#{rule}",
}


def sarif_document(findings: list[Finding], tools: list[str]) -> dict[str, Any]:
    names = list(dict.fromkeys([*tools, *(f.tool for f in findings)]))
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [_run(tool, [f for f in findings if f.tool == tool]) for tool in names],
    }


def _run(tool: str, findings: list[Finding]) -> dict[str, Any]:
    rules = sorted({f.rule for f in findings})
    return {
        "tool": {"driver": {"name": tool, "rules": [_rule(tool, rule) for rule in rules]}},
        "originalUriBaseIds": {"%SRCROOT%": {"uri": "file:///"}},
        "results": [_result(f, rules.index(f.rule)) for f in findings],
    }


def _rule(tool: str, rule: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": rule}
    link = RULE_HELP.get(tool)
    if link and rule not in ("parse", "syntax"):
        entry["helpUri"] = link.format(rule=rule)
    return entry


def _result(finding: Finding, rule_index: int) -> dict[str, Any]:
    return {
        "ruleId": finding.rule,
        "ruleIndex": rule_index,
        "level": LEVELS.get(finding.level, "warning"),
        "message": {"text": finding.message or finding.rule},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": finding.file, "uriBaseId": "%SRCROOT%"},
                    "region": {"startLine": max(finding.line, 1)},
                }
            }
        ],
    }


def write_sarif(
    path: Path, findings: list[Finding], tools: list[str], root: Path, base: Path | None = None
) -> Path:
    """Write the document. Finding paths are relative to ``root`` (pipeline.yaml's directory);
    in the file they are relative to ``base`` (the repository), which ``%SRCROOT%`` names."""
    base = (base or root).absolute()
    if base != root.absolute():
        prefix = root.absolute().relative_to(base)
        findings = [replace(f, file=str(prefix / f.file)) for f in findings]
    document = sarif_document(findings, tools)
    for run in document["runs"]:
        run["originalUriBaseIds"]["%SRCROOT%"]["uri"] = base.as_uri() + "/"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path
