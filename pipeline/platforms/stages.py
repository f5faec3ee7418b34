"""Every platform of ``build.platforms`` through build and smoke, one after another, and
pushed together as one image index only when every one passed.

Why one at a time: the 20.10 CLI builds one platform per build, and two emulated smoke tests
side by side on two cores would only make both time out. Each platform's image is built with
``--platform`` (another platform's base from its own stand-in), then smoke-tested *on that
platform* — the container runs the image's own architecture under qemu, its readiness
timeout stretched by ``EMULATION_FACTOR`` — and every platform is tested even after one
failed, so the summary shows each verdict. The smoke gate passes only if all passed.

With ``build.cache``, each platform reads and (once the gates passed) writes its own cache
ref (``CachePlan.for_platform``). The engine's own platform (or else the first) keeps the
run's local tags, as a one-platform build would; the others are tagged ``REF-<os>-<arch>``
so they are images one can find and remove, never pushed under those names.

With ``signing:``, each platform's image gets its own signature and attestations and the
index a signature of its own (``attest_platforms``); ``invoke verify`` of the index checks
them all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import docker

from pipeline.attest.settings import SigningConfig
from pipeline.attest.stage import AttestResult, attest_pushes
from pipeline.attest.statements import Evidence
from pipeline.build.backend import Backend
from pipeline.build.cache import CacheExport, CachePlan
from pipeline.build.platforms import EMULATION_FACTOR, Platform, engine_platform
from pipeline.build.settings import BuildConfig
from pipeline.build.stage import BuildResult, PlatformBuild, build_image
from pipeline.errors import PipelineError, StageFailed
from pipeline.platforms.options import run_platforms
from pipeline.project import PipelineConfig
from pipeline.push.index_push import publish_index, push_children
from pipeline.push.registries.kinds import Target
from pipeline.push.target import PushResult
from pipeline.report import PlatformRecord
from pipeline.result import Log
from pipeline.secrets import redact
from pipeline.smoke.settings import SmokeConfig
from pipeline.smoke.stage import SmokeResult, smoke_test
from pipeline.units import human_size

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec


@dataclass
class PlatformStages:
    """The platforms of one run, their builds and verdicts (``records`` go to the report)."""

    platforms: tuple[Platform, ...]
    native: Platform
    records: list[PlatformRecord] = field(default_factory=list)
    builds: dict[str, BuildResult] = field(default_factory=dict)
    smoked: dict[str, SmokeResult] = field(default_factory=dict)  # what the gate attests

    @classmethod
    def for_run(
        cls,
        config: PipelineConfig,
        platform: str | None,
        by_digest: bool,
        stages: tuple[str, ...],
        client: Callable[[], docker.DockerClient],
    ) -> PlatformStages | None:
        """The run's platforms (``options.run_platforms``), or None: the one-platform run."""
        chosen = run_platforms(config, platform, by_digest, stages)
        if chosen is None or "build" not in stages:
            return None
        native = engine_platform(client())
        return cls(chosen or (native,), native)

    @property
    def primary(self) -> Platform:
        """The platform whose image keeps the local tags: the engine's own if built."""
        return next((p for p in self.platforms if p.matches(self.native)), self.platforms[0])

    def build(
        self,
        client: docker.DockerClient,
        build: BuildConfig,
        references: list[str],
        labels: dict[str, str],
        environ: Mapping[str, str],
        log: Log,
        backend: Backend | None = None,
        cache: CachePlan | None = None,
    ) -> BuildResult:
        """Build each platform (with the run's ``backend``, when it chose one, on the layers of
        its own cache ref of the ``cache`` plan); the primary's result (what the runner's
        gates look at)."""
        self.records = [PlatformRecord(str(p)) for p in self.platforms]
        for platform, record in zip(self.platforms, self.records, strict=True):
            local = references if platform == self.primary else [f"{references[0]}-{platform.slug}"]
            foreign = None if platform.matches(self.native) else platform
            built = build_image(
                client,
                build,
                local,
                labels,
                _prefixed(log, platform),
                environ,
                cache.for_platform(platform.slug) if cache else None,
                backend=backend,
                platform=PlatformBuild(platform, foreign),
            )
            self.builds[str(platform)] = built
            record.image_id = built.image_id
            steps = f", {built.cached_steps}/{built.steps} steps cached" if built.steps else ""
            record.build = f"{built.image_id[7:19]} {human_size(built.size)}{steps}"
        return self.builds[str(self.primary)]

    def caches(self, cache: CachePlan) -> list[tuple[CacheExport, CachePlan]]:
        """Each platform's cache to write once the gates passed, with its own plan."""
        return [
            (built.cache_export, cache.for_platform(platform.slug))
            for platform in self.platforms
            if (built := self.builds[str(platform)]).cache_export is not None
        ]

    def smoke(
        self,
        client: docker.DockerClient,
        smoke: SmokeConfig,
        run_id: str,
        log: Log,
        junit: Path | None,
    ) -> str:
        """Smoke-test each platform's image on its platform; all must pass."""
        for platform, record in zip(self.platforms, self.records, strict=True):
            emulated = not platform.matches(self.native)
            config = replace(smoke, timeout=smoke.timeout * EMULATION_FACTOR) if emulated else smoke
            where = (
                junit.with_name(f"{junit.stem}-{platform.slug}{junit.suffix}") if junit else None
            )
            try:
                result = smoke_test(
                    client,
                    record.image_id,
                    config,
                    f"{run_id}-{platform.slug}",
                    _prefixed(log, platform),
                    junit=where,
                )
            except StageFailed as exc:
                record.smoke = exc.reason
                continue
            record.smoke = "passed"
            self.smoked[str(platform)] = result
            record_ready = f"ready in {result.seconds_to_ready:.1f} s"
            log(f"[{platform}] smoke passed ({record_ready}{', emulated' if emulated else ''})")
        failed = [r for r in self.records if not r.passed]
        if failed:
            raise StageFailed(
                "smoke",
                f"{len(failed)} of {len(self.records)} platform(s) failed, nothing is pushed: "
                + "; ".join(f"{r.platform}: {r.smoke}" for r in failed),
            )
        return f"{len(self.records)} platform(s) passed: " + ", ".join(
            r.platform for r in self.records
        )

    def summary(self) -> str:
        return "; ".join(f"{r.platform} {r.build}" for r in self.records)

    def push(
        self,
        targets: list[Target],
        tags: list[str],
        environ: Mapping[str, str],
        log: Log,
        by_digest: bool,
    ) -> list[PushResult]:
        """Each platform by digest to the first target, then (unless ``by_digest``: a matrix
        job's half, nothing tagged) the index under every tag at every target."""
        if not targets:
            return []
        if any(not r.passed for r in self.records):  # the runner's gate said so already
            raise StageFailed("push", "refused: not every platform passed smoke")
        images = [(p, r.image_id) for p, r in zip(self.platforms, self.records, strict=True)]
        try:
            children = push_children(images, targets[0], environ, log)
        except PipelineError as exc:
            return [PushResult(targets[0].name, targets[0].repository, error=redact(str(exc)))]
        for record, child in zip(self.records, children, strict=True):
            record.digest = child.digest
        if by_digest:
            first = targets[0]
            return [
                PushResult(
                    first.name,
                    first.repository,
                    digest=c.digest,
                    kind=first.kind,
                    endpoint=first.endpoint,
                )
                for c in children
            ]
        return publish_index(children, targets, tags, environ, log)


