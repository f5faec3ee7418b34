"""Registry kinds: one module per kind, each knowing naming and credential rules.

A kind module exposes two functions, and optionally a third:

``make_target(config: TargetConfig, image: str, environ: Mapping[str, str]) -> Target``
    forms and validates the full repository reference (raises ``ConfigError``);
``credentials(target: Target, environ: Mapping[str, str]) -> Credentials | None``
    finds credentials in the kind's standard places; raises ``PipelineError`` naming the exact
    variables to set when they are missing. ``None`` means "anonymous / docker's own store".
``prepare(target: Target, environ: Mapping[str, str], log: Log) -> None`` (optional)
    makes the registry ready before the first push (ECR: create the repository on request).

Modules are imported only when a target of their kind is used, so heavy SDKs (boto3,
google-auth, azure-identity) cost nothing to users who do not push there. Shared pieces live in
``base`` (naming, errors) and ``credstore`` (the user's docker credential store).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from types import ModuleType

from pipeline.ci import mask_credentials
from pipeline.config import REGISTRY_KINDS, TargetConfig
from pipeline.errors import PipelineError
from pipeline.registries.base import Credentials, Target
from pipeline.result import Log

__all__ = [
    "Credentials",
    "Target",
    "kind_module",
    "prepare_target",
    "resolve_target",
    "select_targets",
    "target_credentials",
]


def kind_module(kind: str) -> ModuleType:
    if kind not in REGISTRY_KINDS:
        raise ValueError(f"unknown registry kind {kind!r}")
    return importlib.import_module(f"pipeline.registries.{kind}")


def resolve_target(config: TargetConfig, image: str, environ: Mapping[str, str]) -> Target:
    target: Target = kind_module(config.kind).make_target(config, image, environ)
    return target


def target_credentials(target: Target, environ: Mapping[str, str]) -> Credentials | None:
    creds: Credentials | None = kind_module(target.kind).credentials(target, environ)
    # Every caller (push, deploy, login) gets a secret already masked (GitHub: ::add-mask::).
    return mask_credentials(creds)


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
    chosen = list(configured)
    if wanted:
        names = {t.name for t in configured} | {t.kind for t in configured}
        unknown = [w for w in wanted if w not in names]
        if unknown:
            raise PipelineError(
                f"--to {','.join(unknown)}: no such target in {source}",
                hint=f"configured: {', '.join(t.name for t in configured)}",
            )
        chosen = [t for t in configured if t.name in wanted or t.kind in wanted]
    return [resolve_target(t, image, environ) for t in chosen]
