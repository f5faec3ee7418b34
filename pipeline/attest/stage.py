"""Sign every pushed image and attach its attestations, in each target registry.

After a successful push the runner hands over the pushed targets and what the run proved
(``Evidence``). The SBOM is made once, by syft from the first target's registry; then, per
target, the simple-signing payload is signed and stored at ``sha256-<hex>.sig`` and the signed
statements (provenance, gate, SBOM) at ``sha256-<hex>.att`` — hoist writes them to every
target itself, so a fan-out copy that moved only the image still gets them. One key signs all.

A re-run replaces the signature and attestation manifests of that digest with its own
(cosign's ``attest --replace`` behaviour, applied to the signature too).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pipeline.attest import sbom, statements
from pipeline.attest.envelopes import seal, simple_signing_payload
from pipeline.attest.keys import fingerprint, sign
from pipeline.attest.settings import SigningConfig
from pipeline.attest.store import (
    DSSE_ENVELOPE,
    SIGNATURE_ANNOTATION,
    SIMPLE_SIGNING,
    ArtifactStore,
    Layer,
    attestation_tag,
    signature_tag,
)
from pipeline.errors import PipelineError, StageFailed
from pipeline.push.registries.kinds import Credentials, Target, target_credentials
from pipeline.result import Log

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec


@dataclass
class AttestResult:
    """What one target received; ``error`` says why it did not (no secret in it)."""

    target: str
    repository: str
    digest: str
    signature: str = ""  # the tag written, e.g. sha256-….sig
    attestations: list[str] = field(default_factory=list)  # sbom:cyclonedx, provenance, gate
    key: str = ""  # the public key's fingerprint
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def predicates(
    signing: SigningConfig,
    evidence: statements.Evidence,
    first: tuple[Target, str],
    credentials: Credentials | None,
    log: Log,
) -> list[tuple[str, str, Any]]:
    """(name, predicate type, predicate) for each configured attestation, made once."""
    made: list[tuple[str, str, Any]] = []
    if "provenance" in signing.attestations:
        made.append(("provenance", statements.SLSA_PROVENANCE_V1, statements.provenance(evidence)))
    if "gate" in signing.attestations:
        made.append(("gate", statements.GATE_PREDICATE, statements.gate(evidence)))
    if "sbom" in signing.attestations:
        target, digest = first
        reference = f"{target.push_repository}@{digest}"
        documents = sbom.scan(reference, target.endpoint, credentials, signing.sbom)
        for name, document in documents.items():
            count = sbom.component_count(name, document)
            log(f"sbom: {name}, {count} package(s) in {target.repository}@{digest[:19]}")
            made.append((f"sbom:{name}", sbom.PREDICATE_TYPES[name], document))
    return made


def attest_pushes(
    key: ec.EllipticCurvePrivateKey,
    signing: SigningConfig,
    evidence: statements.Evidence | None,
    pushed: Sequence[tuple[Target, str]],
    environ: Mapping[str, str],
    log: Log,
) -> list[AttestResult]:
    """Sign and attach for every (target, digest) pushed; raises if any target failed.
    No ``evidence``: the signature alone (an image index, whose images carry their own)."""
    if not pushed:
        return []
    credentials = {t.name: target_credentials(t, environ) for t, _ in pushed}
    first = pushed[0]
    made = predicates(signing, evidence, first, credentials[first[0].name], log) if evidence else []
    results = [_attach(key, target, digest, made, credentials[target.name], log)
               for target, digest in pushed]  # fmt: skip
    failed = [r for r in results if not r.ok]
    if failed:
        raise StageFailed(
            "attest",
            f"{len(failed)} of {len(results)} target(s) not signed: "
            + "; ".join(r.error or r.target for r in failed),
        )
    return results


def _attach(
    key: ec.EllipticCurvePrivateKey,
    target: Target,
    digest: str,
    made: list[tuple[str, str, Any]],
    credentials: Credentials | None,
    log: Log,
) -> AttestResult:
    result = AttestResult(target.name, target.repository, digest, key=fingerprint(key.public_key()))
    store = ArtifactStore(target.name, target.endpoint, credentials)
    payload = simple_signing_payload(target.repository, digest)
    signature = Layer(payload, SIMPLE_SIGNING, {SIGNATURE_ANNOTATION: sign(key, payload)})
    envelopes = [
        Layer(
            seal(statements.statement(target.repository, digest, kind, predicate), key),
            DSSE_ENVELOPE,
            {SIGNATURE_ANNOTATION: "", "predicateType": kind},
        )
        for _, kind, predicate in made
    ]
    try:
        store.write(target.path, signature_tag(digest), [signature])
        result.signature = signature_tag(digest)
        if envelopes:
            store.write(target.path, attestation_tag(digest), envelopes)
            result.attestations = [name for name, _, _ in made]
    except PipelineError as exc:
        result.error = str(exc)
        log(f"[{target.name}] signing FAILED: {result.error}")
        return result
    attached = ", ".join(result.attestations) or "no attestations"
    log(f"[{target.name}] signed {target.repository}@{digest[:19]} ({result.key}); {attached}")
    return result


def copy_attached(
    source: Target, targets: Sequence[Target], digests: Sequence[str], environ: Mapping[str, str]
) -> None:
    """The signature and attestations stored next to each digest at ``source``, written
    unchanged to every other target (``merge``: the matrix jobs signed at the first target
    only, and ``skopeo copy --all`` moves the images, not what is attached to them)."""
    store = ArtifactStore(source.name, source.endpoint, target_credentials(source, environ))
    found = [(tag, layers) for digest in digests
             for tag in (signature_tag(digest), attestation_tag(digest))
             if (layers := store.read(source.path, tag)) is not None]  # fmt: skip
    for target in targets:
        there = ArtifactStore(target.name, target.endpoint, target_credentials(target, environ))
        for tag, layers in found:
            there.write(target.path, tag, layers)
