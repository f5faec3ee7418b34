"""``invoke merge``: the index of images that matrix jobs pushed by digest, put under the tags.

Each matrix job ran ``invoke push --platform P --by-digest``: the gates on its own platform,
its image pushed by digest with no tag, and a run report (the gate record) naming the
platform, the digest and every stage's verdict. Merge trusts a digest only with such a
record — lint, build and smoke passed in that run, no gate skipped, for this image, built
from the commit being released — and only if the registry holds that digest as one image of
the platform the record claims.
Then the index goes under the records' tags at every target (``push.index_push``). Nothing
is put when any digest is refused. With ``signing:``, the index is signed at every target,
and the signatures and attestations the jobs stored next to their images at the first target
are copied to the others (the key is read before anything is checked or put).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.attest.material import SIGNING_SKIPPED, load_run_signer
from pipeline.attest.settings import SigningConfig
from pipeline.attest.stage import attest_pushes, copy_attached
from pipeline.build.platforms import parse_platform
from pipeline.context.resolve import resolve_context
from pipeline.errors import ConfigError, NotARepository, PipelineError, StageFailed
from pipeline.project import PipelineConfig
from pipeline.push import index
from pipeline.push.index import Child
from pipeline.push.index_push import publish_index
from pipeline.push.registries.kinds import Target, select_targets, target_credentials
from pipeline.push.registry_api import RegistryClient
from pipeline.report import PlatformRecord, RunReport, read_report
from pipeline.result import Log, StageResult, Status, new_run_id
from pipeline.tags.oci_labels import REVISION_LABEL

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

GATES = {"lint", "build", "smoke", "push"}


def gate_records(
    paths: Sequence[Path], image: str, revision: str = "", signed: bool = False
) -> dict[str, tuple[RunReport, PlatformRecord]]:
    """Every passed by-digest platform of the reports at ``paths`` for ``image``, by digest;
    with ``revision``, only those built from that commit (the image's revision label). A run
    that skipped a gate is none — except an unsigned push (``signing.required: false``
    without the key) when this merge does not sign either: an index signed over unsigned
    images would not verify."""
    found: dict[str, tuple[RunReport, PlatformRecord]] = {}
    for path in paths:
        report = read_report(path)
        if report is None or not report.by_digest or report.image != image:
            continue
        if revision and report.labels.get(REVISION_LABEL) != revision:
            continue  # another commit's run: its images are not this release's
        passed = {s.stage for s in report.stages if s.status is Status.PASSED}
        skipped = [g for g in report.skipped_gates if signed or not g.startswith(SIGNING_SKIPPED)]
        if not passed >= GATES or skipped or not report.ok:
            continue
        for record in report.platforms:
            if record.digest and record.passed:
                found[record.digest] = (report, record)
    return found


def newest_per_platform(records: dict[str, tuple[RunReport, PlatformRecord]]) -> list[str]:
    """Without ``--digest``: each platform's digest from its newest gate record (run ids sort
    by time), so older runs' reports lying in the same directory are not merged."""
    newest: dict[str, tuple[str, str]] = {}
    for digest, (run, record) in records.items():
        if record.platform not in newest or run.run_id > newest[record.platform][0]:
            newest[record.platform] = (run.run_id, digest)
    return [digest for _, digest in sorted(newest.values())]


def this_commit(config: PipelineConfig, environ: Mapping[str, str]) -> str:
    """The commit being released (``GITHUB_SHA`` in a workflow, else git's HEAD), or "" outside
    git. Reports of every run may share one directory (a runner's state dir, or every job of
    act on one host); only this commit's runs are gate records for its tags."""
    try:
        return resolve_context(config.root, environ).sha
    except NotARepository:
        return ""


def report_files(given: Sequence[str], reports_dir: Path) -> list[Path]:
    """The reports named (files, or directories of them), else every run of this state dir."""
    paths = [Path(p) for p in given] or [reports_dir]
    files = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*.json") if p.name != "last.json")
        elif path.is_file():
            files.append(path)
        else:
            raise ConfigError("--report", None, f"{path} not found")
    return files


