"""What every registry kind shares: the resolved ``Target`` and ``Credentials``.

A target has two addresses on purpose. ``repository`` is the canonical name users see and
reports show (``ghcr.io/acme/app``); ``endpoint`` is the host actually contacted (a mirror, a
proxy, or a local registry in tests). Naming and credentials follow the kind; only the network
address changes. ``push_repository`` is the repository rewritten onto the endpoint: the name
the engine tags and pushes.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from pipeline.config import IMAGE_NAME_RE, TargetConfig
from pipeline.errors import ConfigError, PipelineError


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
    12-hour token) when a run outlives them. The secret is excluded from ``repr`` so it cannot
    leak through a log of the object.
    """

    username: str
    password: str = field(repr=False)
    source: str = ""
    expires_at: float | None = None

    def expired(self, margin: float = 300.0) -> bool:
        return self.expires_at is not None and time.time() > self.expires_at - margin

    def auth_config(self) -> dict[str, str]:
        return {"username": self.username, "password": self.password}


def split_repository(config: TargetConfig, repository: str) -> tuple[str, str]:
    """Split ``host/path`` and validate the whole as a Docker reference without tag."""
    where = f"registries[{config.name}].repository"
    if ":" in repository.rsplit("/", 1)[-1] or "@" in repository:
        raise ConfigError("pipeline.yaml", where, f"{repository!r} must not carry a tag or digest")
    if "/" not in repository:
        raise ConfigError("pipeline.yaml", where, f"{repository!r} has no registry host")
    host, path = repository.split("/", 1)
    if not IMAGE_NAME_RE.match(path) or not re.match(r"^[a-zA-Z0-9.-]+(:[0-9]+)?$", host):
        raise ConfigError(
            "pipeline.yaml",
            where,
            f"{repository!r} is not a valid repository",
            hint="lower-case letters, digits and . _ - separated by /",
        )
    return host, path


def target_from(config: TargetConfig, registry: str, path: str) -> Target:
    """Build the target, pointing at ``config.endpoint`` when one is given."""
    endpoint = config.endpoint or registry
    endpoint = re.sub(r"^https?://", "", endpoint).rstrip("/")
    return Target(config.name, config.kind, registry, path, endpoint, dict(config.options))


def env_credentials(
    target: Target, environ: Any, user_var: str, secret_var: str, what: str
) -> Credentials:
    """Credentials from a username and a secret variable, or an error naming both."""
    username, secret = environ.get(user_var), environ.get(secret_var)
    if not username or not secret:
        missing = [v for v in (user_var, secret_var) if not environ.get(v)]
        raise PipelineError(
            f"{target.name} ({target.repository}): no credentials",
            hint=f"set {' and '.join(missing)} ({what})",
        )
    return Credentials(username, secret, source=f"{user_var}/{secret_var}")
