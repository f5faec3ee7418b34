"""Key pairs in cosign's own format, so a key made here signs with cosign and the other way.

cosign (``pkg/cosign/keys.go``) keeps an ECDSA P-256 private key as PKCS #8 DER, encrypted with
go-securesystemslib's ``encrypted`` scheme — scrypt derives a 32-byte key from the password,
NaCl secretbox (XSalsa20-Poly1305) seals the DER — and the resulting JSON document
(``{"kdf": {...}, "cipher": {...}, "ciphertext": ...}``, bytes as standard base64) is the body
of an ``ENCRYPTED SIGSTORE PRIVATE KEY`` PEM block (older cosign wrote ``ENCRYPTED COSIGN
PRIVATE KEY``; both are read). The public key is a plain PKIX ``PUBLIC KEY`` PEM.

Only the three scrypt strengths securesystemslib accepts are read (anything else could make
the key derivation a denial of service), and only ECDSA P-256 keys: the scheme cosign
generates and the one its signature spec requires.

cryptography and PyNaCl are imported inside the functions that use them: every key operation
goes through this module, and a run that does not sign never needs them (they are a tenth of
what ``invoke ci`` imports).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline.errors import PipelineError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec
    from nacl.secret import SecretBox

PRIVATE_PEM_TYPES = ("ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY")
SCRYPT_PARAMS = ({"N": 32768, "r": 8, "p": 1}, {"N": 65536, "r": 8, "p": 1},
                 {"N": 131072, "r": 8, "p": 1})  # fmt: skip
NEW_KEY_PARAMS = SCRYPT_PARAMS[1]  # securesystemslib's "standard" strength, cosign's default
SALT_BYTES = 32


class BadKey(PipelineError):
    """A key cannot be read: wrong password, wrong format, or not a P-256 key."""


@dataclass(frozen=True)
class KeyPair:
    """A freshly generated pair as the two PEM texts cosign writes (cosign.key, cosign.pub)."""

    private_pem: bytes
    public_pem: bytes


def generate_key_pair(password: bytes) -> KeyPair:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    body = encrypt(der, password)
    return KeyPair(_pem(PRIVATE_PEM_TYPES[0], body), public_pem(key.public_key()))


def encrypt(plaintext: bytes, password: bytes, params: dict[str, int] = NEW_KEY_PARAMS) -> bytes:
    """securesystemslib's ``encrypted.Encrypt``: the JSON document, compact as Go writes it."""
    salt = secrets.token_bytes(SALT_BYTES)
    box = _secret_box(password, salt, params)
    nonce = secrets.token_bytes(box.NONCE_SIZE)
    sealed = box.encrypt(plaintext, nonce).ciphertext
    document = {
        "kdf": {"name": "scrypt", "params": params, "salt": _b64(salt)},
        "cipher": {"name": "nacl/secretbox", "nonce": _b64(nonce)},
        "ciphertext": _b64(sealed),
    }
    return json.dumps(document, separators=(",", ":")).encode()


def decrypt(document: bytes, password: bytes) -> bytes:
    import nacl.exceptions

    try:
        data = json.loads(document)
        kdf, cipher = data["kdf"], data["cipher"]
        salt, nonce = base64.b64decode(kdf["salt"]), base64.b64decode(cipher["nonce"])
        sealed = base64.b64decode(data["ciphertext"])
    except (ValueError, KeyError, TypeError):
        raise BadKey("not an encrypted cosign key (its JSON body is unreadable)") from None
    if kdf.get("name") != "scrypt" or cipher.get("name") != "nacl/secretbox":
        raise BadKey(f"unsupported key encryption: {kdf.get('name')}/{cipher.get('name')}")
    if kdf.get("params") not in SCRYPT_PARAMS:
        raise BadKey("unsupported scrypt parameters in the encrypted key")
    box = _secret_box(password, salt, kdf["params"])
    try:
        return box.decrypt(sealed, nonce)
    except (nacl.exceptions.CryptoError, ValueError):
        raise BadKey(
            "cannot decrypt the private key: wrong password", hint="check COSIGN_PASSWORD"
        ) from None


