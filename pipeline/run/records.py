"""The run's records of its stages: a passed stage's ``StageResult`` from its step's outcome,
a failed or interrupted one's from the exception that stopped it, and what the report says of
the image once the build's result is recorded."""

from __future__ import annotations

import time

from pipeline.errors import Interrupted, PipelineError, StageFailed
from pipeline.report import RunReport
from pipeline.result import StageResult, Status
from pipeline.run import steps

SIGINT = "interrupted by SIGINT"


def record_image(report: RunReport, built: steps.Built) -> None:
    image = built.image
    report.labels = image.labels  # `created` is the reused image's when unchanged
    report.image_id = image.image_id
    report.size, report.own_size, report.base_image = image.size, image.own_size, image.base.used
    if built.platforms is not None:  # each platform's image; its smoke verdict and digest to come
        report.platforms = built.platforms.records


def passed_result(stage: str, outcome: steps.Outcome, started: float) -> StageResult:
    seconds = time.monotonic() - started
    return StageResult(stage, outcome.status, seconds, outcome.summary, outcome.cached)


def failure(stage: str, exc: BaseException, started: float) -> StageResult:
    """``stage`` failed (or was interrupted) with ``exc``."""
    if isinstance(exc, KeyboardInterrupt):
        status, reason = Status.INTERRUPTED, SIGINT
    elif isinstance(exc, Interrupted):
        status, reason = Status.INTERRUPTED, exc.message
    elif isinstance(exc, StageFailed):
        status, reason = Status.FAILED, exc.reason
    elif isinstance(exc, PipelineError):
        status, reason = Status.FAILED, exc.message
    else:  # a bug: the task shows its traceback
        status, reason = Status.FAILED, f"{type(exc).__name__}: {exc}"
    return StageResult(stage, status, time.monotonic() - started, reason)
