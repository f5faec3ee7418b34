"""Key material from where the user keeps it, masked before anything could print it.

The private key's PEM text and its password are secrets: each is registered with
``mask_secret`` the moment it is read (GitHub Actions masks it from then on, hoist's own output
redacts it), held in memory only, and never written anywhere. A problem is a ``ConfigError``
naming the field and the reference (``env://COSIGN_PASSWORD``, ``cosign.key``), never a value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from pipeline.attest.keys import BadKey, load_private_key, load_public_key
from pipeline.attest.settings import KeyRef, SigningConfig
from pipeline.errors import ConfigError
from pipeline.secrets import mask_secret

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec


def read_ref(ref: KeyRef, environ: Mapping[str, str], source: str, field: str | None) -> str:
    """The text behind ``ref``; a missing variable or file is one line naming it."""
    if ref.variable is not None:
        value = environ.get(ref.variable)
        if value is None:
            raise ConfigError(source, field, f"{ref} is not set", hint=f"set {ref.variable}")
        return value
    assert ref.path is not None
    try:
        return ref.path.read_text()
    except OSError as exc:
        raise ConfigError(source, field, f"cannot read {ref}: {exc.strerror}") from None


def absent(ref: KeyRef, config: SigningConfig, environ: Mapping[str, str]) -> bool:
    """A key that may be missing (``required: false``) and is: its variable unset or empty
    (GitHub Actions gives an unset secret as an empty string)."""
    return not config.required and ref.variable is not None and not environ.get(ref.variable)


def load_signer(
    config: SigningConfig, environ: Mapping[str, str], source: str
) -> ec.EllipticCurvePrivateKey | None:
    """The signing key, decrypted with its password; both are masked as soon as read. None
    when ``absent``."""
    if absent(config.key, config, environ):
        return None
    pem = read_ref(config.key, environ, source, "signing.key")
    # the PEM's body, line by line (its BEGIN/END lines say nothing and are left readable)
    mask_secret("\n".join(line for line in pem.strip().splitlines() if "-----" not in line))
    password = read_ref(config.password, environ, source, "signing.password")
    if config.password.path is not None:  # a password file ends with a newline, a variable not
        password = password.rstrip("\r\n")
    mask_secret(password)
    try:
        return load_private_key(pem.encode(), password.encode())
    except BadKey as exc:
        raise ConfigError(source, "signing.key", f"{config.key}: {exc.message}", exc.hint) from None


SIGNING_SKIPPED = "signing ("  # how the skipped gate below begins


def signing_skipped(config: SigningConfig) -> str:
    """The skipped gate a run records when its optional key is not set (``load_signer`` gave
    None): the summary and the report say the image went out unsigned."""
    return f"{SIGNING_SKIPPED}{config.key} not set; signing.required: false)"


def load_run_signer(
    config: SigningConfig | None, environ: Mapping[str, str], source: str, skipped: list[str]
) -> ec.EllipticCurvePrivateKey | None:
    """The key a run (or a merge) signs with: None without ``signing:``, or with its optional
    key not set — then appended to the run's ``skipped`` gates."""
    if config is None:
        return None
    signer = load_signer(config, environ, source)
    if signer is None:
        skipped.append(signing_skipped(config))
    return signer


def load_verifier(
    ref: KeyRef, environ: Mapping[str, str], source: str, field: str | None
) -> ec.EllipticCurvePublicKey:
    try:
        return load_public_key(read_ref(ref, environ, source, field).encode())
    except BadKey as exc:
        raise ConfigError(source, field, f"{ref}: {exc.message}", exc.hint) from None