def load_private_key(pem_text: bytes, password: bytes) -> ec.EllipticCurvePrivateKey:
    """cosign's ``LoadPrivateKey``: the PEM block, decrypted, as a P-256 signing key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    kind, body = _unpem(pem_text)
    if kind not in PRIVATE_PEM_TYPES:
        raise BadKey(
            f"not a cosign private key (PEM type {kind or 'missing'})",
            hint="make one with `invoke keygen` or `cosign generate-key-pair`",
        )
    der = decrypt(body, password)
    try:
        if not _is_pkcs8(der):  # cosign parses PKCS #8 only: an SEC 1 key fails there too
            raise ValueError
        key = serialization.load_der_private_key(der, password=None)
    except ValueError:
        raise BadKey("the decrypted private key is not PKCS #8") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise BadKey("only ECDSA P-256 keys are supported (cosign's default)")
    return key


def load_public_key(pem_text: bytes) -> ec.EllipticCurvePublicKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key = serialization.load_pem_public_key(pem_text)
    except ValueError:
        raise BadKey("not a PEM public key (expected cosign.pub's PUBLIC KEY block)") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise BadKey("only ECDSA P-256 public keys are supported (cosign's default)")
    return key


def public_pem(key: ec.EllipticCurvePublicKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def fingerprint(key: ec.EllipticCurvePublicKey) -> str:
    """A short name for a public key in output: sha256 of its DER, as ``sha256:`` + 12 hex."""
    from cryptography.hazmat.primitives import serialization

    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256:" + hashlib.sha256(der).hexdigest()[:12]


def sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> str:
    """ECDSA over SHA-256 of ``data``, ASN.1 DER, base64: cosign's signature encoding."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    return _b64(key.sign(data, ec.ECDSA(hashes.SHA256())))


def signature_valid(key: ec.EllipticCurvePublicKey, data: bytes, signature: str) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key.verify(base64.b64decode(signature, validate=True), data, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def _is_pkcs8(der: bytes) -> bool:
    """PKCS #8 ``PrivateKeyInfo`` opens with version 0; SEC 1's ``ECPrivateKey`` with 1."""
    if len(der) < 5 or der[0] != 0x30:
        return False
    start = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    return der[start : start + 3] == b"\x02\x01\x00"


def _secret_box(password: bytes, salt: bytes, params: dict[str, int]) -> SecretBox:
    """The NaCl secretbox keyed by scrypt of the password: what seals and opens a key file."""
    import nacl.secret

    n, r, p = params["N"], params["r"], params["p"]
    key = hashlib.scrypt(
        password, salt=salt, n=n, r=r, p=p, maxmem=256 * n * r, dklen=nacl.secret.SecretBox.KEY_SIZE
    )
    return nacl.secret.SecretBox(key)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _pem(kind: str, body: bytes) -> bytes:
    text = _b64(body)
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    return "\n".join([f"-----BEGIN {kind}-----", *lines, f"-----END {kind}-----", ""]).encode()


def _unpem(pem_text: bytes) -> tuple[str, bytes]:
    """The type and body of the first PEM block (Go's ``pem.Decode``), or ("", b"")."""
    lines = pem_text.decode(errors="replace").strip().splitlines()
    if not lines or not lines[0].startswith("-----BEGIN ") or not lines[0].endswith("-----"):
        return "", b""
    kind = lines[0][len("-----BEGIN ") : -5]
    end = f"-----END {kind}-----"
    if end not in lines:
        return "", b""
    body = "".join(line.strip() for line in lines[1 : lines.index(end)])
    try:
        return kind, base64.b64decode(body, validate=True)
    except ValueError:
        return "", b""
