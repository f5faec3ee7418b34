"""``invoke verify`` and deploy's check: from an image reference (or a deploy release) to the
verdict, with the credentials of the push target that names that repository.

A reference is ``HOST/PATH[:TAG][@sha256:…]`` as docker writes it; a tag is resolved to the
digest the registry serves now (so a tag moved to another image is checked as that image).
Credentials come from the configured target whose repository or endpoint matches; any other
repository is read anonymously.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from pipeline.attest.material import absent, load_verifier
from pipeline.attest.settings import ATTESTATIONS, KeyRef, SigningConfig, key_ref
from pipeline.attest.store import ArtifactStore
from pipeline.attest.verify import Subject, VerificationFailed, verify_image
from pipeline.errors import ConfigError
from pipeline.push.registries.base import TargetConfig, has_host
from pipeline.push.registries.kinds import Credentials, Target, resolve_target, target_credentials
from pipeline.push.registry_server import embedded_registry
from pipeline.result import Log

DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


def parse_reference(text: str) -> tuple[str, str, str | None, str | None]:
    """(host, path, tag, digest) of ``HOST/PATH[:TAG][@DIGEST]``; the host is required."""
    name, _, digest = text.partition("@")
    host, _, rest = name.partition("/")
    tag = None
    if ":" in rest.rsplit("/", 1)[-1]:
        rest, _, tag = rest.rpartition(":")
    if not rest or not has_host(host):
        raise ConfigError("REF", None, f"{text!r} is not HOST/PATH[:TAG][@sha256:...]")
    if digest and not DIGEST_RE.match(digest):
        raise ConfigError("REF", None, f"{digest!r} is not sha256: and 64 hex digits")
    return host, rest, tag, digest or None


def required_attestations(text: str | None, signing: SigningConfig | None) -> tuple[str, ...]:
    """``--attestations a,b`` (``none`` for the signature alone); default: what
    ``signing.attestations`` produces, else all three."""
    if text is None or text == "":
        return signing.attestations if signing is not None else ATTESTATIONS
    if text == "none":
        return ()
    chosen = tuple(t.strip() for t in text.split(",") if t.strip())
    for item in chosen:
        if item not in ATTESTATIONS:
            raise ConfigError("--attestations", None, f"unknown attestation {item!r}",
                              hint=f"one of {', '.join(ATTESTATIONS)}, or none")  # fmt: skip
    return chosen


def lending_targets(
    configured: Sequence[TargetConfig], image: str, environ: Mapping[str, str]
) -> list[Target]:
    """The configured targets that can lend credentials, resolved without side effects: the
    embedded registry (kind ``local``) only when it already runs — verifying never starts it."""
    running = embedded_registry() is not None
    return [
        resolve_target(config, image, environ)
        for config in configured
        if config.kind != "local" or running
    ]


def verify_reference(
    reference: str,
    key: KeyRef,
    required: tuple[str, ...],
    targets: Sequence[Target],
    environ: Mapping[str, str],
    log: Log,
) -> Subject:
    host, path, tag, digest = parse_reference(reference)
    public = load_verifier(key, environ, "--key", None)  # bad input before the registry
    target = next(
        (
            t
            for t in targets
            if (t.registry, t.path) == (host, path) or (t.endpoint, t.path) == (host, path)
        ),
        None,
    )
    endpoint = target.endpoint if target else host
    credentials = target_credentials(target, environ) if target else None
    store = ArtifactStore(target.name if target else host, endpoint, credentials)
    if digest is None:
        served = store.manifest_digest(path, tag or "latest")
        if served is None:
            raise VerificationFailed(f"{host}/{path}:{tag or 'latest'}: no such image")
        digest = served
    subject = Subject(target.name if target else host, endpoint, path, digest)
    log(f"verifying {subject} with {key}")
    verify_image(store, subject, public, required, log)
    return subject


def verify_release(
    signing: SigningConfig,
    target_name: str,
    pull_repository: str,
    digest: str,
    credentials: Credentials | None,
    environ: Mapping[str, str],
    source: str,
    log: Log,
) -> None:
    """Deploy's check before the pull: the digest as the server will pull it."""
    assert signing.public_key is not None
    if absent(signing.public_key, signing, environ):
        log(f"signature NOT checked: {signing.public_key} is not set (signing.required: false)")
        return
    endpoint, _, path = pull_repository.partition("/")
    store = ArtifactStore(target_name, endpoint, credentials)
    subject = Subject(target_name, endpoint, path, digest)
    key = load_verifier(signing.public_key, environ, source, "signing.public_key")
    log(f"verifying {subject} with {signing.public_key}")
    verify_image(store, subject, key, signing.attestations, log)


def run_verify(
    reference: str,
    key: str,
    attestations: str,
    signing: SigningConfig | None,
    targets: Sequence[Target],
    environ: Mapping[str, str],
    log: Log,
) -> Subject:
    """``invoke verify``: ``--key`` wins over ``signing.public_key``; ``targets`` (from
    pipeline.yaml, when there is one) lend their credentials."""
    if key:
        ref = key_ref(key, Path.cwd())
    elif signing is not None and signing.public_key is not None:
        ref = signing.public_key
    else:
        raise ConfigError("--key", None, "no public key to verify with",
                          hint="pass --key cosign.pub, or set signing.public_key")  # fmt: skip
    required = required_attestations(attestations, signing)
    return verify_reference(reference, ref, required, targets, environ, log)
