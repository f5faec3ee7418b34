"""Check what is stored next to an image digest: the signature, then each attestation.

The checks, in order, each one line when it holds and the one failure line when it does not:

1. a simple-signing payload at ``sha256-<hex>.sig`` signed by the key and naming this digest;
2. at ``sha256-<hex>.att``, for every required attestation, a DSSE envelope signed by the key
   whose statement's subject is this digest and whose predicate type is the one its
   descriptor announces;
3. every gate statement signed by the key says ``passed`` (one that says otherwise wins over
   any that pass: a later failing run is never hidden by an earlier passing one).

An image index (``build.platforms``) is checked as its signature (1. for the index digest)
and then every image it lists as above, each by its own digest (``verify_image``).

A layer that does not verify is never read further; another key's signature beside ours does
no harm, but only the key's own count.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from pipeline.attest import sbom, statements
from pipeline.attest.envelopes import Unverified, open_envelope, open_simple_signing
from pipeline.attest.keys import fingerprint
from pipeline.attest.store import (
    DSSE_ENVELOPE,
    SIGNATURE_ANNOTATION,
    SIMPLE_SIGNING,
    ArtifactStore,
    Layer,
    attestation_tag,
    signature_tag,
)
from pipeline.build.platforms import Platform
from pipeline.errors import PipelineError
from pipeline.push.index import INDEX_TYPES, media_type_of
from pipeline.result import Log

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

KINDS = {
    statements.SLSA_PROVENANCE_V1: "provenance",
    statements.GATE_PREDICATE: "gate",
    **{kind: "sbom" for kind in sbom.PREDICATE_TYPES.values()},
}


class VerificationFailed(PipelineError):
    """The digest does not verify; the message names the image and what failed."""


@dataclass(frozen=True)
class Subject:
    """The image to check: where its registry is, its path there, and its digest."""

    registry: str  # the target (or host) name used in messages
    endpoint: str
    path: str
    digest: str

    def __str__(self) -> str:
        return f"{self.endpoint}/{self.path}@{self.digest}"


def verify_image(
    store: ArtifactStore,
    subject: Subject,
    key: ec.EllipticCurvePublicKey,
    required: tuple[str, ...],
    log: Log,
) -> None:
    """``verify_subject`` for one image; for an image index (``build.platforms``), the
    index's signature and then every image it lists, each with its own attestations — the
    one a server pulls for its platform is among them, whichever that is."""
    listed = _index_children(store, subject)
    if listed is None:
        verify_subject(store, subject, key, required, log)
        return
    log(check_signature(store, subject, key) + f" (index of {len(listed)})")
    for platform, digest in listed:
        log(f"{platform}: {digest}")
        verify_subject(store, replace(subject, digest=digest), key, required, log)


def _index_children(store: ArtifactStore, subject: Subject) -> list[tuple[str, str]] | None:
    """(platform, digest) of each image an index lists; None when it is one image (or the
    registry holds only what is stored next to the digest: that is what is checked)."""
    got = store.get_manifest(subject.path, subject.digest)
    if got is None:
        return None
    body, content_type = got
    try:
        manifest = json.loads(body)
        if media_type_of(content_type, manifest) not in INDEX_TYPES:
            return None
        return [(_platform(m.get("platform") or {}), str(m["digest"]))
                for m in manifest["manifests"]]  # fmt: skip
    except (ValueError, KeyError, TypeError, AttributeError):
        raise VerificationFailed(f"{subject}: not a manifest this check can read") from None


def _platform(descriptor: dict[str, Any]) -> str:
    """``linux/arm64`` as ``build.platforms`` spells it (an implied variant left out)."""
    variant = descriptor.get("variant")
    found = Platform(str(descriptor.get("os") or "?"), str(descriptor.get("architecture") or "?"),
                     str(variant) if variant else None)  # fmt: skip
    return str(found)


def verify_subject(
    store: ArtifactStore,
    subject: Subject,
    key: ec.EllipticCurvePublicKey,
    required: tuple[str, ...],
    log: Log,
) -> None:
    """Log a line for each check that holds; raise ``VerificationFailed`` at the first that
    does not."""
    log(check_signature(store, subject, key))
    if not required:
        return
    found = _attestations(store, subject, key)
    for kind in required:
        opened = found.get(kind, [])
        verified = [s for s in opened if isinstance(s, dict)]
        if not verified:
            why = next((s for s in reversed(opened) if isinstance(s, str)), None)
            raise VerificationFailed(
                f"{subject}: {kind}: {why or 'no attestation for this digest'}"
            )
        if kind == "gate":  # every signed gate statement must say passed, not just one
            for statement in verified:
                _check_gate(subject, statement)
        log(describe(kind, verified[0]))


def _check_gate(subject: Subject, statement: dict[str, Any]) -> None:
    predicate = statement.get("predicate") or {}
    verdict = predicate.get("verdict")
    if verdict != statements.PASSED:
        reasons = "; ".join(predicate.get("reasons") or [])
        raise VerificationFailed(
            f"{subject}: gate: verdict {verdict}" + (f": {reasons}" if reasons else "")
        )


def check_signature(store: ArtifactStore, subject: Subject, key: ec.EllipticCurvePublicKey) -> str:
    layers = store.read(subject.path, signature_tag(subject.digest))
    if layers is None:
        raise VerificationFailed(
            f"{subject}: signature: none stored ({signature_tag(subject.digest)})"
        )
    problems = []
    for layer in layers:
        if layer.media_type != SIMPLE_SIGNING:
            continue
        try:
            payload = open_simple_signing(
                layer.data, layer.annotations.get(SIGNATURE_ANNOTATION, ""), key, subject.digest
            )
        except Unverified as exc:
            problems.append(exc.message)
            continue
        named = payload["critical"]["identity"]["docker-reference"]
        return f"signature   ok  {fingerprint(key)} signed {named}@{subject.digest}"
    why = problems[0] if problems else "no simple-signing layer"
    raise VerificationFailed(
        f"{subject}: signature: {why} "
        f"({len(problems)} signature(s) checked, key {fingerprint(key)})"
    )


def _attestations(
    store: ArtifactStore, subject: Subject, key: ec.EllipticCurvePublicKey
) -> dict[str, list[dict[str, Any] | str]]:
    """kind -> each envelope of that kind: its verified statement, or why it failed."""
    layers = store.read(subject.path, attestation_tag(subject.digest)) or []
    found: dict[str, list[dict[str, Any] | str]] = {}
    for layer in layers:
        kind = KINDS.get(layer.annotations.get("predicateType", ""))
        if layer.media_type == DSSE_ENVELOPE and kind is not None:
            found.setdefault(kind, []).append(_open(layer, key, subject.digest))
    return found


def _open(layer: Layer, key: ec.EllipticCurvePublicKey, digest: str) -> dict[str, Any] | str:
    try:
        statement = open_envelope(layer.data, key, digest)
    except Unverified as exc:
        return exc.message
    announced = layer.annotations.get("predicateType")
    if statement.get("predicateType") != announced:
        return f"statement is a {statement.get('predicateType')}, its descriptor says {announced}"
    return statement


def describe(kind: str, statement: dict[str, Any]) -> str:
    """One line per verified attestation, saying what it claims."""
    predicate = statement.get("predicate") or {}
    if kind == "gate":
        ran = []
        for record in predicate.get("gates") or []:
            what = (
                ", ".join(record.get("tools") or []) or f"{len(record.get('checks') or [])} checks"
            )
            ran.append(f"{record.get('stage')} ({what})")
        return f"gate        ok  {predicate.get('verdict')}: " + ", ".join(ran)
    if kind == "provenance":
        builder = (predicate.get("runDetails") or {}).get("builder") or {}
        version = builder.get("version") or {}
        source = ((predicate.get("buildDefinition") or {}).get("externalParameters") or {}).get(
            "source"
        ) or {}
        origin = f"{source.get('uri')}@{str(source.get('revision'))[:12]}" if source else "no git"
        dirty = " (dirty)" if source.get("dirty") else ""
        return (
            f"provenance  ok  hoist {version.get('hoist')} ({version.get('backend')}) "
            f"from {origin}{dirty}"
        )
    listed = predicate.get("components", predicate.get("packages"))
    count = len(listed) if isinstance(listed, list) else 0
    return f"sbom        ok  {statement.get('predicateType')}: {count} package(s)"
