"""Only passes are kept: a lint or smoke verdict is written to the state dir when the stage
passed, never when it failed or was interrupted (SIGINT, SIGTERM), and a kept smoke pass is
found for the very image it was kept for only. ``--no-cache`` and ``HOIST_NO_CACHE=1`` find
nothing.

Lint runs through the real runner with hadolint (this virtualenv's, on a one-line
Dockerfile); the linters' and the smoke test's outcomes are stand-ins where the point is what
the runner keeps of them — no engine is needed: nothing is built or started.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from pipeline.build.base_image import BaseImage
from pipeline.build.stage import BuildResult
from pipeline.errors import Interrupted, PipelineError, StageFailed
from pipeline.lint.findings import Finding, LintResult
from pipeline.project import load_config
from pipeline.result import Status
from pipeline.run import steps
from pipeline.run.options import RunOptions
from pipeline.run.runner import Runner
from pipeline.smoke.settings import SmokeConfig
from pipeline.smoke.stage import SmokeResult
from pipeline.verdicts.store import VerdictStore

IMAGE = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32
FAILING = Finding("hadolint", "app/Dockerfile", 1, "DL3006", "warning", "tag the image")


def kept_files(state: Path) -> list[str]:
    return sorted(str(p.relative_to(state)) for p in state.glob("verdicts/*/*.json"))


# --- lint, through the runner ----------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project linted by hadolint only, its state dir in ``tmp_path/state``."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "pipeline.yaml").write_text(yaml.safe_dump({
        "image": "app", "build": {"context": "app"},
        "lint": {"eslint": False, "workflows": False},
    }))  # fmt: skip
    monkeypatch.setenv("HOIST_STATE_DIR", str(tmp_path / "state"))
    return tmp_path


def lint_run(project: Path, environ: dict[str, str] | None = None, reuse: bool = True) -> Runner:
    config = load_config(project / "pipeline.yaml")
    options = RunOptions(stages=("lint",), reuse_verdicts=reuse)
    return Runner(config, options, environ or {}, lambda line: None)


def test_a_lint_pass_is_kept_and_the_next_run_reuses_it(project: Path) -> None:
    first = lint_run(project)
    first.run()
    assert kept_files(project / "state") and first.report.stages[0].cached is None
    again = lint_run(project)
    again.run()
    (stage,) = again.report.stages
    assert (stage.status, stage.cached and stage.cached.run_id) == (
        Status.PASSED, first.report.run_id
    )  # fmt: skip


@pytest.mark.parametrize(
    ("how", "linters"),
    [
        ("a finding at the threshold", lambda *args: LintResult([FAILING], ["hadolint"], [])),
        ("SIGTERM", lambda *args: (_ for _ in ()).throw(Interrupted("SIGTERM", 143))),
        ("SIGINT", lambda *args: (_ for _ in ()).throw(KeyboardInterrupt())),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_a_failed_or_interrupted_lint_is_never_kept(
    project: Path, monkeypatch: pytest.MonkeyPatch, how: str, linters: Callable[..., LintResult]
) -> None:
    monkeypatch.setattr(steps, "run_lint", linters)
    with pytest.raises((PipelineError, KeyboardInterrupt)):
        lint_run(project).run()
    assert kept_files(project / "state") == [], how


@pytest.mark.parametrize(
    ("environ", "reuse"), [({"HOIST_NO_CACHE": "1"}, True), ({}, False)], ids=["env", "flag"]
)
def test_no_cache_runs_lint_again(project: Path, environ: dict[str, str], reuse: bool) -> None:
    lint_run(project).run()
    again = lint_run(project, environ, reuse)
    again.run()
    assert again.report.stages[0].cached is None


# --- smoke, its step -------------------------------------------------------------------------


def built(image_id: str) -> steps.Built:
    return steps.Built(BuildResult(image_id, ["app:main"], 1, 1, BaseImage(None, None)), ["main"])


def smoke(store: VerdictStore, image_id: str = IMAGE) -> steps.Smoked:
    return steps.smoke_step(None, built(image_id), SmokeConfig(), store, {}, None, print)  # type: ignore[arg-type]


def test_a_smoke_pass_is_reused_for_that_image_id_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str] = []

    def smoke_test(client, image_id, *args, **kwargs):  # type: ignore[no-untyped-def]
        checked.append(image_id)
        return SmokeResult("http://127.0.0.1:1", 0.5, ["1/1 checks passed"])

    monkeypatch.setattr(steps, "smoke_test", smoke_test)
    first = smoke(VerdictStore(tmp_path, "run-1"))
    again = smoke(VerdictStore(tmp_path, "run-2"))
    other = smoke(VerdictStore(tmp_path, "run-3"), OTHER)
    assert checked == [IMAGE, OTHER]
    assert first.cached is None and other.cached is None
    assert again.cached is not None and again.cached.run_id == "run-1"
    assert again.image_id == IMAGE and again.result.checks == ["1/1 checks passed"]


@pytest.mark.parametrize(
    "stopped",
    [
        StageFailed("smoke", "1 of 2 checks failed"),
        Interrupted("SIGTERM", 143),
        KeyboardInterrupt(),
    ],
    ids=["failed", "SIGTERM", "SIGINT"],
)
def test_a_failed_or_interrupted_smoke_is_never_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stopped: BaseException
) -> None:
    def smoke_test(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise stopped

    monkeypatch.setattr(steps, "smoke_test", smoke_test)
    with pytest.raises(type(stopped)):
        smoke(VerdictStore(tmp_path, "run-1"))
    assert not any(tmp_path.iterdir()), "something was kept"
