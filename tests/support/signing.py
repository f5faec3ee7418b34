"""Write a signature and attestations for a digest the way a signer would — or a hostile one.

Test support, not library code: the tests of `invoke verify` and of deploy's check need
digests whose stored artifacts are broken in one precise way (another key, a missing or failed
attestation), which a correct pipeline never writes. Everything goes through hoist's own
formats and registry client, so only the chosen flaw differs from a real signed push.
"""

from __future__ import annotations

from typing import Any

from pipeline.attest import envelopes, keys, statements
from pipeline.attest.store import (
    DSSE_ENVELOPE,
    SIGNATURE_ANNOTATION,
    SIMPLE_SIGNING,
    ArtifactStore,
    Layer,
    attestation_tag,
    signature_tag,
)

PASSING = [
    (statements.SLSA_PROVENANCE_V1, {"buildDefinition": {"buildType": statements.BUILD_TYPE},
                                     "runDetails": {"builder": {"id": statements.BUILDER_ID}}}),
    (statements.GATE_PREDICATE, {"verdict": "passed", "reasons": [], "gates": []}),
    ("https://cyclonedx.org/bom", {"bomFormat": "CycloneDX", "specVersion": "1.5",
                                   "components": []}),
]  # fmt: skip
"""Minimal predicates of each kind verify requires, the gate saying passed."""


def forge(
    store: ArtifactStore,
    path: str,
    repository: str,
    digest: str,
    key: Any,
    predicates: list[tuple[str, Any]],
) -> None:
    """Store a signature by ``key`` and one envelope per (predicate type, predicate)."""
    payload = envelopes.simple_signing_payload(repository, digest)
    signature = Layer(payload, SIMPLE_SIGNING, {SIGNATURE_ANNOTATION: keys.sign(key, payload)})
    store.write(path, signature_tag(digest), [signature])
    layers = [
        Layer(
            envelopes.seal(statements.statement(repository, digest, kind, body), key),
            DSSE_ENVELOPE,
            {SIGNATURE_ANNOTATION: "", "predicateType": kind},
        )
        for kind, body in predicates
    ]
    store.write(path, attestation_tag(digest), layers)
