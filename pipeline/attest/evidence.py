"""The facts the statements state, gathered from one run's typed results.

Nothing here is taken on trust from a label: the source comes from the repository (or
GitHub's variables), the base image digest from the engine, pipeline.yaml's digest from its
bytes, and the gates from the lint and smoke results this very run produced on this image.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

import docker
import docker.errors

from pipeline.attest.statements import PASSED, BaseDependency, Evidence, GateRecord, Source
from pipeline.build.base_image import BaseImage
from pipeline.build.stage import BuildResult
from pipeline.context.resolve import resolve_context
from pipeline.errors import NotARepository
from pipeline.lint.findings import LintResult
from pipeline.result import VerifiedBy
from pipeline.smoke.stage import SmokeResult


def hoist_version() -> str:
    try:
        return importlib.metadata.version("hoist")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def gather(
    *,
    run_id: str,
    started: str,
    config_path: Path,
    image: str,
    tags: list[str],
    built: BuildResult,
    lint: LintResult | None,
    smoke: SmokeResult | None,
    skipped_gates: list[str],
    client: docker.DockerClient,
    environ: Mapping[str, str],
    kept: Mapping[str, VerifiedBy] | None = None,
) -> Evidence:
    ci_run, workflow_ref = actions_run(environ)
    return Evidence(
        run_id=run_id,
        hoist_version=hoist_version(),
        backend=built.backend,
        config_name=config_path.name,
        config_digest="sha256:" + hashlib.sha256(config_path.read_bytes()).hexdigest(),
        image=image,
        tags=tuple(tags),
        started=started,
        finished=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        gates=gate_records(lint, smoke, skipped_gates, kept or {}),
        source=source_of(config_path.parent, environ),
        base=base_dependency(client, built.base),
        ci_run=ci_run,
        workflow_ref=workflow_ref,
        skipped_gates=tuple(skipped_gates),
    )


def actions_run(environ: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The GitHub Actions run (its URL, attempt included) and workflow ref; None outside it."""
    server, repository = environ.get("GITHUB_SERVER_URL"), environ.get("GITHUB_REPOSITORY")
    run = environ.get("GITHUB_RUN_ID")
    if environ.get("GITHUB_ACTIONS") != "true" or not (server and repository and run):
        return None, None
    attempt = environ.get("GITHUB_RUN_ATTEMPT", "1")
    url = f"{server}/{repository}/actions/runs/{run}/attempts/{attempt}"
    return url, environ.get("GITHUB_WORKFLOW_REF")


def gate_records(
    lint: LintResult | None,
    smoke: SmokeResult | None,
    skipped_gates: list[str],
    kept: Mapping[str, VerifiedBy] | None = None,
) -> tuple[GateRecord, ...]:
    """Lint and smoke as they ran; a gate that did not run is recorded as skipped, one whose
    verdict was kept from an earlier run on the same inputs (``kept``) says which run."""
    records = []
    if lint is None or not lint.tools:
        records.append(GateRecord("lint", "skipped", note="no linter ran"))
    else:
        note = f"{len(lint.findings)} finding(s) below the failure threshold" + _kept(kept, "lint")
        records.append(GateRecord("lint", PASSED, tools=tuple(lint.tools), note=note))
    if smoke is None:
        why = next((g for g in skipped_gates if g.startswith("smoke (")), "smoke (did not run)")
        records.append(GateRecord("smoke", "skipped", note=why.removeprefix("smoke (")[:-1]))
    else:
        checks = tuple((r.kind, r.name, r.verdict.value) for r in smoke.results)
        failed = any(r.failed for r in smoke.results)
        note = _kept(kept, "smoke").removeprefix("; ")
        records.append(
            GateRecord("smoke", "failed" if failed else PASSED, checks=checks, note=note)
        )
    return tuple(records)


def _kept(kept: Mapping[str, VerifiedBy] | None, stage: str) -> str:
    verified = (kept or {}).get(stage)
    if verified is None:
        return ""
    return f"; verdict kept from run {verified.run_id} at {verified.at} (same inputs)"


def source_of(root: Path, environ: Mapping[str, str]) -> Source | None:
    try:
        context = resolve_context(root, environ)
    except NotARepository:
        return None
    if not context.sha:
        return None
    uri = context.repository_url or root.resolve().as_uri()
    return Source(uri=uri, revision=context.sha, dirty=context.dirty, ref=context.ref)


def base_dependency(client: docker.DockerClient, base: BaseImage) -> BaseDependency | None:
    """The base by its registry digest when it was pulled, else by its image id."""
    if base.used is None or base.configured is None:
        return None
    try:
        attrs = client.images.get(base.used).attrs
    except docker.errors.ImageNotFound:
        return None
    repository = base.used.rsplit("@", 1)[0].rsplit(":", 1)[0]
    for entry in attrs.get("RepoDigests") or []:
        name, _, digest = entry.partition("@")
        if name.endswith(repository):
            return BaseDependency(base.configured, digest, "manifest", _stand_in(base))
    return BaseDependency(base.configured, str(attrs["Id"]), "image-id", _stand_in(base))


def _stand_in(base: BaseImage) -> str | None:
    return base.used if base.stand_in else None
