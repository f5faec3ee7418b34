"""The keys of kept verdicts: a change to any input a stage reads gives another key, and an
unchanged input the same key — for lint (each linted file, each linter, each config, each
field of the section) and smoke (the image, each part of the section, the structure tests'
host inputs), both also by hoist's own code.

The linters are the real ones of this virtualenv (hadolint, ruff, zizmor, check-jsonschema);
nothing runs them here, they are only looked at.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.lint.inputs import lint_inputs
from pipeline.lint.settings import LintConfig
from pipeline.smoke.http_checks import HttpCheck
from pipeline.smoke.inputs import smoke_inputs
from pipeline.smoke.policy import PolicyConfig
from pipeline.smoke.settings import SmokeConfig
from pipeline.smoke.structure_suite import StructureSuite
from pipeline.tools import identity
from pipeline.verdicts.keys import hoist_identity, lint_key, smoke_key

REPO = Path(__file__).resolve().parents[2]
LINT = LintConfig(hadolint=True, eslint=True, ruff=["tools"], workflows=True)
IMAGE = "sha256:" + "ab" * 32


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """node-app as a project's build context (without node_modules), some Python for ruff and a
    workflow for zizmor and the schema check."""
    root = tmp_path / "project"
    shutil.copytree(REPO / "node-app", root / "app", ignore=shutil.ignore_patterns("node_modules"))
    modules = root / "app" / "node_modules"
    (modules / "eslint").mkdir(parents=True)
    (modules / "eslint" / "package.json").write_text('{"name": "eslint", "version": "9.0.0"}\n')
    (modules / ".package-lock.json").write_text('{"packages": {}}\n')
    (modules / "left-pad.js").write_text("// a dependency: never linted, not an input\n")
    (root / "tools").mkdir()
    (root / "tools" / "release.py").write_text("print('release')\n")
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / ".github" / "workflows" / "ci.yml").write_text("on: push\njobs: {}\n")
    return root


def key_of(root: Path, settings: LintConfig = LINT, hoist: str = "hoist-1") -> str:
    app = root / "app"
    return lint_key(settings, lint_inputs(settings, root, app / "Dockerfile", app), hoist)


def append(path: Path, text: str) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "a") as out:
            out.write(text)

    return edit


LINT_EDITS = {
    "the Dockerfile": append(Path("app/Dockerfile"), "# a comment\n"),
    "an app source file": append(Path("app/src/app.js"), "// edited\n"),
    "a new app file": append(Path("app/src/new.js"), "module.exports = 1;\n"),
    "an app test file": append(Path("app/test/app.test.js"), "// edited\n"),
    "hadolint's config": append(Path("app/.hadolint.yaml"), "# edited\n"),
    "eslint's config": append(Path("app/eslint.config.js"), "// edited\n"),
    "eslint's version": append(Path("app/node_modules/eslint/package.json"), " "),
    "eslint's plugins (the installed tree)": append(
        Path("app/node_modules/.package-lock.json"), " "
    ),
    "a Python file": append(Path("tools/release.py"), "print('again')\n"),
    "ruff's config, new": append(Path("ruff.toml"), "line-length = 80\n"),
    "ruff's config in a parent directory": append(Path("../ruff.toml"), "line-length = 90\n"),
    "a workflow": append(Path(".github/workflows/ci.yml"), "# edited\n"),
    "zizmor's config": append(Path(".github/zizmor.yml"), "rules: {}\n"),
}


@pytest.mark.parametrize("edit", list(LINT_EDITS.values()), ids=list(LINT_EDITS))
def test_an_edit_to_what_lint_reads_changes_the_lint_key(project: Path, edit) -> None:  # type: ignore[no-untyped-def]
    before = key_of(project)
    assert key_of(project) == before, "the same inputs gave another key"
    edit(project)
    assert key_of(project) != before


def test_what_no_linter_reads_leaves_the_lint_key(project: Path) -> None:
    before = key_of(project)
    append(Path("app/node_modules/left-pad.js"), "// a dependency's code\n")(project)
    append(Path("tools/__pycache__/release.cpython-311.pyc"), "bytes")(project)
    append(Path("notes.txt"), "not in the context, not Python\n")(project)
    append(Path(".hadolint.yaml"), "ignored: []\n")(project)  # the context's own is the one used
    assert key_of(project) == before
    (project / "app" / ".hadolint.yaml").unlink()  # now the project's is
    assert key_of(project) != before


@pytest.mark.parametrize(
    "change",
    [
        {"hadolint": False},
        {"eslint": False},
        {"ruff": []},
        {"ruff": ["tools", "app"]},
        {"workflows": False},
        {"failure_threshold": "error"},
    ],
    ids=lambda change: ",".join(change),
)
def test_each_field_of_the_lint_section_is_in_the_key(project: Path, change: dict) -> None:  # type: ignore[type-arg]
    assert key_of(project, dataclasses.replace(LINT, **change)) != key_of(project)


def test_a_linter_is_known_by_its_program_file(tmp_path: Path) -> None:
    program = tmp_path / "hadolint"
    program.write_bytes(b"\x7fELF version 1")
    first = identity(program)
    assert identity(program) == first
    program.write_bytes(b"\x7fELF version 2, longer")  # an upgrade: another size and time
    assert identity(program) != first
    stat = program.stat()
    os.utime(program, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # reinstalled
    assert identity(program) not in (first, identity(tmp_path / "missing"))


def test_hoist_itself_is_in_every_key(project: Path) -> None:
    assert key_of(project, hoist="hoist-2") != key_of(project, hoist="hoist-1")
    assert smoke_key(IMAGE, {"section": "s"}, "hoist-2") != smoke_key(IMAGE, {"section": "s"}, "h")
    assert hoist_identity() == hoist_identity() and len(hoist_identity()) == 64


COMMAND_TEST = {"name": "node", "command": "node", "args": ["--version"], "exitCode": 0}


def suite(workdir: Path = REPO, **run_options: object) -> StructureSuite:
    """A structure suite as pipeline.yaml would give it inline (the shape CST reads)."""
    data = {
        "schemaVersion": "2.0.0",
        "commandTests": [COMMAND_TEST],
        "containerRunOptions": {"envVars": ["API_URL"], **run_options},
    }
    return StructureSuite("pipeline.yaml", data, workdir, None, 1)


SMOKE = SmokeConfig(
    checks=[HttpCheck("identity", path="/", expect_json={"service": "node-app"})],
    structure=suite(),
)


def smoke_key_of(smoke: SmokeConfig = SMOKE, image: str = IMAGE, **environ: str) -> str:
    inputs = smoke_inputs(smoke, {"API_URL": "http://127.0.0.1:9", **environ})
    assert inputs is not None
    return smoke_key(image, inputs, "hoist-1")


SMOKE_EDITS = {
    "port": {"port": 8080},
    "path": {"path": "/ready"},
    "expected status": {"expect_status": 204},
    "expected body": {"expect_body": "ok"},
    "timeout": {"timeout": 10.0},
    "container env": {"env": {"NODE_ENV": "test"}},
    "a check": {"checks": [HttpCheck("identity", path="/", expect_json={"service": "other"})]},
    "another check": {"checks": [*SMOKE.checks, HttpCheck("404", path="/x", expect_status=404)]},
    "the policy": {"policy": PolicyConfig(non_root=False)},
    "the stop check": {"stop_timeout": 5.0},
    "the structure tests": {"structure": None},
    "a structure test": {
        "structure": StructureSuite(
            "pipeline.yaml",
            {**SMOKE.structure.data, "commandTests": [{**COMMAND_TEST, "exitCode": 1}]},  # type: ignore[union-attr]
            REPO,
            None,
            1,
        )
    },
}


@pytest.mark.parametrize("change", list(SMOKE_EDITS.values()), ids=list(SMOKE_EDITS))
def test_each_part_of_the_smoke_section_is_in_the_key(change: dict) -> None:  # type: ignore[type-arg]
    assert smoke_key_of() == smoke_key_of()
    assert smoke_key_of(dataclasses.replace(SMOKE, **change)) != smoke_key_of()


def test_the_image_id_is_in_the_smoke_key() -> None:
    assert smoke_key_of(image="sha256:" + "cd" * 32) != smoke_key_of()


def test_the_structure_tests_host_inputs_are_in_the_smoke_key(tmp_path: Path) -> None:
    assert smoke_key_of(API_URL="http://127.0.0.1:10") != smoke_key_of()
    (tmp_path / "test.env").write_text("A=1\n")
    with_file = dataclasses.replace(SMOKE, structure=suite(tmp_path, envFile="test.env"))
    before = smoke_key_of(with_file)
    (tmp_path / "test.env").write_text("A=2\n")
    assert smoke_key_of(with_file) != before


def test_container_structure_test_itself_is_in_the_smoke_key() -> None:
    inputs = smoke_inputs(SMOKE, {})
    assert inputs is not None and inputs["tool:container-structure-test"] not in ("", "missing")
    assert "tool:container-structure-test" not in (smoke_inputs(SmokeConfig(), {}) or {})


def test_a_suite_that_bind_mounts_host_paths_is_never_reused() -> None:
    with_mounts = dataclasses.replace(SMOKE, structure=suite(bindMounts=["/srv:/srv"]))
    assert smoke_inputs(with_mounts, {}) is None
