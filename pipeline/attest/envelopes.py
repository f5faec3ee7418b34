"""The two signed payloads cosign stores next to an image, made and opened byte for byte.

* The **signature** signs a simple-signing payload (``containers-signature(5)``, with cosign's
  ``critical.type``), serialised as sigstore's ``payload.Cosign`` marshals it with Go's
  ``encoding/json``: compact, keys in struct order, ``"optional":null`` without annotations.
* An **attestation** is an in-toto Statement in a DSSE envelope: the signature covers
  ``PAE(payloadType, payload)``, never the JSON around it, and cosign leaves ``keyid`` empty.

Opening either checks the signature first and only then reads the payload, so nothing
unsigned is ever interpreted.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

from pipeline.attest.keys import sign, signature_valid
from pipeline.errors import PipelineError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

COSIGN_SIGNATURE_TYPE = "cosign container image signature"
IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPES = ("https://in-toto.io/Statement/v1", "https://in-toto.io/Statement/v0.1")


class Unverified(PipelineError):
    """A payload whose signature or content does not hold; the message says which part."""


def _go_json(value: Any) -> bytes:
    """Go's ``json.Marshal``: compact, non-ASCII kept, and <, >, & escaped as it does."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escaped)
    return text.encode()


def simple_signing_payload(
    docker_reference: str, digest: str, annotations: dict[str, Any] | None = None
) -> bytes:
    critical = {
        "identity": {"docker-reference": docker_reference},
        "image": {"docker-manifest-digest": digest},
        "type": COSIGN_SIGNATURE_TYPE,
    }
    optional = dict(sorted(annotations.items())) if annotations else None
    return _go_json({"critical": critical, "optional": optional})


def open_simple_signing(
    payload: bytes, signature: str, key: ec.EllipticCurvePublicKey, digest: str
) -> dict[str, Any]:
    """The payload, if ``signature`` is the key's over it and it names ``digest``."""
    if not signature_valid(key, payload, signature):
        raise Unverified("not signed by this key")
    try:
        critical = json.loads(payload)["critical"]
        kind, named = critical["type"], critical["image"]["docker-manifest-digest"]
    except (ValueError, KeyError, TypeError):
        raise Unverified("signed payload is not a simple-signing document") from None
    if kind != COSIGN_SIGNATURE_TYPE:
        raise Unverified(f"signed payload has type {kind!r}, not cosign's")
    if named != digest:
        raise Unverified(f"signed payload is for {named}, not {digest}")
    result: dict[str, Any] = json.loads(payload)
    return result


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what the envelope's signature covers."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def seal(statement: dict[str, Any], key: ec.EllipticCurvePrivateKey) -> bytes:
    """A DSSE envelope around an in-toto Statement, signed with ``key``."""
    payload = _go_json(statement)
    envelope = {
        "payloadType": IN_TOTO_PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [{"keyid": "", "sig": sign(key, pae(IN_TOTO_PAYLOAD_TYPE, payload))}],
    }
    return _go_json(envelope)


def open_envelope(envelope: bytes, key: ec.EllipticCurvePublicKey, digest: str) -> dict[str, Any]:
    """The Statement, if one of the envelope's signatures is the key's and a subject is
    ``digest`` (``sha256:HEX``)."""
    try:
        data = json.loads(envelope)
        payload_type = data["payloadType"]
        payload = base64.b64decode(data["payload"], validate=True)
        signatures = [str(s["sig"]) for s in data["signatures"]]
    except (ValueError, KeyError, TypeError):
        raise Unverified("not a DSSE envelope") from None
    if payload_type != IN_TOTO_PAYLOAD_TYPE:
        raise Unverified(f"envelope carries {payload_type!r}, not an in-toto statement")
    signed = pae(payload_type, payload)
    if not any(signature_valid(key, signed, s) for s in signatures):
        raise Unverified("not signed by this key")
    try:
        statement = json.loads(payload)
        subjects = [s["digest"] for s in statement["subject"] if isinstance(s, dict)]
    except (ValueError, KeyError, TypeError):
        raise Unverified("signed envelope holds no in-toto statement") from None
    if not isinstance(statement, dict) or statement.get("_type") not in STATEMENT_TYPES:
        raise Unverified("signed envelope holds no in-toto statement")
    algorithm, _, hex_digest = digest.partition(":")
    if not any(isinstance(s, dict) and s.get(algorithm) == hex_digest for s in subjects):
        raise Unverified(f"statement's subject is not {digest}")
    return statement
