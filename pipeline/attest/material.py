"""Key material from where the user keeps it, masked before anything could print it.

The private key's PEM text and its password are secrets: each is registered with
``mask_secret`` the moment it is read (GitHub Actions masks it from then on, hoist's own output
redacts it), held in memory only, and never written anywhere. A problem names the reference
(``env://COSIGN_PASSWORD``, ``cosign.key``), never a value.
"""

from __future__ import annotations

from collections.abc import Mapping

from cryptography.hazmat.primitives.asymmetric import ec

from pipeline.attest.keys import BadKey, load_private_key, load_public_key
from pipeline.attest.settings import KeyRef, SigningConfig
from pipeline.errors import PipelineError
from pipeline.secrets import mask_secret


def read_ref(ref: KeyRef, environ: Mapping[str, str], what: str, *, secret: bool) -> bytes:
    """The bytes behind ``ref``; a missing variable or file is one line naming it."""
    if ref.variable is not None:
        value = environ.get(ref.variable)
        if value is None:
            raise PipelineError(f"{what}: {ref} is not set", hint=f"set {ref.variable}")
        text = value
    else:
        assert ref.path is not None
        try:
            text = ref.path.read_text()
        except OSError as exc:
            raise PipelineError(f"{what}: cannot read {ref}: {exc.strerror}") from None
    if secret:
        mask_secret(text.strip("\n") if ref.path is not None else text)
    return text.encode()


def load_signer(config: SigningConfig, environ: Mapping[str, str]) -> ec.EllipticCurvePrivateKey:
    pem = read_ref(config.key, environ, "signing key", secret=True)
    password = read_ref(config.password, environ, "signing key password", secret=True)
    if config.password.path is not None:
        password = password.rstrip(b"\n")  # a password file ends with a newline; cosign's
    try:  # COSIGN_PASSWORD never does
        return load_private_key(pem, password)
    except BadKey as exc:
        raise PipelineError(f"signing key {config.key}: {exc.message}", exc.hint) from None


def load_verifier(ref: KeyRef, environ: Mapping[str, str]) -> ec.EllipticCurvePublicKey:
    try:
        return load_public_key(read_ref(ref, environ, "public key", secret=False))
    except BadKey as exc:
        raise PipelineError(f"public key {ref}: {exc.message}", exc.hint) from None
