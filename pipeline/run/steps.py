"""The runner's steps: each stage as a function from plain inputs — its section of
pipeline.yaml and the results of the stages before it — to a typed result.

The runner hands these results forward explicitly: build gets the tags (``Metadata``), smoke
the ``Built`` image, push the ``Linted``, ``Built`` and ``Smoked`` results its gate checks.
Lint and smoke first look for a verdict kept from an earlier run on the very same inputs
(``pipeline.verdicts``): a kept pass is shown as ``cached`` with the run that verified it,
and what it found is shown, annotated and reported as if found now. Only passes are kept.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import docker

from pipeline.attest.evidence import gather
from pipeline.attest.settings import SigningConfig
from pipeline.attest.stage import AttestResult, attest_pushes
from pipeline.attest.statements import Evidence
from pipeline.build.backend import Backend
from pipeline.build.cache import CachePlan
from pipeline.build.settings import BuildConfig
from pipeline.build.stage import BuildResult, build_image, tag_image
from pipeline.errors import StageFailed
from pipeline.futures import BackgroundCleanup
from pipeline.lint.findings import Finding, LintResult
from pipeline.lint.inputs import lint_inputs
from pipeline.lint.settings import LintConfig
from pipeline.lint.stage import publish, run_lint, show
from pipeline.platforms.stages import PlatformStages, attest_platforms
from pipeline.push.cache import write_cache
from pipeline.push.registries.kinds import Target
from pipeline.push.stage import push_all
from pipeline.push.target import PushResult
from pipeline.result import Log, Status, VerifiedBy
from pipeline.smoke.inputs import smoke_inputs
from pipeline.smoke.junit import write_junit
from pipeline.smoke.settings import SmokeConfig
from pipeline.smoke.stage import SmokeResult, smoke_test
from pipeline.tags.evaluate import Metadata
from pipeline.units import human_size
from pipeline.verdicts.keys import hoist_identity, lint_key, smoke_key
from pipeline.verdicts.records import lint_from_record, lint_record, smoke_from_record, smoke_record
from pipeline.verdicts.store import VerdictStore

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

OnFindings = Callable[[list[Finding], Path, str], None]


class Outcome(Protocol):
    """What the report needs of a step's result (``StageResult``'s status, summary, cached)."""

    @property
    def status(self) -> Status: ...

    @property
    def summary(self) -> str: ...

    @property
    def cached(self) -> VerifiedBy | None: ...


@dataclass(frozen=True)
class Linted:
    result: LintResult
    key: str  # of the kept verdict (``verdicts.keys.lint_key``)
    cached: VerifiedBy | None = None

    @property
    def status(self) -> Status:
        """A lint stage that checked nothing is skipped, not passed (and push refuses it)."""
        return Status.PASSED if self.result.tools else Status.SKIPPED

    @property
    def summary(self) -> str:
        if not self.result.tools:
            return "no linter ran: " + (
                "; ".join(self.result.skipped) or "all disabled in the config"
            )
        return f"{', '.join(self.result.tools)}: {len(self.result.findings)} finding(s)"


@dataclass(frozen=True)
class Built:
    image: BuildResult
    tags: list[str]  # what push gives every target (``image.references``: this engine's)
    cache: CachePlan | None = None  # the layer cache read, to write once the gates passed
    status: Status = Status.PASSED
    cached: VerifiedBy | None = None  # an unchanged image is reused by the build itself
    platforms: PlatformStages | None = None  # build.platforms: ``image`` is the primary's

    @property
    def summary(self) -> str:
        if self.platforms is not None:
            return self.platforms.summary()
        built = self.image
        cache = f", {built.cached_steps}/{built.steps} steps cached" if built.steps else ""
        return (
            f"{built.image_id[7:19]} {human_size(built.size)} "
            f"(own layers {human_size(built.own_size)}{cache})"
        )


@dataclass(frozen=True)
class Smoked:
    image_id: str  # the image this verdict is for: push accepts it for that image only
    result: SmokeResult
    cached: VerifiedBy | None = None
    status: Status = Status.PASSED

    @property
    def summary(self) -> str:
        result = self.result
        return f"ready in {result.seconds_to_ready:.2f} s; " + "; ".join(result.checks)


@dataclass(frozen=True)
class SmokedPlatforms:
    """Every platform of ``build.platforms`` passed smoke, each on its own platform (never
    kept: each run checks them all)."""

    image_id: str  # the primary platform's image, the one the build handed forward
    summary: str
    cached: VerifiedBy | None = None
    status: Status = Status.PASSED


def cached_line(verified: VerifiedBy) -> str:
    return f"cached: verified by run {verified.run_id} at {verified.at}"


def lint_step(
    settings: LintConfig, root: Path, build: BuildConfig, verdicts: VerdictStore, log: Log
) -> Linted:
    """The linters' findings: kept from an earlier run with the same inputs, or found now."""
    inputs = lint_inputs(settings, root, build.dockerfile, build.context)
    key = lint_key(settings, inputs, hoist_identity())
    kept = verdicts.find("lint", key)
    result = lint_from_record(kept.record) if kept else None
    if kept and result:
        log(cached_line(kept.verified))
        show(result, log)
        return Linted(result, key, kept.verified)
    return Linted(run_lint(settings, root, build.dockerfile, build.context, log), key)


