"""What every registry kind shares: the resolved ``Target``, ``Credentials`` and the helpers
that keep kind modules down to their own rules (no naming or error-text code is repeated).

A target has two addresses on purpose. ``repository`` is the canonical name users see and
reports show (``ghcr.io/acme/app``); ``endpoint`` is the host actually contacted (a mirror, a
proxy, or a local registry in tests). Naming and credentials follow the kind; only the network
address changes. ``push_repository`` is the repository rewritten onto the endpoint: the name
the engine tags and pushes.
"""

from __future__ import annotations

import importlib
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from pipeline.config.names import IMAGE_NAME_RE
from pipeline.config.source import DEFAULT_CONFIG
from pipeline.errors import EXIT_USAGE, ConfigError, PipelineError
from pipeline.result import Log

HOST_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9-]+)*(?::[0-9]+)?$")


@dataclass(frozen=True)
class TargetConfig:
    """One push target as written in pipeline.yaml; the registry kind gives it meaning."""

    kind: str
    name: str
    repository: str | None = None
    endpoint: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    source: str = DEFAULT_CONFIG  # the file it was read from, for error messages


@dataclass(frozen=True)
class Target:
    name: str
    kind: str
    registry: str
    path: str
    endpoint: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def repository(self) -> str:
        return f"{self.registry}/{self.path}"

    @property
    def push_repository(self) -> str:
        return f"{self.endpoint}/{self.path}"

    def reference(self, tag: str) -> str:
        return f"{self.repository}:{tag}"


@dataclass(frozen=True)
class Credentials:
    """A username/secret pair for one registry, held in memory only.

    ``expires_at`` (epoch seconds) lets the push engine refresh short-lived tokens (ECR's
    12-hour token, a cloud access token) when a run outlives them. The secret is excluded from
    ``repr`` so it cannot leak through a log of the object; ``source`` says where it came from
    (variable names, never values) for the report.
    """

    username: str
    password: str = field(repr=False)
    source: str = ""
    expires_at: float | None = None

    def expired(self, margin: float = 300.0) -> bool:
        return self.expires_at is not None and time.time() > self.expires_at - margin

    def auth_config(self) -> dict[str, str]:
        return {"username": self.username, "password": self.password}


# --- naming -----------------------------------------------------------------------------------


def config_error(
    config: TargetConfig, key: str, problem: str, hint: str | None = None
) -> ConfigError:
    """A ``ConfigError`` located at ``registries[NAME].KEY`` of pipeline.yaml."""
    return ConfigError(config.source, f"registries[{config.name}].{key}", problem, hint)


def has_host(first_component: str) -> bool:
    """Docker's rule: a first component with ``.`` or ``:`` (or ``localhost``) is a host."""
    return "." in first_component or ":" in first_component or first_component == "localhost"


def parse_repository(
    config: TargetConfig,
    repository: str,
    *,
    default_host: str | None,
    lower_owner: bool = False,
) -> tuple[str, str]:
    """Split ``[host/]path`` and validate both halves as a Docker reference without a tag.

    ``default_host`` is used when the text names no host (``acme/app`` on Docker Hub);
    ``None`` makes the host mandatory. ``lower_owner`` lower-cases the first path component
    (GitHub owners are case-insensitive, but ``GITHUB_REPOSITORY_OWNER`` keeps their case).
    Anything else upper-case is refused with the lower-case spelling as the hint, rather than
    silently pushing somewhere the user did not write.
    """
    text = re.sub(r"^https?://", "", repository.strip()).rstrip("/")
    if "@" in text or ":" in text.rsplit("/", 1)[-1]:
        raise config_error(config, "repository", f"{repository!r} must not carry a tag or digest")
    first, _, rest = text.partition("/")
    if rest and has_host(first):
        host, path = first.lower(), rest
    elif default_host is None:
        raise config_error(
            config, "repository", f"{repository!r} has no registry host", "e.g. host/team/app"
        )
    else:
        host, path = default_host, text
    if lower_owner:
        owner, _, tail = path.partition("/")
        path = f"{owner.lower()}/{tail}" if tail else owner.lower()
    if path != path.lower():
        raise config_error(
            config,
            "repository",
            f"{repository!r}: repository names must be lower case",
            hint=f"use {host}/{path.lower()}",
        )
    if not IMAGE_NAME_RE.match(path) or not HOST_RE.match(host):
        raise config_error(
            config,
            "repository",
            f"{repository!r} is not a valid repository",
            hint="lower-case letters, digits and . _ - separated by /",
        )
    return host, path


