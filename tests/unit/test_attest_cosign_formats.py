"""hoist's keys, signatures and DSSE envelopes against cosign's own test data.

The vectors in tests/data/cosign/ were written by cosign (see its README): keys cosign
encrypted, DSSE envelopes cosign signed, an image signature made by ``cosign sign``. hoist must
read each exactly as cosign does, accept what cosign accepts and refuse what it refuses; and
what hoist writes must verify with securesystemslib, an implementation hoist does not use.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import SSlibKey

from pipeline.attest import envelopes, keys

DATA = Path(__file__).resolve().parents[1] / "data" / "cosign"
BLOB = json.loads((DATA / "blob-attestations.json").read_text())
IMAGES = json.loads((DATA / "image-signatures.json").read_text())
BLOB_DIGEST = "sha256:" + hashlib.sha256(b"some-payload").hexdigest()


@pytest.mark.parametrize("name", ["sigstore-labelled.key", "cosign-labelled.key"])
def test_cosign_encrypted_keys_load_with_their_password(name: str) -> None:
    key = keys.load_private_key((DATA / name).read_bytes(), b"hello")
    signature = keys.sign(key, b"payload")
    assert keys.signature_valid(key.public_key(), b"payload", signature)


def test_a_wrong_password_is_one_line_naming_the_variable() -> None:
    with pytest.raises(keys.BadKey) as caught:
        keys.load_private_key((DATA / "sigstore-labelled.key").read_bytes(), b"wrong")
    assert (
        str(caught.value)
        == "cannot decrypt the private key: wrong password (check COSIGN_PASSWORD)"
    )


def test_an_sec1_key_is_refused_as_cosign_refuses_it() -> None:
    with pytest.raises(keys.BadKey, match="not PKCS #8"):
        keys.load_private_key((DATA / "cosign-labelled-sec1.key").read_bytes(), b"hello")


def test_generated_pair_is_cosigns_format() -> None:
    pair = keys.generate_key_pair(b"pw")
    text = pair.private_pem.decode()
    assert text.startswith("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
    body = base64.b64decode("".join(text.strip().splitlines()[1:-1]))
    document = json.loads(body)
    assert document["kdf"]["name"] == "scrypt"
    assert document["kdf"]["params"] == {"N": 65536, "r": 8, "p": 1}
    assert document["cipher"]["name"] == "nacl/secretbox"
    assert len(base64.b64decode(document["kdf"]["salt"])) == 32
    assert len(base64.b64decode(document["cipher"]["nonce"])) == 24
    private = keys.load_private_key(pair.private_pem, b"pw")
    assert keys.public_pem(private.public_key()) == pair.public_pem
    assert pair.public_pem.startswith(b"-----BEGIN PUBLIC KEY-----\n")


def _blob_envelope(name: str) -> bytes:
    return base64.b64decode(BLOB[name])


BLOB_KEY = keys.load_public_key((DATA / "blob-attestation.pub").read_bytes())


@pytest.mark.parametrize("name", ["blobSLSAProvenanceSignature", "dssePredicateMultipleSubjects"])
def test_cosign_signed_envelopes_verify(name: str) -> None:
    statement = envelopes.open_envelope(_blob_envelope(name), BLOB_KEY, BLOB_DIGEST)
    assert statement["predicateType"] == "https://slsa.dev/provenance/v0.2"


@pytest.mark.parametrize(
    "name",
    ["dssePredicateEmptySubject", "dssePredicateMissingSha256",
     "dssePredicateMultipleSubjectsInvalid"],
)  # fmt: skip
def test_cosign_envelopes_cosign_refuses_are_refused(name: str) -> None:
    with pytest.raises(envelopes.Unverified, match="subject is not"):
        envelopes.open_envelope(_blob_envelope(name), BLOB_KEY, BLOB_DIGEST)


def test_a_cosign_envelope_is_not_for_another_digest_nor_from_another_key() -> None:
    envelope = _blob_envelope("blobSLSAProvenanceSignature")
    other = "sha256:" + hashlib.sha256(b"another-blob").hexdigest()
    with pytest.raises(envelopes.Unverified, match="subject is not"):
        envelopes.open_envelope(envelope, BLOB_KEY, other)
    stranger = keys.generate_key_pair(b"").public_pem
    with pytest.raises(envelopes.Unverified, match="not signed by this key"):
        envelopes.open_envelope(envelope, keys.load_public_key(stranger), BLOB_DIGEST)


IMAGE_KEY = keys.load_public_key(IMAGES["public_key"].encode())
VALID = IMAGES["dir-img-cosign-valid"]
VALID_DIGEST = "sha256:" + hashlib.sha256(VALID["manifest"].encode()).hexdigest()


def test_an_image_signature_made_by_cosign_verifies() -> None:
    payload = base64.b64decode(VALID["payload"])
    opened = envelopes.open_simple_signing(payload, VALID["signature"], IMAGE_KEY, VALID_DIGEST)
    assert opened["critical"]["image"]["docker-manifest-digest"] == VALID_DIGEST


def test_hoist_writes_the_payload_cosign_wrote_byte_for_byte() -> None:
    reference = "192.168.64.2:5000/cosign-signed-single-sample"
    assert envelopes.simple_signing_payload(reference, VALID_DIGEST) == base64.b64decode(
        VALID["payload"]
    )


def test_cosign_signature_is_refused_for_a_modified_manifest_and_another_key() -> None:
    modified = IMAGES["dir-img-cosign-modified-manifest"]["manifest"].encode()
    digest = "sha256:" + hashlib.sha256(modified).hexdigest()
    payload = base64.b64decode(VALID["payload"])
    with pytest.raises(envelopes.Unverified, match=f"is for {VALID_DIGEST}, not {digest}"):
        envelopes.open_simple_signing(payload, VALID["signature"], IMAGE_KEY, digest)
    unknown = IMAGES["unknown-cosign-key"]
    with pytest.raises(envelopes.Unverified, match="not signed by this key"):
        envelopes.open_simple_signing(
            base64.b64decode(unknown["payload"]), unknown["signature"], IMAGE_KEY, VALID_DIGEST
        )


def test_hoists_envelopes_verify_with_securesystemslib() -> None:
    """An implementation hoist does not use: securesystemslib's DSSE and ECDSA code."""
    private = keys.load_private_key(keys.generate_key_pair(b"pw").private_pem, b"pw")
    statement = {
        "_type": "https://in-toto.io/Statement/v1",
        "predicateType": "x",
        "subject": [{"name": "a", "digest": {"sha256": "ab" * 32}}],
        "predicate": {},
    }
    sealed = envelopes.seal(statement, private)
    envelope = Envelope.from_dict(json.loads(sealed))
    # cosign leaves keyid empty; securesystemslib matches signatures to keys by keyid
    made = SSlibKey.from_crypto(private.public_key(), scheme="ecdsa-sha2-nistp256")
    public = SSlibKey("", made.keytype, made.scheme, made.keyval)
    verified = envelope.verify([public], 1)
    assert list(verified) == [""]
    assert json.loads(envelope.pae()[envelope.pae().index(b"{") :]) == statement
    tampered = Envelope.from_dict({**json.loads(sealed), "payloadType": "text/plain"})
    with pytest.raises(VerificationError):
        tampered.verify([public], 1)
