"""Chain the stages — lint → build → smoke → push — and stop at the first failure.

Each stage is timed and becomes a ``StageResult``; a failing stage is recorded and its error
raised, so the run stops there and the task shows one line for it. An interrupt (Ctrl-C,
SIGTERM) is recorded the same way, after the stage's own cleanup ran.

The runner owns the gates: push runs only after lint and smoke passed in the same run, on the
very image that was built; ``skip_smoke`` is the one explicit way around the smoke gate and it
is recorded in the report and in an image label. Credentials are a gate too, checked early:
missing ones are bad input, refused before any stage; the registries are asked about the rest
beside lint and build, and a refusal stops the run before smoke as a failed push stage —
nothing pushed to any target, so a release never goes half out.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import docker
from cryptography.hazmat.primitives.asymmetric import ec

from pipeline.attest.evidence import gather
from pipeline.attest.material import load_signer
from pipeline.attest.stage import attest_pushes
from pipeline.build.cache import CachePlan
from pipeline.build.context import check_context
from pipeline.build.stage import BuildResult, build_image, tag_image
from pipeline.engine import docker_client
from pipeline.errors import Interrupted, PipelineError, StageFailed
from pipeline.lint.findings import Finding, LintResult
from pipeline.lint.stage import publish, run_lint
from pipeline.project import PipelineConfig
from pipeline.push.cache import cache_plan, write_cache
from pipeline.push.registries.credential_check import CredentialCheck, Verdict
from pipeline.push.registries.kinds import Target, check_targets, select_targets
from pipeline.push.stage import push_all
from pipeline.report import RunReport
from pipeline.result import Log, StageResult, Status, new_run_id
from pipeline.smoke.stage import SmokeResult, smoke_test
from pipeline.tags.evaluate import Metadata
from pipeline.tags.metadata import image_metadata
from pipeline.units import human_size

STAGES = ("lint", "build", "smoke", "push")


@dataclass(frozen=True)
class RunOptions:
    stages: tuple[str, ...] = STAGES
    targets: tuple[str, ...] = ()
    skip_smoke: bool = False
    sarif: str | None = None  # write lint findings as SARIF 2.1.0 here
    junit: str | None = None  # write smoke results as JUnit XML here (default: state dir)


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
        self._checked_targets: list[Target] | None = None
        self._credential_check: CredentialCheck | None = None
        self._linted: LintResult | None = None
        self._smoked: SmokeResult | None = None
        self._signer: ec.EllipticCurvePrivateKey | None = None

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = docker_client()
        return self._client

    def check_inputs(self) -> None:
        """Refuse bad input before any stage runs: nothing is built, started or pushed.

        pipeline.yaml was validated when loaded; this checks what only a run can: the build
        context (no symlink leading outside it), the tags of this context (rules evaluated,
        ``DOCKER_METADATA_*`` variables), the push targets ``--to`` selects and their
        credentials, as far as they can be known without asking anyone. Each problem is a
        ``ConfigError`` or ``MissingCredentials`` (exit code 2), raised before the report
        exists.
        """
        if "build" in self.options.stages:
            check_context(self.config.build.context, self.config.build.dockerfile)
            self._metadata = image_metadata(self.config.metadata, self.config.root, self.environ)
        if "push" in self.options.stages:
            self._targets_to_check()
            if self.config.signing is not None:  # a key that cannot sign stops the run here
                self._signer = load_signer(self.config.signing, self.environ, self.config.path.name)
                if self._signer is None:
                    self.report.skipped_gates.append(
                        f"signing ({self.config.signing.key} not set; signing.required: false)"
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
        if "push" in self.options.stages:
            self._start_credential_check()
        try:
            for stage in STAGES:
                skipped = stage == "smoke" and self.options.skip_smoke
                if stage not in self.options.stages or skipped:
                    continue
                if stage in ("smoke", "push"):
                    self._await_credentials()
                self._stage(stage, steps[stage])
                if stage == "smoke":
                    self._write_cache()
        finally:
            if self._credential_check is not None:  # the run stopped before it was awaited
                self._credential_check.cancel()
        if "push" in self.options.stages and self._signer is not None:
            self._stage("attest", self._attest)
        return self.report

    def _stage(self, stage: str, step: Callable[[], str]) -> None:
        """Run one stage; a failure is recorded in the report, then raised to the task."""
        self.on_stage(stage)
        started = time.monotonic()
        with self._failure_recorded(stage, started):
            summary = step()
        status = Status.SKIPPED if stage in self._skipped else Status.PASSED
        self._record(stage, status, started, summary)

    @contextlib.contextmanager
    def _failure_recorded(self, stage: str, started: float) -> Iterator[None]:
        """A failure or an interrupt inside is recorded as ``stage``'s, then raised on."""
        try:
            yield
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

    def _record(self, stage: str, status: Status, started: float, summary: str) -> None:
        seconds = time.monotonic() - started
        self.report.stages.append(StageResult(stage, status, seconds, summary))

    # --- the credential gate -----------------------------------------------------------------

    def _targets_to_check(self) -> list[Target]:
        """The targets ``--to`` chooses, refused if missing credentials (once per run); local
        targets are left out: resolving one starts the embedded registry, and hoist made its
        credentials."""
        if self._checked_targets is None:
            self._checked_targets = check_targets(
                self.config.registries,
                self.options.targets,
                self.config.image,
                self.environ,
                self.config.path.name,
            )
        return self._checked_targets

    def _start_credential_check(self) -> None:
        """Ask every target's registry, in threads, while lint and build run."""
        targets = self._targets_to_check()
        if targets:
            self._credential_check = CredentialCheck(targets, self.environ, self.log)

    def _await_credentials(self) -> None:
        """Before smoke (or push, when smoke is skipped): a registry that refused stops the run
        as a failed push stage, so no target receives anything; one that could not tell (down,
        5xx after retries) is the push's to try, as before. Waiting belongs to push, too: an
        interrupt meanwhile is recorded as push's."""
        check = self._credential_check
        if check is None:
            return
        pending = check.pending()
        if pending:
            self.log(f"waiting for the credential check of {', '.join(pending)}")
        with self._failure_recorded("push", time.monotonic()):
            verdicts = check.wait()
            self._credential_check = None
            for verdict in verdicts:
                if verdict.verdict is Verdict.ACCEPTED:
                    self.log(f"[{verdict.target}] credentials accepted by the registry")
                elif verdict.verdict is Verdict.UNCHECKED:
                    self.log(f"[{verdict.target}] credentials not checked ({verdict.reason}); "
                             "the push will try")  # fmt: skip
            refused = [v for v in verdicts if v.verdict is Verdict.REFUSED]
            if refused:
                self.on_stage("push")
                raise StageFailed(
                    "push",
                    "refused before any target was pushed: " + "; ".join(v.reason for v in refused),
                    hint="correct the credentials, or leave "
                    f"{', '.join(v.target for v in refused)} out with --to",
                )

    # --- stages ------------------------------------------------------------------------------

    def _lint(self) -> str:
        build = self.config.build
        result = run_lint(
            self.config.lint, self.config.root, build.dockerfile, build.context, self.log
        )
        publish(result, self.config.root, self.environ, self.options.sarif, self.log)
        self.on_findings(result.findings, self.config.root, self.config.lint.failure_threshold)
        self._linted = result
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
        tag_image(self.client, built)
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
        self._smoked = result
        return f"ready in {result.seconds_to_ready:.2f} s; " + "; ".join(result.checks)

    def _push(self) -> str:
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

    def _attest(self) -> str:
        """Sign what was pushed and attach what this run proved about it (signing:)."""
        assert self._built is not None and self._signer is not None and self.config.signing
        evidence = gather(
            run_id=self.report.run_id, started=self.report.started, config_path=self.config.path,
            image=self.config.image, tags=self.report.tags, built=self._built, lint=self._linted,
            smoke=self._smoked, skipped_gates=self.report.skipped_gates, client=self.client,
            environ=self.environ,
        )  # fmt: skip
        by_name = {target.name: target for target in self.targets()}
        pushed = [(by_name[r.target], r.digest) for r in self.report.pushes if r.digest]
        self.report.attestations = attest_pushes(
            self._signer, self.config.signing, evidence, pushed, self.environ, self.log
        )
        kinds = ", ".join(self.report.attestations[0].attestations) or "signature only"
        return f"{len(pushed)} target(s) signed: {kinds}"

    def targets(self) -> list[Target]:
        return select_targets(
            self.config.registries,
            self.options.targets,
            self.config.image,
            self.environ,
            self.config.path.name,
        )
