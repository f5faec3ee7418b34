"""Chain the stages — lint → build → smoke → push — and stop at the first failure.

What does not depend on each other overlaps: lint runs beside build and smoke (in a thread of
its own; its linters are processes, mostly waiting on their own start-up), the registries are
asked about the credentials beside them (``CredentialCheck``), and smoke starts as soon as the
image exists. The image is tagged only once lint passed, and push needs both: a lint failure
stops the build or the smoke test at its next line (``order.Cancelled``, cleaned up as on
SIGTERM) and leaves no tagged image. However the stages overlapped, the output and the report
read in flow order, one stage after the other (``order.StageOrder``), and an earlier stage's
failure is the run's: a build that fails while lint is still running waits for lint's verdict.

Each stage is a step (``run.steps``) from plain inputs to a typed result, handed forward
explicitly to the next, and becomes a ``StageResult``: timed, recorded, its error raised, so
the run stops there and the task shows one line for it. An interrupt (Ctrl-C, SIGTERM) is
recorded the same way, after the stage's own cleanup ran; lint, if still running, is recorded
as interrupted with it. The gates (``run.gates``) are the runner's: push only after lint and
smoke passed for the very image that was built, ``skip_smoke`` the one explicit way around
the smoke gate (recorded in the report and in an image label), and credentials refused before
any stage when missing, or before smoke when a registry says no. Once lint and smoke passed
for the image, its layers may become the next run's cache (``build.cache``); once it is
pushed, the attest stage signs it when ``signing:`` asks.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypeVar

import docker

from pipeline.attest.material import load_run_signer
from pipeline.build.backend import Backend, choose_backend
from pipeline.build.context import check_context
from pipeline.engine import docker_client
from pipeline.errors import Interrupted, PipelineError, StageFailed
from pipeline.futures import BackgroundCleanup, result_of
from pipeline.paths import state_dir
from pipeline.platforms.stages import PlatformStages
from pipeline.project import PipelineConfig
from pipeline.push.cache import cache_plan
from pipeline.push.registries.credential_check import CredentialCheck
from pipeline.push.registries.kinds import Target, check_targets, select_targets
from pipeline.report import RunReport
from pipeline.result import Log, StageResult, new_run_id
from pipeline.run import gates, steps
from pipeline.run.options import RunOptions
from pipeline.run.order import Cancelled, StageOrder
from pipeline.run.records import SIGINT, failure, passed_result, record_image
from pipeline.tags.evaluate import Metadata
from pipeline.tags.metadata import image_metadata
from pipeline.verdicts.store import VerdictStore

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

T = TypeVar("T", bound=steps.Outcome)
SKIPPED_SMOKE_LABEL = "io.hoist.smoke"


@dataclass(frozen=True)
class RunInputs:
    """What ``check_inputs`` found, for the stages: the tags of this context and the builder
    (when building), the push targets whose registries are asked about the credentials, and
    the signing key (when pushing with ``signing:``; None when it is optional and not set),
    and the platforms of ``build.platforms`` this run builds (None: the engine's own only)."""

    metadata: Metadata | None = None
    targets: tuple[Target, ...] = ()
    signer: ec.EllipticCurvePrivateKey | None = None
    backend: Backend | None = None
    platforms: PlatformStages | None = None


@dataclass(frozen=True)
class _Beside:
    """Lint, running in its own thread."""

    future: Future[steps.Linted]
    started: float


class Runner:
    """One pipeline run: its stages, scheduled, their results handed forward, and the report."""

    def __init__(
        self,
        config: PipelineConfig,
        options: RunOptions,
        environ: Mapping[str, str],
        log: Log,
        on_stage: Callable[[str], None] | None = None,
        on_findings: steps.OnFindings | None = None,
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
        reuse = options.reuse_verdicts and environ.get("HOIST_NO_CACHE", "") in ("", "0")
        self.verdicts = VerdictStore(state_dir() / "verdicts", self.report.run_id, reuse)
        self._client: docker.DockerClient | None = None
        self.cleanup = BackgroundCleanup()  # waited for before the run ends

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = docker_client()
        return self._client

    def check_inputs(self) -> RunInputs:
        """Refuse bad input before any stage runs: nothing is built, started or pushed.

        pipeline.yaml was validated when loaded; this checks what only a run can: the build
        context (no symlink leading outside it), the tags of this context (rules evaluated,
        ``DOCKER_METADATA_*`` variables), the push targets ``--to`` selects and their
        credentials, as far as they can be known without asking anyone, and the signing key.
        Each problem is a ``ConfigError`` or ``MissingCredentials`` (exit code 2), raised
        before the report is written. Local targets are left out of the result: resolving one
        starts the embedded registry, and hoist made its credentials.
        """
        config, stages, options = self.config, self.options.stages, self.options
        metadata = backend = None
        platforms = PlatformStages.for_run(config, options.platform, options.by_digest, stages,
                                           lambda: self.client)  # fmt: skip
        if "build" in stages:
            check_context(config.build.context, config.build.dockerfile)
            backend = choose_backend(config.build, self.environ)  # no capable CLI: refused here
            metadata = image_metadata(config.metadata, config.root, self.environ)
        targets: list[Target] = []
        signer = None
        if "push" in stages:
            wanted = self.options.targets
            targets = check_targets(
                config.registries, wanted, config.image, self.environ, config.path.name
            )
            # the key that signs what is pushed; one that cannot sign stops the run here
            signer = load_run_signer(config.signing, self.environ, config.path.name,
                                     self.report.skipped_gates)  # fmt: skip
        return RunInputs(metadata, tuple(targets), signer, backend, platforms)

    def run(self, inputs: RunInputs | None = None) -> RunReport:
        inputs = inputs or self.check_inputs()
        if self.options.skip_smoke:
            self.report.skipped_gates.append("smoke (--skip-smoke)")
        order = StageOrder(self.report, self.log, self.on_stage)
        check = None
        if "push" in self.options.stages and inputs.targets:  # asked beside lint and build
            check = CredentialCheck(inputs.targets, self.environ, order.line)
        started = time.monotonic()
        lint = self._lint_beside(order) if "lint" in self.options.planned else None
        try:
            self._stages(inputs, order, lint, check)
            self.cleanup.wait()
        except (Interrupted, KeyboardInterrupt) as exc:
            if lint is not None:  # still running: interrupted with the stage beside it
                order.fail(failure("lint", exc, lint.started))
            self.report.error = str(exc) if isinstance(exc, Interrupted) else SIGINT
            raise
        except PipelineError as exc:
            self.report.error = str(exc)
            raise
        finally:
            if check is not None:  # the run stopped before it was awaited
                check.cancel()
            self.cleanup.wait(raise_first=False)  # a stage failed: its clean-up is done too
            self.report.seconds = round(time.monotonic() - started, 3)
        return self.report

    def _stages(
        self,
        inputs: RunInputs,
        order: StageOrder,
        lint: _Beside | None,
        check: CredentialCheck | None,
    ) -> None:
        try:
            self._chain(inputs, order, lint, check)
        except Cancelled:  # lint failed, and this thread's stage stopped: lint's is the error
            if lint is not None:
                result_of(lint.future)
            raise

    def _chain(
        self,
        inputs: RunInputs,
        order: StageOrder,
        lint: _Beside | None,
        check: CredentialCheck | None,
    ) -> None:
        """This thread's stages, lint beside them: build, smoke; then, lint passed, the tags,
        the layer cache (smoke passed too), push and attest. An image whose smoke test failed
        is still tagged (to look into it); its layers are not cached."""
        planned = self.options.planned
        built = smoked = None
        if "build" in planned:
            build = functools.partial(self._build, inputs, order)
            built = self._here(order, lint, "build", build)
        try:
            if check is not None:
                self._await_credentials(order, lint, check)
            if "smoke" in planned:
                smoked = self._here(order, lint, "smoke", functools.partial(self._smoke, built))
        except StageFailed:
            if built is not None and _passed(lint):
                steps.tag_step(self.client, built)
            raise
        linted = result_of(lint.future) if lint is not None else None
        if built is not None:
            steps.tag_step(self.client, built)
            if smoked is not None:
                self._write_cache(built, order)
        if "push" in planned:
            push = functools.partial(self._push, linted, built, smoked)
            pushed = self._here(order, lint, "push", push)
            if inputs.signer is not None:  # each platform's smoke result is the platforms'
                one = smoked if isinstance(smoked, steps.Smoked) else None
                proven = steps.Proven(self.report.run_id, self.report.started, self.config.path,
                                      self.config.image, self.report.skipped_gates, linted,
                                      one)  # fmt: skip
                attest = functools.partial(self._attest, inputs.signer, proven, built, pushed)
                self._here(order, lint, "attest", attest)

    def _here(
        self, order: StageOrder, lint: _Beside | None, stage: str, step: Callable[[Log], T]
    ) -> T:
        """One stage in this thread, lint perhaps still running beside it."""
        log = order.start(stage)
        started = time.monotonic()
        try:
            outcome = step(log)
        except (PipelineError, KeyboardInterrupt) as exc:
            self._stop(order, lint, failure(stage, exc, started), exc)
        order.end(passed_result(stage, outcome, started))
        return outcome

    def _stop(
        self, order: StageOrder, lint: _Beside | None, failure: StageResult, exc: BaseException
    ) -> NoReturn:
        """``failure`` ends the run — unless lint, earlier in the flow and beside it, fails:
        then lint's failure is the run's. (An interrupt stops at once.)"""
        order.fail(failure)
        if lint is not None and not isinstance(exc, (Interrupted, KeyboardInterrupt)):
            result_of(lint.future)  # raises lint's failure
        raise exc

    # --- lint, beside ------------------------------------------------------------------------

    def _lint_beside(self, order: StageOrder) -> _Beside:
        log = order.start("lint")
        started = time.monotonic()
        pool = ThreadPoolExecutor(1, thread_name_prefix="hoist-lint-stage")
        future = pool.submit(self._linted, order, log, started)
        pool.shutdown(wait=False)
        return _Beside(future, started)

    def _linted(self, order: StageOrder, log: Log, started: float) -> steps.Linted:
        """The lint stage, in its thread: its verdict, its gate, and its record in ``order``
        (a failure drops the stages after it and stops them)."""
        settings = self.config.lint
        try:
            linted = self._lint(log)
            steps.lint_gate(linted, settings.failure_threshold, self.config.root, self.environ,
                            self.options.sarif, self.on_findings, log)  # fmt: skip
        except Exception as exc:
            order.fail(failure("lint", exc, started))
            raise
        steps.keep_lint(linted, self.verdicts, log)
        order.end(passed_result("lint", linted, started))
        return linted

    def _lint(self, log: Log) -> steps.Linted:
        config = self.config
        return steps.lint_step(config.lint, config.root, config.build, self.verdicts, log)

    # --- this thread's stages ----------------------------------------------------------------

    def _build(self, inputs: RunInputs, order: StageOrder, log: Log) -> steps.Built:
        """The image; what the report says of it is recorded with the build's result."""
        config, report = self.config, self.report
        metadata = inputs.metadata or image_metadata(config.metadata, config.root, self.environ)
        labels = dict(metadata.labels)
        if self.options.skip_smoke:
            labels[SKIPPED_SMOKE_LABEL] = "skipped"

        def tags() -> None:  # also when the build fails
            report.version, report.tags, report.labels = metadata.version, metadata.tags, labels

        order.when_recorded("build", tags)
        cache = cache_plan(config.build.cache, config.registries, config.image, self.environ, log)
        built = steps.build_step(self.client, config.build, config.image, metadata, labels,
                                 cache, inputs.backend, self.environ, log,
                                 inputs.platforms)  # fmt: skip
        order.when_recorded("build", functools.partial(record_image, report, built))
        return built

    def _smoke(self, built: steps.Built | None, log: Log) -> steps.Smoked | steps.SmokedPlatforms:
        assert built is not None, "smoke runs after build"
        junit = Path(self.options.junit) if self.options.junit else None
        return steps.smoke_step(self.client, built, self.config.smoke, self.verdicts,
                                self.environ, junit, log, self.cleanup)  # fmt: skip

    def _push(
        self,
        linted: steps.Linted | None,
        built: steps.Built | None,
        smoked: steps.Smoked | steps.SmokedPlatforms | None,
        log: Log,
    ) -> steps.Pushed:
        image = gates.push_gate(linted, built, smoked, self.options.skip_smoke)
        by_digest = self.report.by_digest = self.options.by_digest and image.platforms is not None
        pushed = steps.push_step(self.client, image, self.targets(), self.environ, log, by_digest)
        self.report.pushes = pushed.results
        pushed.raise_failures()
        return pushed

    def _write_cache(self, built: steps.Built, order: StageOrder) -> None:
        try:
            steps.cache_step(self.client, built, self.environ, order.line)
        except (Interrupted, KeyboardInterrupt):
            order.line("interrupted while writing the build cache")
            raise

    def _attest(
        self,
        key: ec.EllipticCurvePrivateKey,
        proven: steps.Proven,
        built: steps.Built | None,
        pushed: steps.Pushed,
        log: Log,
    ) -> steps.Attested:
        assert built is not None and self.config.signing is not None, "attest follows a push"
        by_name = {target.name: target for target in self.targets()}
        digests = [(by_name[r.target], r.digest) for r in pushed.results if r.digest]
        attested = steps.attest_step(self.client, key, self.config.signing, proven, built,
                                     digests, self.environ, log, self.report.by_digest)  # fmt: skip
        self.report.attestations = attested.results
        return attested

    def _await_credentials(
        self, order: StageOrder, lint: _Beside | None, check: CredentialCheck
    ) -> None:
        """Before smoke (or push, when smoke is skipped): a registry that refused stops the run
        as a failed push stage, so no target receives anything; one that could not tell (down,
        5xx after retries) is the push's to try. Waiting belongs to push, too: an interrupt
        meanwhile is recorded as push's."""
        pending = check.pending()
        if pending:
            order.line(f"waiting for the credential check of {', '.join(pending)}")
        started = time.monotonic()
        try:
            verdicts = check.wait()
        except (PipelineError, KeyboardInterrupt) as exc:
            order.start("push")
            self._stop(order, lint, failure("push", exc, started), exc)
        for line in gates.credential_lines(verdicts):
            order.line(line)
        refused = gates.refusal(verdicts)
        if refused is not None:
            order.start("push")
            self._stop(order, lint, failure("push", refused, started), refused)

    def targets(self) -> list[Target]:
        return select_targets(
            self.config.registries,
            self.options.targets,
            self.config.image,
            self.environ,
            self.config.path.name,
        )


def _passed(lint: _Beside | None) -> bool:
    """Lint passed (or was not planned); False while it still runs."""
    return lint is None or (lint.future.done() and lint.future.exception() is None)
