"""What a lint run reads, as digests: the files each linter checks, the configuration it is
given or finds, and the linter itself — the key of a kept lint verdict (``pipeline.verdicts``).

Conservative on purpose, since an input missed here would reuse a verdict for code nobody
checked: eslint counts every file of the build context but ``node_modules`` (its own config
may lint any of them), ruff every Python file and config under its paths and the configs of
the project's parent directories (ruff looks upwards). A linter is identified by its program
file — path, size and modification time, what an upgrade changes — and eslint, a package of
the app, by its installed version and the app's installed dependency tree (its plugins).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from pipeline.digests import MISSING, of_file
from pipeline.lint.settings import LintConfig
from pipeline.lint.tools import find_tool, hadolint_config, relative
from pipeline.lint.workflows import workflows_of
from pipeline.tools import identity

NOT_LINTED_DIRS = frozenset({"node_modules", ".git"})
# ruff's default exclusions: it never reads these, however large they are
RUFF_SKIPPED_DIRS = frozenset({
    ".bzr", ".direnv", ".eggs", ".git", ".git-rewrite", ".hg", ".mypy_cache", ".nox",
    ".pants.d", ".pytype", ".ruff_cache", ".svn", ".tox", ".venv", "__pypackages__", "_build",
    "buck-out", "dist", "node_modules", "venv", "__pycache__",
})  # fmt: skip
RUFF_SUFFIXES = (".py", ".pyi", ".ipynb")
RUFF_CONFIGS = ("pyproject.toml", "ruff.toml", ".ruff.toml")
ZIZMOR_CONFIGS = ("zizmor.yml", ".github/zizmor.yml")


def lint_inputs(
    settings: LintConfig, root: Path, dockerfile: Path, context: Path
) -> dict[str, str]:
    """``{"file:<path>" | "tool:<name>": digest}`` for every linter ``settings`` switches on;
    paths relative to ``root`` (pipeline.yaml's directory)."""
    found: dict[str, str] = {}
    if settings.hadolint:
        found["tool:hadolint"] = identity(Path(find_tool("hadolint")))
        config = hadolint_config(context, root)
        files = [dockerfile] if config is None else [dockerfile, config]
        found.update(_files(files, root))
    if settings.eslint:
        found.update(_eslint(context, root))
    if settings.ruff:
        found["tool:ruff"] = identity(Path(find_tool("ruff")))
        found.update(_files(_ruff_files([root / p for p in settings.ruff], root), root))
    workflow_files = workflows_of(root) if settings.workflows else []
    if workflow_files:
        for tool in ("zizmor", "check-jsonschema"):
            found[f"tool:{tool}"] = identity(Path(find_tool(tool)))
        configs = [root / name for name in ZIZMOR_CONFIGS]
        found.update(_files([*workflow_files, *configs], root))
    return found


def _eslint(context: Path, root: Path) -> dict[str, str]:
    modules = context / "node_modules"
    node = shutil.which("node")  # eslint's launcher runs `env node`
    found = {
        "tool:node": identity(Path(node)) if node else MISSING,
        "tool:eslint": of_file(modules / "eslint" / "package.json"),
        "tool:eslint-dependencies": of_file(modules / ".package-lock.json"),
    }
    found.update(_files(_tree(context, NOT_LINTED_DIRS), root))
    return found


def _ruff_files(paths: list[Path], root: Path) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            for file in _tree(path, RUFF_SKIPPED_DIRS):
                if file.suffix in RUFF_SUFFIXES or file.name in RUFF_CONFIGS:
                    yield file
        else:
            yield path  # a file ruff was named, or one that is missing: both are inputs
    for directory in (root, *root.parents):
        yield from (directory / name for name in RUFF_CONFIGS)


def _tree(top: Path, skipped: frozenset[str]) -> Iterator[Path]:
    """Every file under ``top``, ``skipped`` directories left out; symlinks not followed."""
    for directory, subdirectories, files in os.walk(top):
        subdirectories[:] = sorted(d for d in subdirectories if d not in skipped)
        yield from (Path(directory, name) for name in sorted(files))


def _files(paths: Iterator[Path] | list[Path], root: Path) -> dict[str, str]:
    return {f"file:{relative(path, root)}": of_file(path) for path in paths}