def lint_gate(
    linted: Linted,
    threshold: str,
    root: Path,
    environ: Mapping[str, str],
    sarif: str | None,
    on_findings: OnFindings,
    log: Log,
) -> None:
    """SARIF and annotations for every finding, then fail at ``threshold``."""
    publish(linted.result, root, environ, sarif, log)
    on_findings(linted.result.findings, root, threshold)
    failing = linted.result.failing(threshold)
    if failing:
        raise StageFailed(
            "lint",
            f"{len(failing)} finding(s) at or above {threshold}; first: {failing[0]}",
            hint="fix them, or raise lint.failure_threshold in pipeline.yaml",
        )


def build_step(
    client: docker.DockerClient,
    build: BuildConfig,
    image: str,
    metadata: Metadata,
    labels: dict[str, str],
    cache: CachePlan | None,
    backend: Backend | None,
    environ: Mapping[str, str],
    log: Log,
    platforms: PlatformStages | None = None,
) -> Built:
    """The image with ``labels``, for every tag of ``metadata`` (given once lint passed), by
    ``backend`` (chosen with the inputs), on the layers of the ``cache`` plan when there is
    one; with ``platforms``, one image per platform, each on its own cache ref."""
    for warning in metadata.warnings:
        log(f"warning: {warning}")
    if not metadata.tags:
        raise StageFailed(
            "build",
            "the tag rules produced no tag for this context",
            hint="add a rule that always applies, e.g. type=sha",
        )
    references = [f"{image}:{tag}" for tag in metadata.tags]
    if platforms is not None:
        primary = platforms.build(client, build, references, labels, environ, log, backend, cache)
        return Built(primary, list(metadata.tags), cache, platforms=platforms)
    built = build_image(client, build, references, labels, log, environ, cache, backend)
    return Built(built, list(metadata.tags), cache)


def tag_step(client: docker.DockerClient, built: Built) -> None:
    """Every image the build made gets its local tags (once lint passed)."""
    for image in built.platforms.builds.values() if built.platforms else [built.image]:
        tag_image(client, image)


def cache_step(
    client: docker.DockerClient, built: Built, environ: Mapping[str, str], log: Log
) -> None:
    """The gates passed (lint and smoke, for this image): its layers may become the next
    run's cache. Never after a failure, never for a pull request (its plan writes nothing);
    with several platforms, each platform's to its own ref."""
    if built.cache is None:
        return
    if built.platforms is not None:
        for export, plan in built.platforms.caches(built.cache):
            write_cache(client, export, plan, environ, log)
    elif built.image.cache_export is not None:
        write_cache(client, built.image.cache_export, built.cache, environ, log)


def smoke_step(
    client: docker.DockerClient,
    built: Built,
    smoke: SmokeConfig,
    verdicts: VerdictStore,
    environ: Mapping[str, str],
    junit: Path | None,
    log: Log,
    cleanup: BackgroundCleanup | None = None,
) -> Smoked | SmokedPlatforms:
    """The built image's smoke verdict: kept from an earlier run of the same image, section
    and hoist, or checked now (and kept when it passed); each platform's, on its platform.
    ``cleanup`` removes the smoke container beside the next stage."""
    image_id = built.image.image_id
    if built.platforms is not None:
        summary = built.platforms.smoke(client, smoke, verdicts.run_id, log, junit)
        return SmokedPlatforms(image_id, summary)
    inputs = smoke_inputs(smoke, environ)
    key = smoke_key(image_id, inputs, hoist_identity()) if inputs is not None else None
    kept = verdicts.find("smoke", key) if key else None
    result = smoke_from_record(kept.record) if kept else None
    if kept and result:
        log(cached_line(kept.verified))
        if junit is not None:  # asked for: the kept checks, with the times they took then
            log(f"junit: {write_junit(junit, result.results)}")
        return Smoked(image_id, result, kept.verified)
    result = smoke_test(client, image_id, smoke, verdicts.run_id, log, junit, cleanup)
    if key:
        keep(verdicts, "smoke", key, smoke_record(result), log)
    return Smoked(image_id, result)


