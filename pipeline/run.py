"""Chain the stages — lint → build → smoke → push — and stop at the first failure.

Each stage is timed and becomes a ``StageResult``; a failing stage is recorded and its error
raised, so the run stops there and the task shows one line for it. An interrupt (Ctrl-C,
SIGTERM) is recorded the same way, after the stage's own cleanup ran.

The runner owns the gates: push runs only after lint and smoke passed in the same run, on the
very image that was built; ``skip_smoke`` is the one explicit way around the smoke gate and it
is recorded in the report and in an image label.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.build.cache import CachePlan
from pipeline.errors import Interrupted, PipelineError, StageFailed
from pipeline.project import PipelineConfig
from pipeline.push.cache import cache_plan, write_cache
from pipeline.report import RunReport
from pipeline.result import Log, StageResult, Status
from pipeline.units import human_size

if TYPE_CHECKING:
    import docker

    from pipeline.build.stage import BuildResult
    from pipeline.lint.findings import Finding
    from pipeline.push.registries import Target
    from pipeline.tags.evaluate import Metadata

STAGES = ("lint", "build", "smoke", "push")


@dataclass(frozen=True)
class RunOptions:
    stages: tuple[str, ...] = STAGES
    targets: tuple[str, ...] = ()
    skip_smoke: bool = False
    sarif: str | None = None  # write lint findings as SARIF 2.1.0 here
    junit: str | None = None  # write smoke results as JUnit XML here (default: state dir)


def new_run_id() -> str:
    return f"{datetime.now(timezone.utc):%Y%m%d%H%M%S}-{secrets.token_hex(3)}"


class Runner:
    """One pipeline run: holds the plain values stages hand each other and the report."""

    def __init__(
        self,
        config: PipelineConfig,
        options: RunOptions,
        environ: Mapping[str, str],
        log: Log,
        on_stage: Callable[[str], None] | None = None,
        on_findings: Callable[[list[Finding], Path, str], None] | None = None,
    ) -> None:
        self.config = config
        self.options = options
        self.environ = environ
        self.log = log
        self.on_stage = on_stage or (lambda stage: None)
        # Lint findings as data (file, line, ...), e.g. for GitHub annotations.
        self.on_findings = on_findings or (lambda findings, root, threshold: None)
        self.report = RunReport(
            run_id=new_run_id(),
            config=str(config.path),
            image=config.image,
            started=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
        self._client: docker.DockerClient | None = None
        self._built: BuildResult | None = None
        self._cache: CachePlan | None = None
        self._metadata: Metadata | None = None
        self._skipped: set[str] = set()  # stages that ran but had nothing to check

    @property
    def client(self) -> docker.DockerClient:
        from pipeline.engine import docker_client

        if self._client is None:
            self._client = docker_client()
        return self._client

    def check_inputs(self) -> None:
        """Refuse bad input before any stage runs: nothing is built, started or pushed.

        pipeline.yaml was validated when loaded; this checks what only a run can: the build
        context (no symlink leading outside it), the tags of this context (rules evaluated,
        ``DOCKER_METADATA_*`` variables) and the push targets ``--to`` selects. Each problem
        is a ``ConfigError`` (exit code 2), raised before the report exists.
        """
        if "build" in self.options.stages:
            from pipeline.build.context import check_context
            from pipeline.tags.metadata import image_metadata

            check_context(self.config.build.context, self.config.build.dockerfile)
            self._metadata = image_metadata(self.config.metadata, self.config.root, self.environ)
        if "push" in self.options.stages:
            from pipeline.push.registries import check_targets

            check_targets(
                self.config.registries,
                self.options.targets,
                self.config.image,
                self.environ,
                self.config.path.name,
            )

    def run(self) -> RunReport:
        if self.options.skip_smoke:
            self.report.skipped_gates.append("smoke (--skip-smoke)")
        steps: dict[str, Callable[[], str]] = {
            "lint": self._lint,
            "build": self._build,
            "smoke": self._smoke,
            "push": self._push,
        }
        for stage in STAGES:
            if stage not in self.options.stages or (stage == "smoke" and self.options.skip_smoke):
                continue
            self._stage(stage, steps[stage])
            if stage == "smoke":
                self._write_cache()
        return self.report

    def _stage(self, stage: str, step: Callable[[], str]) -> None:
        """Run one stage; a failure is recorded in the report, then raised to the task."""
        self.on_stage(stage)
        started = time.monotonic()
        try:
            summary = step()
        except PipelineError as exc:
            status = Status.INTERRUPTED if isinstance(exc, Interrupted) else Status.FAILED
            reason = exc.reason if isinstance(exc, StageFailed) else exc.message
            self._record(stage, status, started, reason)
            self.report.error = str(exc)
            raise
        except KeyboardInterrupt:
            self._record(stage, Status.INTERRUPTED, started, "interrupted by SIGINT")
            self.report.error = "interrupted by SIGINT"
            raise
        status = Status.SKIPPED if stage in self._skipped else Status.PASSED
        self._record(stage, status, started, summary)

    def _record(self, stage: str, status: Status, started: float, summary: str) -> None:
        seconds = time.monotonic() - started
        self.report.stages.append(StageResult(stage, status, seconds, summary))

    # --- stages ------------------------------------------------------------------------------

    def _lint(self) -> str:
        from pipeline.lint.stage import publish, run_lint

        build = self.config.build
        result = run_lint(
            self.config.lint, self.config.root, build.dockerfile, build.context, self.log
        )
        publish(result, self.config.root, self.environ, self.options.sarif, self.log)
        self.on_findings(result.findings, self.config.root, self.config.lint.failure_threshold)
        failing = result.failing(self.config.lint.failure_threshold)
        if failing:
            raise StageFailed(
                "lint",
                f"{len(failing)} finding(s) at or above {self.config.lint.failure_threshold}; "
                f"first: {failing[0]}",
                hint="fix them, or raise lint.failure_threshold in pipeline.yaml",
            )
        if not result.tools:  # a lint stage that checked nothing is skipped, not passed
            self._skipped.add("lint")
            return "no linter ran: " + ("; ".join(result.skipped) or "all disabled in the config")
        return f"{', '.join(result.tools)}: {len(result.findings)} finding(s)"

    def _build(self) -> str:
        from pipeline.build.stage import build_image
        from pipeline.tags.metadata import image_metadata

        metadata = self._metadata or image_metadata(
            self.config.metadata, self.config.root, self.environ
        )
        for warning in metadata.warnings:
            self.log(f"warning: {warning}")
        if not metadata.tags:
            raise StageFailed(
                "build",
                "the tag rules produced no tag for this context",
                hint="add a rule that always applies, e.g. type=sha",
            )
        labels = dict(metadata.labels)
        if self.options.skip_smoke:
            labels["io.hoist.smoke"] = "skipped"
        self.report.version, self.report.tags, self.report.labels = (
            metadata.version,
            metadata.tags,
            labels,
        )
        references = [f"{self.config.image}:{tag}" for tag in metadata.tags]
        self._cache = cache_plan(
            self.config.build.cache, self.config.registries, self.config.image, self.environ,
            self.log,
        )  # fmt: skip
        built = build_image(
            self.client, self.config.build, references, labels, self.log, self.environ, self._cache
        )
        self._built = built
        self.report.labels = built.labels  # `created` is the reused image's when unchanged
        self.report.image_id = built.image_id
        self.report.size, self.report.own_size = built.size, built.own_size
        self.report.base_image = built.base.used
        cache = f", {built.cached_steps}/{built.steps} steps cached" if built.steps else ""
        return (
            f"{built.image_id[7:19]} {human_size(built.size)} "
            f"(own layers {human_size(built.own_size)}{cache})"
        )

    def _write_cache(self) -> None:
        """The gates passed (every stage so far, smoke included): the build's layers may now
        become the next run's cache. Never after a failed stage, never for a pull request."""
        if self._built is None or self._built.cache_export is None or self._cache is None:
            return
        try:
            write_cache(self.client, self._built.cache_export, self._cache, self.environ, self.log)
        except (KeyboardInterrupt, Interrupted):
            self.report.error = "interrupted while writing the build cache"
            raise

    def _smoke(self) -> str:
        from pipeline.smoke.stage import smoke_test

        assert self._built is not None, "smoke runs after build"
        junit = Path(self.options.junit) if self.options.junit else None
        result = smoke_test(
            self.client,
            self._built.image_id,
            self.config.smoke,
            self.report.run_id,
            self.log,
            junit=junit,
        )
        return f"ready in {result.seconds_to_ready:.2f} s; " + "; ".join(result.checks)

    def _push(self) -> str:
        from pipeline.push.stage import push_all

        passed = {s.stage for s in self.report.stages if s.ok}
        required = {"lint", "build"} if self.options.skip_smoke else {"lint", "build", "smoke"}
        if "lint" in self._skipped:
            raise StageFailed(
                "push",
                "refused: the lint stage ran no linter, so nothing was checked",
                hint="enable one in pipeline.yaml's lint: section (hadolint: true)",
            )
        if self._built is None or not required <= passed:
            missing = ", ".join(sorted(required - passed))
            raise StageFailed("push", f"refused: {missing} must pass in the same run first")
        targets = self.targets()
        results = push_all(
            self.client, self._built.image_id, targets, self.report.tags, self.environ, self.log
        )
        self.report.pushes = results
        failed = [r for r in results if not r.ok]
        if failed:
            raise StageFailed(
                "push",
                f"{len(failed)} of {len(results)} target(s) failed: "
                + "; ".join(r.error or r.target for r in failed),
            )
        return f"{len(results)} target(s): {', '.join(r.target for r in results)}"

    def targets(self) -> list[Target]:
        from pipeline.push.registries import select_targets

        return select_targets(
            self.config.registries,
            self.options.targets,
            self.config.image,
            self.environ,
            self.config.path.name,
        )
