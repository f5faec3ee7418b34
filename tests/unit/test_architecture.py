"""The house rules of ``pipeline/``, read from the code itself (ARCHITECTURE.md is the map).

Every import is counted — also those inside functions and under ``TYPE_CHECKING`` — so a
cycle hidden at run time by a function-local import is still a cycle here. Each test names what
broke the rule, so the day a cycle or an upward import comes back, the failure says where.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "pipeline"

# Floors, lowest first: a module may import its own package and anything on a lower floor,
# never one above it. Data flows config → context → tags → lint → build → smoke → push →
# attest → (report) → deploy; verdicts keeps what lint and smoke found, keyed by their inputs;
# project puts the sections together; output, run and cli sit on top.
FLOORS = (
    "errors", "workflow_commands", "result", "units", "paths", "secrets", "ssh_transport",
    "engine", "atomic", "digests", "tools", "futures", "http_failures",
    "config", "context", "tags", "lint", "build", "smoke", "push", "attest", "release",
    "verdicts", "report", "deploy", "project", "output", "platforms", "run", "cli", "tasks",
)  # fmt: skip

# Imports that may stay inside a function, and why: optional cloud SDKs are installed only
# with their extra (``hoist[aws]`` ...), and only the registry kind that needs them loads them.
LAZY_ALLOWED = ("boto3", "botocore", "google", "azure")

# ... and, in one module each, a heavy library only some runs need: cryptography and PyNaCl
# in the module that makes, reads and uses keys, so a run that does not sign never imports
# them (``test_a_run_that_does_not_sign_loads_no_crypto``).
LAZY_IN_MODULE = {"pipeline.attest.keys": ("cryptography", "nacl")}

# The one module whose imports stay inside its functions: the task collection (``invoke``
# here, the installed ``hoist`` command) is loaded by ``--list`` and ``--help``, which must not
# pay for docker-py, GitPython and PyYAML. ``test_the_task_collection_loads_no_library``
# holds it to that.
LAZY_MODULES = ("pipeline.tasks",)

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 50


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _imported(node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """The hoist modules one import statement names (``from pipeline.x import y`` may name
    the module ``pipeline.x.y``)."""
    if isinstance(node, ast.Import):
        yield from (a.name for a in node.names if a.name.split(".")[0] == "pipeline")
        return
    if node.level or not node.module or node.module.split(".")[0] != "pipeline":
        return
    for alias in node.names:
        candidate = f"{node.module}.{alias.name}"
        yield candidate if candidate in MODULES else node.module


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text())
        targets = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                targets.update(t for t in _imported(node) if t != name)
        graph[name] = targets
    return graph


def _floor(module: str) -> tuple[int, str]:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else ""
    return (FLOORS.index(top) if top in FLOORS else -1), top


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the list of modules around it, or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_every_module_sits_on_a_floor() -> None:
    unplaced = sorted(m for m in MODULES if m != "pipeline" and _floor(m)[0] < 0)
    assert not unplaced, f"add these to FLOORS (and ARCHITECTURE.md): {unplaced}"


def test_no_import_cycle() -> None:
    cycle = _cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_package_inits_import_nothing() -> None:
    """Importing ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__`` first, an import edge the graph
    above cannot see: with empty ``__init__`` modules there is none to see."""
    busy = [
        name
        for name, path in MODULES.items()
        if path.name == "__init__.py"
        and any(
            isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.parse(path.read_text()).body
        )
    ]
    assert not busy, f"keep these package __init__ modules free of imports: {busy}"


def test_no_import_runs_up_a_floor() -> None:
    upward = []
    for source, targets in _graph().items():
        source_floor, source_top = _floor(source)
        for target in targets:
            target_floor, target_top = _floor(target)
            if target_top != source_top and target_floor > source_floor:
                upward.append(f"{source} imports {target}")
    assert not upward, "imports from a higher floor: " + "; ".join(sorted(upward))


def _function_local_imports() -> Iterator[str]:
    for name, path in MODULES.items():
        if name in LAZY_MODULES:
            continue
        for function in ast.walk(ast.parse(path.read_text())):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.Import):
                    modules = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    modules = [node.module]
                else:
                    continue
                allowed = LAZY_ALLOWED + LAZY_IN_MODULE.get(name, ())
                for module in modules:
                    if module.split(".")[0] not in allowed:
                        yield f"{name}:{node.lineno} ({function.name}) imports {module}"


def test_imports_inside_functions_only_for_optional_sdks() -> None:
    local = sorted(_function_local_imports())
    assert not local, "move to the top of the module: " + "; ".join(local)


def test_modules_and_functions_stay_small() -> None:
    too_big = []
    for name, path in MODULES.items():
        lines = path.read_text().count("\n")
        if lines > MAX_MODULE_LINES:
            too_big.append(f"module {name}: {lines} lines")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_big.append(f"function {name}.{node.name}: {length} lines")
    assert not too_big, "split these: " + "; ".join(sorted(too_big))


def test_the_task_collection_loads_no_library() -> None:
    """``invoke --list`` / ``hoist --list`` import the task collection and nothing heavy: only
    invoke (which loads PyYAML itself), the session helpers and the error family."""
    probe = (
        "import json, sys, pipeline.tasks; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pipeline', 'docker', 'git', 'requests', 'tenacity', 'paramiko'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    loaded = json.loads(result.stdout)
    assert loaded == ["pipeline", "pipeline.cli", "pipeline.errors", "pipeline.tasks"], loaded


def test_a_run_that_does_not_sign_loads_no_crypto() -> None:
    """What ``invoke ci`` imports (``tasks._run``) leaves cryptography, PyNaCl and paramiko
    unloaded: keys load them when signing needs them, the ssh transport only for ssh://."""
    probe = (
        "import json, os, sys; from pipeline.ssh_transport import leave_out_unless_used; "
        "leave_out_unless_used(os.environ); import pipeline.output.github, pipeline.project, "
        "pipeline.report, pipeline.run.runner; "
        "print(json.dumps(sorted({m.split('.')[0] for m, v in sys.modules.items() if v} & "
        "{'cryptography', 'nacl', 'paramiko'})))"
    )
    environ = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=environ
    )
    assert json.loads(result.stdout) == []


def test_test_modules_have_names_of_their_own() -> None:
    """pytest collects tests/unit and tests/integration as one rootdir-relative namespace: two
    test modules of one basename stop the whole suite at collection (only a whole run shows it)."""
    tests = PACKAGE.parent / "tests"
    seen: dict[str, list[str]] = {}
    for path in sorted(tests.rglob("test_*.py")):
        seen.setdefault(path.name, []).append(str(path.relative_to(tests)))
    assert not {name: where for name, where in seen.items() if len(where) > 1}