def keep_lint(linted: Linted, verdicts: VerdictStore, log: Log) -> None:
    """Keep a lint pass found now (not one that ran no linter: nothing was checked)."""
    if linted.cached is None and linted.status is Status.PASSED:
        keep(verdicts, "lint", linted.key, lint_record(linted.result), log)


def keep(verdicts: VerdictStore, stage: str, key: str, record: dict[str, Any], log: Log) -> None:
    """A verdict that cannot be kept (no space, a read-only state dir) costs the next run
    its reuse, not this run its result."""
    try:
        verdicts.keep(stage, key, record)
    except OSError as exc:
        log(f"warning: {stage} verdict not kept: {exc}")


@dataclass(frozen=True)
class Pushed:
    results: list[PushResult]  # every target's, failed ones too (the report keeps them all)
    status: Status = Status.PASSED
    cached: VerifiedBy | None = None

    @property
    def summary(self) -> str:
        return f"{len(self.results)} target(s): {', '.join(r.target for r in self.results)}"

    def raise_failures(self) -> None:
        failed = [r for r in self.results if not r.ok]
        if failed:
            raise StageFailed(
                "push",
                f"{len(failed)} of {len(self.results)} target(s) failed: "
                + "; ".join(r.error or r.target for r in failed),
            )


def push_step(
    client: docker.DockerClient,
    built: Built,
    targets: list[Target],
    environ: Mapping[str, str],
    log: Log,
    by_digest: bool = False,
) -> Pushed:
    """The built image to every target (``push.stage``: fan-out, retries, digests checked);
    several platforms as one image index (each platform by digest only, with ``by_digest``)."""
    if built.platforms is not None:
        return Pushed(built.platforms.push(targets, built.tags, environ, log, by_digest))
    return Pushed(push_all(client, built.image.image_id, targets, built.tags, environ, log))


@dataclass(frozen=True)
class Attested:
    results: list[AttestResult]
    status: Status = Status.PASSED
    cached: VerifiedBy | None = None

    @property
    def summary(self) -> str:
        kinds = ", ".join(self.results[0].attestations) if self.results else ""
        return f"{len(self.results)} target(s) signed: {kinds or 'signature only'}"


@dataclass(frozen=True)
class Proven:
    """What this run proved about the image it pushed: the evidence attest signs."""

    run_id: str
    started: str
    config_path: Path
    image: str
    skipped_gates: list[str]
    linted: Linted | None
    smoked: Smoked | None


def attest_step(
    client: docker.DockerClient,
    key: ec.EllipticCurvePrivateKey,
    signing: SigningConfig,
    proven: Proven,
    built: Built,
    pushed: list[tuple[Target, str]],
    environ: Mapping[str, str],
    log: Log,
    by_digest: bool = False,
) -> Attested:
    """Sign every pushed digest and attach what this run proved about it (``signing:``);
    with several platforms, each platform's image and the index (``attest_platforms``)."""

    def evidence(image: BuildResult, smoke: SmokeResult | None) -> Evidence:
        return gather(
            run_id=proven.run_id, started=proven.started, config_path=proven.config_path,
            image=proven.image, tags=built.tags, built=image, smoke=smoke,
            lint=proven.linted.result if proven.linted else None,
            skipped_gates=proven.skipped_gates, client=client, environ=environ,
            kept={stage: outcome.cached for stage, outcome in (("lint", proven.linted),
                  ("smoke", proven.smoked)) if outcome is not None and outcome.cached},
        )  # fmt: skip

    if built.platforms is not None:
        return Attested(attest_platforms(built.platforms, key, signing, evidence, pushed,
                                         by_digest, environ, log))  # fmt: skip
    smoke = proven.smoked.result if proven.smoked else None
    return Attested(attest_pushes(key, signing, evidence(built.image, smoke), pushed, environ, log))
