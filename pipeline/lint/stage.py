"""The lint stage: every configured linter at once, their findings merged into one list.

hadolint (Dockerfile, with the app's ``.hadolint.yaml``), eslint (the app's JavaScript, when the
app configures it), ruff (Python paths named in pipeline.yaml) and the workflow checks (zizmor's
security audits and the GitHub workflow JSON schema, when ``.github/workflows`` exists) each
report in their own JSON; they become the same ``Finding`` (file, line, rule, level, message)
so the log, the GitHub annotations and the SARIF file are produced once, from one list.
A stage fails when a finding reaches ``lint.failure_threshold``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pipeline.lint.findings import Finding, LintResult
from pipeline.lint.sarif import write_sarif
from pipeline.lint.settings import LintConfig
from pipeline.lint.tools import ESLINT_CONFIGS, eslint, hadolint, ruff
from pipeline.lint.workflows import workflow_schema, workflows_of, zizmor
from pipeline.result import Log


def run_lint(
    settings: LintConfig, root: Path, dockerfile: Path, context: Path, log: Log
) -> LintResult:
    """Every configured linter at once (each is its own process, mostly waiting on its own
    startup: eslint's node, check-jsonschema's Python); findings in the tools' fixed order.
    ``root`` is the project (pipeline.yaml's directory), ``context`` the build context."""
    tools: list[str] = []
    skipped: list[str] = []
    runs: list[Callable[[], list[Finding]]] = []
    if settings.hadolint:
        tools.append("hadolint")
        runs.append(lambda: hadolint(dockerfile, context, root))
    if settings.eslint:
        if not any((context / name).is_file() for name in ESLINT_CONFIGS):
            skipped.append("eslint (no eslint.config.* in the build context)")
        elif not (context / "node_modules/.bin/eslint").is_file():
            skipped.append(f"eslint (not installed: run `npm ci` in {context})")
        else:
            tools.append("eslint")
            runs.append(lambda: eslint(context, root))
    if settings.ruff:
        tools.append("ruff")
        runs.append(lambda: ruff([root / p for p in settings.ruff], root))
    workflow_files = workflows_of(root) if settings.workflows else []
    if workflow_files:
        tools += ["zizmor", "check-jsonschema"]
        runs.append(lambda: zizmor(workflow_files, root))
        runs.append(lambda: workflow_schema(workflow_files, root))
    findings: list[Finding] = []
    if runs:
        with ThreadPoolExecutor(max_workers=len(runs), thread_name_prefix="hoist-lint") as pool:
            for found in [pool.submit(run) for run in runs]:
                findings += found.result()
    result = LintResult(findings, tools, skipped)
    show(result, log)
    return result


def show(result: LintResult, log: Log) -> None:
    """The stage's lines: each linter skipped and why, then every finding (also those of a
    verdict kept from an earlier run, which are the same)."""
    for note in result.skipped:
        log(f"skipped {note}")
    for finding in result.findings:
        log(str(finding))


def publish(
    result: LintResult,
    root: Path,
    environ: Mapping[str, str],
    sarif: str | os.PathLike[str] | None,
    log: Log,
) -> None:
    """Write the SARIF file when asked. (GitHub annotations come from
    ``pipeline.output.github``, which the runner hands the findings to.) In Actions, paths are
    made relative to the workspace — what code scanning matches against the repository — even
    when pipeline.yaml sits in a subdirectory."""
    if not sarif:
        return
    workspace = environ.get("GITHUB_WORKSPACE")
    base = Path(workspace) if workspace and root.is_relative_to(workspace) else root
    path = write_sarif(Path(sarif), result.findings, result.tools, root, base)
    log(f"sarif: {path}")
