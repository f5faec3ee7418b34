"""What hoist attests about a pushed image, as in-toto Statements (v1) with typed inputs.

Three predicates, each its own statement about the image digest, so each can be verified,
replaced or required on its own:

* **SLSA provenance v1** (``https://slsa.dev/provenance/v1``): who built it (hoist, its version
  and build backend), from what (the source repository, revision and whether the work tree
  was dirty; the pipeline.yaml digest; the base image digest as a resolved dependency) and in
  which CI run.
* **gate** (hoist's own ``GATE_PREDICATE``): which lint tools and smoke checks ran on this
  digest and their verdicts, and the overall verdict a deploy requires to be ``passed``.
* **SBOM**: the CycloneDX (and, on request, SPDX) document as the predicate, with the predicate
  types cosign uses for ``--type cyclonedx`` and ``--type spdxjson``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STATEMENT_V1 = "https://in-toto.io/Statement/v1"
SLSA_PROVENANCE_V1 = "https://slsa.dev/provenance/v1"
GATE_PREDICATE = "https://hoist.dev/attestations/gate/v1"
BUILD_TYPE = "https://hoist.dev/build/v1"
BUILDER_ID = "https://hoist.dev/builder/v1"
PASSED = "passed"


@dataclass(frozen=True)
class Source:
    """The repository state the image was built from."""

    uri: str  # e.g. https://github.com/acme/app or a local path when there is no remote
    revision: str  # full commit id
    dirty: bool = False
    ref: str = ""


@dataclass(frozen=True)
class BaseDependency:
    """The image the Dockerfile starts from, by digest.

    ``digest_kind`` says which digest it is: ``manifest`` (pulled from a registry: its
    RepoDigest) or ``image-id`` (a local image, e.g. hoist's offline stand-in, has no
    manifest digest: its config digest names its content instead).
    """

    name: str
    digest: str
    digest_kind: str
    stand_in: str | None = None


@dataclass(frozen=True)
class GateRecord:
    """One gate as it ran on this digest: ``checks`` are (kind, name, verdict) triples."""

    stage: str
    verdict: str  # passed, failed or skipped
    tools: tuple[str, ...] = ()
    checks: tuple[tuple[str, str, str], ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Evidence:
    """Everything the statements say, gathered from the run (``evidence.gather``)."""

    run_id: str
    hoist_version: str
    backend: str
    config_name: str
    config_digest: str
    image: str
    tags: tuple[str, ...]
    started: str
    finished: str
    gates: tuple[GateRecord, ...]
    source: Source | None = None
    base: BaseDependency | None = None
    ci_run: str | None = None  # the Actions run URL
    workflow_ref: str | None = None
    skipped_gates: tuple[str, ...] = field(default_factory=tuple)


def statement(name: str, digest: str, predicate_type: str, predicate: Any) -> dict[str, Any]:
    algorithm, _, hex_digest = digest.partition(":")
    return {
        "_type": STATEMENT_V1,
        "subject": [{"name": name, "digest": {algorithm: hex_digest}}],
        "predicateType": predicate_type,
        "predicate": predicate,
    }


def provenance(evidence: Evidence) -> dict[str, Any]:
    external: dict[str, Any] = {
        "config": evidence.config_name,
        "image": evidence.image,
        "tags": list(evidence.tags),
    }
    if evidence.source is not None:
        external["source"] = {
            "uri": evidence.source.uri,
            "revision": evidence.source.revision,
            "dirty": evidence.source.dirty,
            **({"ref": evidence.source.ref} if evidence.source.ref else {}),
        }
    builder: dict[str, Any] = {
        "id": BUILDER_ID,
        "version": {"hoist": evidence.hoist_version, "backend": evidence.backend},
    }
    metadata = {
        "invocationId": evidence.ci_run or f"hoist-run:{evidence.run_id}",
        "startedOn": evidence.started,
        "finishedOn": evidence.finished,
    }
    return {
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": external,
            "internalParameters": {
                "runId": evidence.run_id,
                **({"workflowRef": evidence.workflow_ref} if evidence.workflow_ref else {}),
            },
            "resolvedDependencies": resolved_dependencies(evidence),
        },
        "runDetails": {"builder": builder, "metadata": metadata},
    }


def resolved_dependencies(evidence: Evidence) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if evidence.source is not None and evidence.source.revision:
        found.append({
            "uri": f"git+{evidence.source.uri}",
            "digest": {"gitCommit": evidence.source.revision},
            "annotations": {"dirty": evidence.source.dirty},
        })  # fmt: skip
    found.append({
        "name": evidence.config_name,
        "uri": f"file:{evidence.config_name}",
        "digest": {"sha256": evidence.config_digest.partition(":")[2]},
    })  # fmt: skip
    base = evidence.base
    if base is not None:
        notes: dict[str, Any] = {"digestKind": base.digest_kind}
        if base.stand_in:
            notes["standIn"] = base.stand_in
        found.append({
            "name": "base image",
            "uri": f"docker-image://{base.name}",
            "digest": {"sha256": base.digest.partition(":")[2]},
            "annotations": notes,
        })  # fmt: skip
    return found


def gate(evidence: Evidence) -> dict[str, Any]:
    failing = [g for g in evidence.gates if g.verdict != PASSED]
    reasons = [f"{g.stage} {g.verdict}" + (f" ({g.note})" if g.note else "") for g in failing]
    gates = []
    for record in evidence.gates:
        entry: dict[str, Any] = {"stage": record.stage, "verdict": record.verdict}
        if record.tools:
            entry["tools"] = list(record.tools)
        if record.checks:
            entry["checks"] = [
                {"kind": kind, "name": name, "verdict": verdict}
                for kind, name, verdict in record.checks
            ]
        if record.note:
            entry["note"] = record.note
        gates.append(entry)
    return {
        "verdict": "failed" if failing or not gates else PASSED,
        "reasons": reasons,
        "gates": gates,
        "run": {"id": evidence.run_id, "hoist": evidence.hoist_version},
        "skippedGates": list(evidence.skipped_gates),
    }
