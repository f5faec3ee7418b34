"""The repository's GitHub workflows: zizmor's security audits and GitHub's workflow schema."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from pipeline.lint.findings import Finding
from pipeline.lint.tools import find_tool, relative, run_json

ZIZMOR_LEVELS = {"high": "error", "medium": "warning", "low": "info"}


def workflows_of(root: Path) -> list[Path]:
    folder = root / ".github" / "workflows"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".yml", ".yaml") and p.is_file())


def zizmor(files: list[Path], root: Path) -> list[Finding]:
    """zizmor's audits (template injection, unpinned actions, credentials...) — offline, so it
    never needs a GitHub token; its severity becomes the level."""
    raw = run_json(
        [find_tool("zizmor"), "--offline", "--format", "json-v1", *map(str, files)], root
    )
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
                relative(root / key.get("given_path", key.get("verbatim_path", "")), root),
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
    command = [find_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows"]
    raw = run_json([*command, "--output-format", "json", *map(str, files)], root)
    assert isinstance(raw, dict)
    findings = []
    for error in raw.get("errors", []):
        best = error.get("best_deep_match") or error.get("best_match") or error
        path = Path(error.get("filename", ""))
        findings.append(
            Finding(
                "check-jsonschema",
                relative(path if path.is_absolute() else root / path, root),
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
                relative(root / str(error.get("filename", "")), root),
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