def _prefixed(log: Log, platform: Platform) -> Log:
    return lambda line: log(f"[{platform}] {line}")


def attest_platforms(
    stages: PlatformStages,
    key: ec.EllipticCurvePrivateKey,
    signing: SigningConfig,
    evidence_of: Callable[[BuildResult, SmokeResult | None], Evidence],
    pushed: Sequence[tuple[Target, str]],
    by_digest: bool,
    environ: Mapping[str, str],
    log: Log,
) -> list[AttestResult]:
    """Each platform's image signed with its own attestations (its own build, smoke checks
    and SBOM) at every target ``pushed`` reached, then the index signed there (a by-digest
    push has no index yet: ``merge`` signs it)."""
    targets = list({target.name: target for target, _ in pushed}.values())
    results: list[AttestResult] = []
    for platform, record in zip(stages.platforms, stages.records, strict=True):
        assert record.digest is not None, "signed after the push"
        evidence = evidence_of(stages.builds[str(platform)], stages.smoked.get(str(platform)))
        children = [(target, record.digest) for target in targets]
        results += attest_pushes(
            key, signing, evidence, children, environ, _prefixed(log, platform)
        )
    if not by_digest:
        results += attest_pushes(key, signing, None, pushed, environ, _index_log(log))
    return results


def _index_log(log: Log) -> Log:
    return lambda line: log(f"[index] {line}")
