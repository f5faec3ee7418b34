"""Registry kinds: one module per kind, each knowing naming and credential rules.

A kind module exposes two functions:

``make_target(config: TargetConfig, image: str, environ: Mapping[str, str]) -> Target``
    forms and validates the full repository reference (raises ``ConfigError``);
``credentials(target: Target, environ: Mapping[str, str]) -> Credentials | None``
    finds credentials in the kind's standard places; raises ``PipelineError`` naming the exact
    variables to set when they are missing. ``None`` means "anonymous / docker's own store".

Modules are imported only when a target of their kind is used, so heavy SDKs (boto3,
google-auth, azure-identity) cost nothing to users who do not push there.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType

from pipeline.config import REGISTRY_KINDS, TargetConfig
from pipeline.registries.base import Credentials, Target

__all__ = ["Credentials", "Target", "kind_module", "resolve_target", "target_credentials"]


def kind_module(kind: str) -> ModuleType:
    if kind not in REGISTRY_KINDS:
        raise ValueError(f"unknown registry kind {kind!r}")
    return importlib.import_module(f"pipeline.registries.{kind}")


def resolve_target(config: TargetConfig, image: str, environ: Mapping[str, str]) -> Target:
    target: Target = kind_module(config.kind).make_target(config, image, environ)
    return target


def target_credentials(target: Target, environ: Mapping[str, str]) -> Credentials | None:
    creds: Credentials | None = kind_module(target.kind).credentials(target, environ)
    return creds
