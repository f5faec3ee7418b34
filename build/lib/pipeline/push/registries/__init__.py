"""Registry kinds: one module per kind, each declaring its naming and credential rules as a
``RegistryKind`` (``base.py``) named ``KIND``; ``KINDS`` below lists them, and the
``registries:`` parser accepts exactly those names, so the two cannot drift apart.

Heavy SDKs (boto3, google-auth, azure-identity) are imported inside the kind that needs them,
only when a target of that kind is used. Shared pieces live in ``base`` (naming, errors, the
declaration), ``credstore`` (the user's docker credential store), ``retry`` (what is retried,
how patiently) and ``credential_check`` (each registry asked, beside lint and build, whether it
takes the credentials the push will use).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pipeline.errors import ConfigError
from pipeline.push.registries import acr, dockerhub, ecr, gcr, generic, ghcr, local, quay
from pipeline.push.registries.base import (
    Credentials,
    MissingCredentials,
    RegistryKind,
    Target,
    TargetConfig,
)
from pipeline.result import Log
from pipeline.secrets import mask_secret

KINDS: dict[str, RegistryKind] = {
    kind.name: kind
    for kind in (
        local.KIND, dockerhub.KIND, ghcr.KIND, ecr.KIND, gcr.KIND, acr.KIND, quay.KIND,
        generic.KIND,
    )
}  # fmt: skip
REGISTRY_KINDS = tuple(KINDS)

__all__ = [
    "Credentials",
    "MissingCredentials",
    "Target",
    "check_targets",
    "kind_of",
    "prepare_target",
    "resolve_target",
    "select_targets",
    "target_credentials",
]


def kind_of(kind: str) -> RegistryKind:
    """The declaration of ``kind`` (pipeline.yaml was checked at load: it is one of KINDS)."""
    if kind not in KINDS:
        raise ValueError(f"unknown registry kind {kind!r}")
    return KINDS[kind]


def resolve_target(config: TargetConfig, image: str, environ: Mapping[str, str]) -> Target:
    return kind_of(config.kind).make_target(config, image, environ)


def target_credentials(target: Target, environ: Mapping[str, str]) -> Credentials | None:
    creds = kind_of(target.kind).credentials(target, environ)
    # Every caller (push, deploy, login) gets a secret already masked (GitHub: ::add-mask::).
    # Usernames are not masked: they are not secret, and masking ``AWS`` or
    # ``oauth2accesstoken`` would blank out unrelated words all over the log.
    if creds is not None:
        mask_secret(creds.password)
    return creds


def prepare_target(target: Target, environ: Mapping[str, str], log: Log) -> None:
    prepare = kind_of(target.kind).prepare
    if prepare is not None:
        prepare(target, environ, log)


def select_targets(
    configured: Sequence[TargetConfig],
    wanted: Sequence[str],
    image: str,
    environ: Mapping[str, str],
    source: str = "pipeline.yaml",
) -> list[Target]:
    """The targets ``--to`` names (by target name or by kind; all when empty), resolved."""
    return [resolve_target(t, image, environ) for t in _chosen(configured, wanted, source)]


def check_targets(
    configured: Sequence[TargetConfig],
    wanted: Sequence[str],
    image: str,
    environ: Mapping[str, str],
    source: str = "pipeline.yaml",
) -> list[Target]:
    """Refuse a bad ``--to``, a bad target or a missing credential before any stage runs,
    with no side effect; return the chosen targets, resolved.

    Why: a typo in a repository name, or a token nobody set, must not cost a build and a smoke
    test first, and must leave nothing behind. Resolving a ``local`` target would start the
    embedded registry, so a kind may offer a side-effect-free ``check_target`` instead; such a
    target is left out of the list, which is what the registries are asked about later (their
    credentials, beside lint and build).
    """
    resolved = []
    for config in _chosen(configured, wanted, source):
        kind = kind_of(config.kind)
        if kind.check_target is not None:
            kind.check_target(config, image, environ)
            continue
        target = kind.make_target(config, image, environ)
        (kind.check_credentials or kind.credentials)(target, environ)
        resolved.append(target)
    return resolved


def _chosen(
    configured: Sequence[TargetConfig], wanted: Sequence[str], source: str
) -> list[TargetConfig]:
    if not wanted:
        return list(configured)
    names = {t.name for t in configured} | {t.kind for t in configured}
    unknown = [w for w in wanted if w not in names]
    if unknown:
        raise ConfigError(  # a flag the user typed: bad input, exit code 2
            f"--to {','.join(unknown)}",
            None,
            f"no such target in {source}",
            hint=f"configured: {', '.join(t.name for t in configured)}",
        )
    return [t for t in configured if t.name in wanted or t.kind in wanted]
