"""The run reads in flow order though lint runs beside build and smoke, and push's gate takes
only what passed for the very image that was built.

``StageOrder`` is driven here as the runner drives it — lint from a thread of its own, build
from this one — with the interleavings that matter: build ahead of lint, lint failing while
build runs, build failing while lint runs.
"""

from __future__ import annotations

import threading

import pytest

from pipeline.build.base_image import BaseImage
from pipeline.build.stage import BuildResult
from pipeline.errors import StageFailed
from pipeline.lint.findings import LintResult
from pipeline.report import RunReport
from pipeline.result import StageResult, Status, VerifiedBy
from pipeline.run.gates import push_gate
from pipeline.run.order import Cancelled, StageOrder
from pipeline.run.steps import Built, Linted, Smoked
from pipeline.smoke.stage import SmokeResult

IMAGE = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32


def order_and_output() -> tuple[StageOrder, RunReport, list[str]]:
    report = RunReport("r1", "pipeline.yaml", "app", "now")
    shown: list[str] = []
    return StageOrder(report, shown.append, lambda s: shown.append(f"==> {s}")), report, shown


def passed(stage: str) -> StageResult:
    return StageResult(stage, Status.PASSED, 0.1, f"{stage} ok")


def failed(stage: str) -> StageResult:
    return StageResult(stage, Status.FAILED, 0.1, f"{stage} broke")


def test_a_stage_ahead_of_lint_is_shown_and_recorded_after_it() -> None:
    order, report, shown = order_and_output()
    lint_log = order.start("lint")
    build_log = order.start("build")
    build_log("Step 1/2 : FROM base")
    order.when_recorded("build", lambda: setattr(report, "image_id", IMAGE))
    order.end(passed("build"))  # build finished first
    order.line("[r0] credentials accepted by the registry")
    assert shown == ["==> lint"] and report.stages == [] and report.image_id is None

    done = threading.Thread(
        target=lambda: (lint_log("Dockerfile:3: style"), order.end(passed("lint")))
    )
    done.start()
    done.join()

    assert shown == ["==> lint", "Dockerfile:3: style", "==> build", "Step 1/2 : FROM base",
                     "[r0] credentials accepted by the registry"]  # fmt: skip
    assert [s.stage for s in report.stages] == ["lint", "build"]
    assert report.image_id == IMAGE  # what build adds to the report came with its result
    smoke_log = order.start("smoke")
    smoke_log("PASS  service: readiness")  # nothing before it runs: shown at once
    assert shown[-2:] == ["==> smoke", "PASS  service: readiness"]


def test_a_lint_failure_drops_what_ran_beside_it_and_stops_it_at_its_next_line() -> None:
    order, report, shown = order_and_output()
    order.start("lint")
    build_log = order.start("build")
    build_log("Step 1/9 : FROM base")
    order.when_recorded("build", lambda: setattr(report, "image_id", IMAGE))
    order.end(passed("build"))

    order.fail(failed("lint"))

    with pytest.raises(Cancelled) as stopped:
        build_log("Step 2/9 : COPY . .")
    assert stopped.value.failed == "lint"
    order.fail(StageResult("build", Status.INTERRUPTED, 0.2, "stopped"))  # its cleanup: ignored
    with pytest.raises(Cancelled):
        order.start("smoke")
    assert shown == ["==> lint"]
    assert [(s.stage, s.status) for s in report.stages] == [("lint", Status.FAILED)]
    assert report.image_id is None  # the build beside it is not the run's


def test_a_build_failure_waits_for_lint_and_comes_after_it() -> None:
    order, report, shown = order_and_output()
    lint_log = order.start("lint")
    order.start("build")("Step 3/9 : RUN false")
    order.fail(failed("build"))
    assert report.stages == []

    lint_log("app/src/app.js:1: warning no-unused-vars")
    order.end(passed("lint"))

    assert shown == ["==> lint", "app/src/app.js:1: warning no-unused-vars", "==> build",
                     "Step 3/9 : RUN false"]  # fmt: skip
    assert [(s.stage, s.status) for s in report.stages] == [
        ("lint", Status.PASSED), ("build", Status.FAILED)
    ]  # fmt: skip


def test_an_interrupt_while_lint_runs_is_recorded_as_lint_s() -> None:
    order, report, _ = order_and_output()
    lint_log = order.start("lint")
    order.start("build")
    order.fail(StageResult("build", Status.INTERRUPTED, 0.1, "interrupted by SIGTERM"))
    order.fail(StageResult("lint", Status.INTERRUPTED, 0.1, "interrupted by SIGTERM"))
    lint_log("late finding")  # the lint thread ends later: its verdict is no longer asked for
    order.end(passed("lint"))
    assert [(s.stage, s.status) for s in report.stages] == [("lint", Status.INTERRUPTED)]


def built(image_id: str = IMAGE) -> Built:
    image = BuildResult(image_id, ["app:main"], 1, 1, BaseImage(None, None))
    return Built(image, ["main"])


LINTED = Linted(LintResult([], ["hadolint"], []), "key")
SMOKED = Smoked(IMAGE, SmokeResult("http://127.0.0.1:1", 0.5, ["2/2 checks passed"]))


def test_push_takes_what_passed_for_this_image_cached_or_not() -> None:
    cached = VerifiedBy("run-0", "2026-12-01T12:00:00+00:00")
    cached_smoke = Smoked(IMAGE, SMOKED.result, cached)
    assert push_gate(LINTED, built(), SMOKED, skip_smoke=False).image.image_id == IMAGE
    assert push_gate(Linted(LINTED.result, "key", cached), built(), cached_smoke, False)
    assert push_gate(LINTED, built(), None, skip_smoke=True)


@pytest.mark.parametrize(
    ("linted", "image", "smoked", "message"),
    [
        (None, built(), SMOKED, "refused: lint must pass in the same run first"),
        (LINTED, None, None, "refused: build, smoke must pass in the same run first"),
        (LINTED, built(), None, "refused: smoke must pass in the same run first"),
        (Linted(LintResult([], [], ["eslint (no config)"]), "k"), built(), SMOKED,
         "refused: the lint stage ran no linter"),
        (LINTED, built(OTHER), SMOKED,
         f"refused: smoke passed for image {IMAGE[7:19]}, not for the one built, {OTHER[7:19]}"),
    ],
    ids=["no-lint", "no-build", "no-smoke", "nothing-linted", "smoke-of-another-image"],
)  # fmt: skip
def test_push_refuses_what_did_not_pass_for_this_image(linted, image, smoked, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(StageFailed, match=f"^push: {message}"):
        push_gate(linted, image, smoked, skip_smoke=False)
