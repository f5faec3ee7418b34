"""Lint depth as a user runs it (`invoke lint`): hadolint with the app's .hadolint.yaml, eslint,
workflow checks (zizmor, GitHub's workflow schema) in one findings list, SARIF output, the
failure threshold, and one GitHub annotation per finding. Real tools, no engine needed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import run_invoke

pytestmark = pytest.mark.integration

# Template injection (high) and an action pinned to a tag, not a commit (high).
INJECTABLE = """\
name: ci
on: pull_request
permissions: {}
jobs:
  greet:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          persist-credentials: false
      - run: echo "${{ github.event.pull_request.title }}"
"""

# Valid YAML, invalid workflow: `stepz` is not a job key (zizmor skips it; the schema does not).
MISTYPED = """\
name: typo
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    stepz:
      - run: echo hi
"""

# Only medium findings (default permissions, checkout keeping the token): warnings.
MEDIUM_ONLY = """\
name: ci
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0
      - run: echo hi
"""

UNUSED_VARIABLE = "'use strict';\n\nconst unused = 1;\n"
SHELL_FORM_CMD = "CMD node src/server.js\n"


def workflows(config: Path, **files: str) -> None:
    folder = config.parent / ".github" / "workflows"
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text)


def findings(stdout: str) -> list[str]:
    pattern = re.compile(r"^\S+:\d+: (error|warning|info|style) ")
    return [line for line in stdout.splitlines() if pattern.match(line)]


def starts(lines: list[str], prefix: str, suffix: str = "") -> bool:
    return any(line.startswith(prefix) and line.endswith(suffix) for line in lines)


def test_all_linters_feed_one_findings_list_and_sarif(make_app, hoist_state, tmp_path: Path):  # type: ignore[no-untyped-def]
    config = make_app(files={"src/extra.js": UNUSED_VARIABLE})
    workflows(config, **{"ci.yml": INJECTABLE, "typo.yml": MISTYPED})
    sarif = tmp_path / "reports" / "lint.sarif"

    result = run_invoke("lint", "--config", str(config), "--sarif", str(sarif), env=hoist_state)

    assert result.returncode == 1
    lines = findings(result.stdout)
    assert starts(
        lines, "app/src/extra.js:3: error no-unused-vars 'unused' is assigned", "[eslint]"
    )
    assert starts(lines, ".github/workflows/ci.yml:11: error template-injection ", "[zizmor]")
    assert starts(lines, ".github/workflows/ci.yml:8: error unpinned-uses ", "[zizmor]")
    assert (
        ".github/workflows/typo.yml:4: error github-workflow-schema $.jobs.build: Additional "
        "properties are not allowed ('stepz' was unexpected) [check-jsonschema]" in lines
    )
    assert f"sarif: {sarif}" in result.stdout

    document = json.loads(sarif.read_text())
    assert document["version"] == "2.1.0" and "sarif" in document["$schema"]
    runs = {run["tool"]["driver"]["name"]: run for run in document["runs"]}
    assert set(runs) == {"hadolint", "eslint", "zizmor", "check-jsonschema"}
    assert runs["hadolint"]["results"] == []  # ran, found nothing: still listed
    results = [r for run in document["runs"] for r in run["results"]]
    assert len(results) == len(lines)
    injection = next(r for r in runs["zizmor"]["results"] if r["ruleId"] == "template-injection")
    location = injection["locations"][0]["physicalLocation"]
    assert location == {
        "artifactLocation": {"uri": ".github/workflows/ci.yml", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 11},
    }
    assert injection["level"] == "error"
    for run in document["runs"]:
        rule_ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
        assert all(rule_ids[r["ruleIndex"]] == r["ruleId"] for r in run["results"])


def test_failure_threshold_decides_whether_findings_fail_the_stage(make_app, hoist_state):  # type: ignore[no-untyped-def]
    strict = make_app()
    workflows(strict, **{"ci.yml": MEDIUM_ONLY})
    relaxed = make_app({"lint": {"ruff": [], "failure_threshold": "error"}})
    workflows(relaxed, **{"ci.yml": MEDIUM_ONLY})

    failed = run_invoke("lint", "--config", str(strict), env=hoist_state)
    passed = run_invoke("lint", "--config", str(relaxed), env=hoist_state)

    assert failed.returncode == 1
    assert "finding(s) at or above warning" in failed.stderr
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert [line.split(" ", 2)[1] for line in findings(passed.stdout)] == ["warning", "warning"]


def test_hadolint_reads_the_apps_hadolint_yaml(make_app, hoist_state):  # type: ignore[no-untyped-def]
    dockerfile = (Path(__file__).parents[2] / "node-app" / "Dockerfile").read_text()
    shell_form = dockerfile.replace('CMD ["node", "src/server.js"]\n', SHELL_FORM_CMD)
    flagged = make_app(files={"Dockerfile": shell_form})
    ignored = make_app(
        files={
            "Dockerfile": shell_form,
            ".hadolint.yaml": "failure-threshold: warning\nignored: [DL3025]\n",
        }  # fmt: skip
    )

    with_rule = run_invoke("lint", "--config", str(flagged), env=hoist_state)
    without = run_invoke("lint", "--config", str(ignored), env=hoist_state)

    assert with_rule.returncode == 1
    assert any(" DL3025 " in line and "[hadolint]" in line for line in findings(with_rule.stdout))
    assert without.returncode == 0, without.stdout + without.stderr
    assert findings(without.stdout) == []


def test_each_finding_becomes_a_github_annotation(make_app, hoist_state, tmp_path: Path):  # type: ignore[no-untyped-def]
    config = make_app(files={"src/extra.js": UNUSED_VARIABLE})
    workflows(config, **{"ci.yml": INJECTABLE})
    env = {
        **hoist_state,
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(config.parent),
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }

    result = run_invoke("lint", "--config", str(config), env=env)

    assert result.returncode == 1
    annotation = re.compile(r"^::(error|warning|notice) file=")
    annotations = [line for line in result.stdout.splitlines() if annotation.match(line)]
    assert len(annotations) == len(findings(result.stdout)) >= 3
    assert any(a.startswith("::error file=app/src/extra.js,line=3") for a in annotations)
    assert any(a.startswith("::error file=.github/workflows/ci.yml,line=11") for a in annotations)