def merge(
    config: PipelineConfig,
    digests: Sequence[str],
    reports: Sequence[Path],
    wanted: Sequence[str],
    environ: Mapping[str, str],
    log: Log,
) -> RunReport:
    """Check every digest against its gate record and the registry, then publish the index;
    a refusal or a failed target is the report's ``error`` (bad input raises)."""
    started = time.monotonic()
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    report = RunReport(
        run_id=new_run_id(), config=str(config.path), image=config.image, started=now
    )
    key = load_run_signer(config.signing, environ, config.path.name, report.skipped_gates)
    commit = this_commit(config, environ)
    records = gate_records(reports, config.image, commit, signed=key is not None)
    chosen = _chosen(digests, records, commit)
    targets = select_targets(
        config.registries, tuple(wanted), config.image, environ, config.path.name
    )
    try:
        children, tags = _checked(chosen, records, targets[0], environ, log)
    except PipelineError as exc:  # a refusal: recorded, nothing put
        report.error = str(exc)
        reason = exc.reason if isinstance(exc, StageFailed) else exc.message
        report.stages.append(
            StageResult("merge", Status.FAILED, time.monotonic() - started, reason)
        )
        return report
    report.tags = tags
    report.platforms = [records[c.digest][1] for c in children]
    report.pushes = publish_index(children, targets, tags, environ, log)
    failed = [p for p in report.pushes if not p.ok]
    if key is not None and config.signing is not None and not failed:
        _sign(report, key, config.signing, targets, children, environ, log)
    status = Status.FAILED if failed or report.error else Status.PASSED
    summary = f"index of {len(children)} platform(s) under {', '.join(tags)}"
    report.stages.append(StageResult("merge", status, time.monotonic() - started, summary))
    if failed:
        report.error = "; ".join(p.error or p.target for p in failed)
    return report


def _chosen(
    digests: Sequence[str], records: dict[str, tuple[RunReport, PlatformRecord]], commit: str
) -> list[str]:
    """The digests asked for, else the newest passed record's of each platform."""
    chosen = list(digests) or newest_per_platform(records)
    if not chosen:
        of = f" of commit {commit[:7]}" if commit else ""
        raise ConfigError(
            "--digest",
            None,
            f"no digest given and no passed by-digest run report{of} found",
            hint="pass --digest sha256:... or --report FILE",
        )
    return chosen


def _sign(
    report: RunReport,
    key: ec.EllipticCurvePrivateKey,
    signing: SigningConfig,
    targets: list[Target],
    children: list[Child],
    environ: Mapping[str, str],
    log: Log,
) -> None:
    """The index signed at every target, and what each matrix job attached to its image at
    the first target copied to the others; a failure is the report's ``error``."""
    by_name = {t.name: t for t in targets}
    pushed = [(by_name[p.target], p.digest) for p in report.pushes if p.digest]
    try:
        copy_attached(targets[0], targets[1:], [c.digest for c in children], environ)
        report.attestations = attest_pushes(key, signing, None, pushed, environ, log)
    except PipelineError as exc:
        report.error = str(exc)


def _checked(
    digests: Sequence[str],
    records: dict[str, tuple[RunReport, PlatformRecord]],
    first: Target,
    environ: Mapping[str, str],
    log: Log,
) -> tuple[list[Child], list[str]]:
    """The children, each with a passed gate record and the platform it claims, and the tags
    the records agree on; the first refusal is a failed merge, nothing put."""
    registry = RegistryClient(first.name, first.endpoint, target_credentials(first, environ))
    children: list[Child] = []
    tags: list[str] | None = None
    for digest in digests:
        if digest not in records:
            raise StageFailed(
                "merge",
                f"refused {digest}: no passed gate record (a by-digest run report of "
                "this commit with lint, build and smoke passed) for it",
            )
        run, record = records[digest]
        child = index.child(registry, first.path, digest)
        claimed = parse_platform(record.platform)
        if not child.platform.matches(claimed):
            raise StageFailed(
                "merge",
                f"refused {digest}: the registry holds a "
                f"{child.platform} image, its gate record claims {claimed}",
            )
        if any(c.platform.matches(child.platform) for c in children):
            raise StageFailed("merge", f"refused {digest}: a second {claimed} image")
        if tags is not None and run.tags != tags:
            raise StageFailed(
                "merge",
                f"refused {digest}: its run tagged {run.tags}, "
                f"the others {tags} (different commits?)",
            )
        tags = run.tags
        log(f"[{first.name}] {digest}: {claimed}, gates passed in run {run.run_id}")
        children.append(child)
    assert tags is not None
    return children, tags