def require_depth(
    config: TargetConfig, host: str, path: str, low: int, high: int | None, shape: str
) -> None:
    """Refuse a path with fewer (or more) components than the registry accepts."""
    depth = path.count("/") + 1
    if depth < low or (high is not None and depth > high):
        raise config_error(config, "repository", f"{host}/{path}: {host} repositories are {shape}")


def image_basename(image: str) -> str:
    """The last component of the pipeline's image name: the default repository name."""
    return image.rsplit("/", 1)[-1]


def check_options(config: TargetConfig, allowed: Mapping[str, type]) -> None:
    """Refuse options the kind does not know, so a typo never silently changes nothing."""
    for key, value in config.options.items():
        if key not in allowed:
            known = ", ".join(allowed) or "none"
            raise config_error(
                config, f"options.{key}", f"unknown option for kind {config.kind}",
                hint=f"options of {config.kind}: {known}",
            )  # fmt: skip
        if not isinstance(value, allowed[key]):
            raise config_error(
                config, f"options.{key}", f"expected {allowed[key].__name__}, got {value!r}"
            )


def target_from(config: TargetConfig, registry: str, path: str) -> Target:
    """Build the target, pointing at ``config.endpoint`` when one is given."""
    endpoint = config.endpoint or registry
    endpoint = re.sub(r"^https?://", "", endpoint).rstrip("/")
    if not HOST_RE.match(endpoint.lower()):
        raise config_error(config, "endpoint", f"{config.endpoint!r} is not HOST[:PORT]")
    return Target(config.name, config.kind, registry, path, endpoint.lower(), dict(config.options))


# --- credentials ------------------------------------------------------------------------------


class MissingCredentials(PipelineError):
    """A target's credentials are not where its kind looks for them: input the user must
    give (exit code 2), not a failure of the registry."""

    exit_code = EXIT_USAGE


def no_credentials(target: Target, hint: str, why: str = "no credentials") -> MissingCredentials:
    """The one error for a missing credential: which target, and the exact variables to set."""
    return MissingCredentials(f"{target.name} ({target.repository}): {why}", hint=hint)


def env_credentials(
    target: Target, environ: Mapping[str, str], user_var: str, secret_var: str, what: str
) -> Credentials:
    """Credentials from a username and a secret variable, or an error naming both."""
    username, secret = environ.get(user_var), environ.get(secret_var)
    if not username or not secret:
        missing = [v for v in (user_var, secret_var) if not environ.get(v)]
        raise no_credentials(target, f"set {' and '.join(missing)} ({what})")
    return Credentials(username, secret, source=f"{user_var}/{secret_var}")


def optional_import(target: Target, module: str, extra: str, otherwise: str) -> ModuleType:
    """Import a cloud SDK only when its kind is used; say which extra installs it if absent."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise no_credentials(
            target,
            f"{otherwise}, or install the SDK: pip install 'hoist[{extra}]'",
            why=f"{module.split('.')[0]} is not installed",
        ) from None


@dataclass(frozen=True)
class RegistryKind:
    """What a registry kind declares (each kind module's ``KIND``): its name and its rules.

    ``make_target`` forms and validates the full repository reference (raises
    ``ConfigError``); ``credentials`` finds them in the kind's standard places (raises
    ``MissingCredentials`` naming the variables to set; ``None`` means anonymous / docker's own
    store). Optional: ``check_target`` validates like ``make_target`` without its side effects
    (local: starting the registry); ``check_credentials`` refuses missing credentials without a
    network call or a program run, for kinds whose ``credentials`` has one (a cloud SDK's
    default chain, a docker credential helper); ``prepare`` makes the registry ready before the
    first push (ECR: create the repository on request).
    """

    name: str
    make_target: Callable[[TargetConfig, str, Mapping[str, str]], Target]
    credentials: Callable[[Target, Mapping[str, str]], Credentials | None]
    check_target: Callable[[TargetConfig, str, Mapping[str, str]], object] | None = None
    check_credentials: Callable[[Target, Mapping[str, str]], None] | None = None
    prepare: Callable[[Target, Mapping[str, str], Log], None] | None = None
