"""SARIF 2.1.0 from the findings list, line numbers for schema errors, workspace-relative paths."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.lint.findings import Finding, LintResult
from pipeline.lint.sarif import sarif_document
from pipeline.lint.stage import publish
from pipeline.lint.workflows import yaml_line

FINDINGS = [
    Finding("hadolint", "app/Dockerfile", 12, "DL3008", "warning", "Pin versions in apt get"),
    Finding("ruff", "tasks.py", 0, "syntax", "error", "unexpected indent"),
    Finding("hadolint", "app/Dockerfile", 3, "DL3007", "style", "Using latest"),
]


def test_one_run_per_tool_with_its_rules_and_results() -> None:
    document = sarif_document(FINDINGS, ["hadolint", "eslint", "ruff"])

    assert document["version"] == "2.1.0"
    runs = {run["tool"]["driver"]["name"]: run for run in document["runs"]}
    assert list(runs) == ["hadolint", "eslint", "ruff"]
    assert runs["eslint"]["results"] == []
    hadolint = runs["hadolint"]
    assert [r["id"] for r in hadolint["tool"]["driver"]["rules"]] == ["DL3007", "DL3008"]
    assert hadolint["tool"]["driver"]["rules"][1]["helpUri"].endswith("/wiki/DL3008")
    first = hadolint["results"][0]
    assert first["ruleId"] == "DL3008" and first["ruleIndex"] == 1
    assert first["level"] == "warning" and hadolint["results"][1]["level"] == "note"
    assert first["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "app/Dockerfile", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 12},
    }
    syntax = runs["ruff"]["results"][0]
    assert syntax["locations"][0]["physicalLocation"]["region"] == {"startLine": 1}
    assert "helpUri" not in runs["ruff"]["tool"]["driver"]["rules"][0]


def test_sarif_paths_are_relative_to_the_github_workspace(tmp_path: Path) -> None:
    root = tmp_path / "services" / "api"
    root.mkdir(parents=True)
    out = tmp_path / "lint.sarif"
    lines: list[str] = []
    result = LintResult(FINDINGS[:1], ["hadolint"], [])

    publish(result, root, {"GITHUB_WORKSPACE": str(tmp_path)}, str(out), lines.append)

    document = json.loads(out.read_text())
    location = document["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "services/api/app/Dockerfile"
    assert document["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"] == (
        tmp_path.as_uri() + "/"
    )
    assert lines == [f"sarif: {out}"]


def test_no_sarif_file_unless_asked(tmp_path: Path) -> None:
    lines: list[str] = []
    publish(LintResult(FINDINGS, ["hadolint"], []), tmp_path, {}, None, lines.append)
    assert lines == [] and list(tmp_path.iterdir()) == []


WORKFLOW = """\
name: ci
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: echo one
      - name: two
        run: echo two
  "odd job":
    runs-on: ubuntu-latest
"""


def test_schema_error_paths_point_at_their_line(tmp_path: Path) -> None:
    workflow = tmp_path / "ci.yml"
    workflow.write_text(WORKFLOW)

    assert yaml_line(workflow, "$") == 1
    assert yaml_line(workflow, "$.jobs.build") == 4
    assert yaml_line(workflow, "$.jobs.build.steps[1]") == 8
    assert yaml_line(workflow, "$.jobs.build.steps[1].run") == 9
    assert yaml_line(workflow, '$.jobs["odd job"].runs-on') == 11
    assert yaml_line(workflow, "$.jobs.missing.steps") == 3  # the deepest part that exists
    assert yaml_line(tmp_path / "gone.yml", "$.jobs") == 1
