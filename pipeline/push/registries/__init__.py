"""Registry kinds: one module per kind, each knowing naming and credential rules.

A kind module exposes two functions, and optionally three more:

``make_target(config: TargetConfig, image: str, environ: Mapping[str, str]) -> Target``
    forms and validates the full repository reference (raises ``ConfigError``);
``credentials(target: Target, environ: Mapping[str, str]) -> Credentials | None``
    finds credentials in the kind's standard places; raises ``MissingCredentials`` naming the
    exact variables to set when they are missing. ``None`` means "anonymous / docker's own
    store".
``check_credentials(target, environ) -> None`` (optional)
    refuses missing credentials like ``credentials`` does, but without a network call, a
    program run or any other side effect — for kinds whose ``credentials`` has one (a cloud
    SDK's default chain, a docker credential helper). Without it, ``credentials`` itself is
    side-effect free and is what ``check_targets`` calls.
``prepare(target: Target, environ: Mapping[str, str], log: Log) -> None`` (optional)
    makes the registry ready before the first push (ECR: create the repository on request).
``check_target(config, image, environ)`` (optional)
    validates like ``make_target`` without its side effects (local: starting the registry);
    ``check_targets`` uses it to refuse bad input before any stage runs. Such a target has no
    credentials to check before it is resolved: hoist generates the local registry's own.

Modules are imported only when a target of their kind is used, so heavy SDKs (boto3,
google-auth, azure-identity) cost nothing to users who do not push there. Shared pieces live in
``base`` (naming, errors), ``credstore`` (the user's docker credential store), ``retry`` (what
is retried, how patiently) and ``credential_check`` (each registry asked, beside lint and build,
whether it takes the credentials the push will use).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from types import ModuleType

from pipeline.errors import ConfigError
from pipeline.push.registries.base import Credentials, MissingCredentials, Target, TargetConfig
from pipeline.result import Log
from pipeline.secrets import mask_secret

REGISTRY_KINDS = ("local", "dockerhub", "ghcr", "ecr", "gcr", "acr", "quay", "generic")

__all__ = [
    "Credentials",
    "MissingCredentials",
    "Target",
    "check_targets",
    "kind_module",
    "prepare_target",
    "resolve_target",
    "select_targets",
    "target_credentials",
]


def kind_module(kind: str) -> ModuleType:
    if kind not in REGISTRY_KINDS:
        raise ValueError(f"unknown registry kind {kind!r}")
    return importlib.import_module(f"pipeline.push.registries.{kind}")


def resolve_target(config: TargetConfig, image: str, environ: Mapping[str, str]) -> Target:
    target: Target = kind_module(config.kind).make_target(config, image, environ)
    return target


def target_credentials(target: Target, environ: Mapping[str, str]) -> Credentials | None:
    creds: Credentials | None = kind_module(target.kind).credentials(target, environ)
    # Every caller (push, deploy, login) gets a secret already masked (GitHub: ::add-mask::).
    # Usernames are not masked: they are not secret, and masking ``AWS`` or
    # ``oauth2accesstoken`` would blank out unrelated words all over the log.
    if creds is not None:
        mask_secret(creds.password)
    return creds


def prepare_target(target: Target, environ: Mapping[str, str], log: Log) -> None:
    prepare = getattr(kind_module(target.kind), "prepare", None)
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
        module = kind_module(config.kind)
        if hasattr(module, "check_target"):
            module.check_target(config, image, environ)
            continue
        target: Target = module.make_target(config, image, environ)
        getattr(module, "check_credentials", module.credentials)(target, environ)
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
