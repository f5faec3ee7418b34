"""The linters of the service itself — hadolint, eslint, ruff — each read from its JSON output.

Every tool is its own process, found by ``pipeline.tools.find_tool`` (this virtualenv's pinned
copy first, then PATH).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from pipeline.errors import PipelineError
from pipeline.lint.findings import LEVELS, Finding
from pipeline.tools import find_tool

ESLINT_CONFIGS = ("eslint.config.js", "eslint.config.mjs", "eslint.config.cjs")


def run_json(command: list[str], cwd: Path) -> object:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    try:
        return json.loads(result.stdout or "[]")
    except json.JSONDecodeError:
        detail = (result.stderr or result.stdout).strip().splitlines()[:1] or ["no output"]
        raise PipelineError(f"{Path(command[0]).name} failed: {detail[0][:200]}") from None


def relative(path: str | Path, root: Path) -> str:
    absolute = Path(path).absolute()
    return str(absolute.relative_to(root)) if absolute.is_relative_to(root) else str(path)


def hadolint_config(context: Path, root: Path) -> Path | None:
    """The ``.hadolint.yaml`` hadolint is given: the build context's, else the project's."""
    return next(
        (c for c in (context / ".hadolint.yaml", root / ".hadolint.yaml") if c.is_file()), None
    )


def hadolint(dockerfile: Path, context: Path, root: Path) -> list[Finding]:
    command = [find_tool("hadolint"), "--format", "json", "--no-fail"]
    config = hadolint_config(context, root)
    if config is not None:
        command += ["--config", str(config)]
    raw = run_json([*command, str(dockerfile)], context)
    assert isinstance(raw, list)
    return [
        Finding(
            "hadolint",
            relative(dockerfile, root),
            int(item.get("line", 0)),
            str(item.get("code", "")),
            item.get("level", "error") if item.get("level") in LEVELS else "error",
            str(item.get("message", "")),
        )
        for item in raw
    ]


def eslint(context: Path, root: Path) -> list[Finding]:
    raw = run_json([str(context / "node_modules/.bin/eslint"), "--format", "json", "."], context)
    assert isinstance(raw, list)
    return [
        Finding(
            "eslint",
            relative(entry["filePath"], root),
            int(message.get("line", 0)),
            str(message.get("ruleId") or "parse"),
            "error" if message.get("severity") == 2 else "warning",
            str(message.get("message", "")),
        )
        for entry in raw
        for message in entry.get("messages", [])
    ]


def ruff(paths: list[Path], root: Path) -> list[Finding]:
    raw = run_json(
        [find_tool("ruff"), "check", "--output-format", "json", "--no-fix", *map(str, paths)], root
    )
    assert isinstance(raw, list)
    return [
        Finding(
            "ruff",
            relative(item["filename"], root),
            int(item.get("location", {}).get("row", 0)),
            str(item.get("code") or "syntax"),
            "error",
            str(item.get("message", "")),
        )
        for item in raw
    ]
