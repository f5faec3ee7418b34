"""The user's docker credential store — ``config.json`` and its credential helpers.

Why hoist touches it at all: ``invoke login`` is for humans who then want ``docker pull`` to
work, so it writes exactly what ``docker login`` writes (a helper named by ``credsStore`` /
``credHelpers`` when configured, else base64 ``auths`` in ``$DOCKER_CONFIG/config.json``,
mode 0600) after the engine has verified the credentials with the registry. Pushes never
write here: they pass ``auth_config`` per request. The ``generic`` kind reads from here when
no variables are set, as docker itself would.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docker import auth
from docker.credentials import Store
from docker.credentials.errors import StoreError

from pipeline.errors import PipelineError
from pipeline.push.registries.base import Credentials, Target

if TYPE_CHECKING:
    pass

DOCKER_HUB_KEY = "https://index.docker.io/v1/"
DOCKER_HUB_HOSTS = ("docker.io", "index.docker.io", "registry-1.docker.io")


def config_path(environ: Mapping[str, str]) -> Path:
    """``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json`` (docker's own rule)."""
    directory = environ.get("DOCKER_CONFIG")
    return Path(directory or Path.home() / ".docker") / "config.json"


def server_key(endpoint: str) -> str:
    """The key docker files a registry under: Docker Hub's legacy URL, else the host."""
    return DOCKER_HUB_KEY if endpoint in DOCKER_HUB_HOSTS else endpoint


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise PipelineError(f"cannot read {path}: {exc}") from None
    return data if isinstance(data, dict) else {}


def _helper(data: Mapping[str, Any], key: str) -> str | None:
    helpers = data.get("credHelpers") or {}
    host = key if key != DOCKER_HUB_KEY else "docker.io"
    name = helpers.get(host) or helpers.get(key) or data.get("credsStore")
    return str(name) if name else None


def read(target: Target, environ: Mapping[str, str]) -> Credentials | None:
    """What the store holds for the target's endpoint (helpers resolved), or None."""
    path = config_path(environ)
    if not path.is_file():
        return None
    store = auth.load_config(config_path=str(path))
    entry = store.resolve_authconfig(registry=server_key(target.endpoint)) or {}
    username = entry.get("Username") or entry.get("username")
    secret = entry.get("Password") or entry.get("password") or entry.get("IdentityToken")
    if not username or not secret:
        return None
    return Credentials(str(username), str(secret), source=f"docker credential store ({path})")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[dict[str, Any]]:
    """Read-modify-write config.json under a lock, replacing it atomically with mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(path.with_name(".config.json.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = _load(path)
        yield data
        temporary = path.with_name(f".config.json.{os.getpid()}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(data, out, indent="\t")
        os.replace(temporary, path)


def _store(program: str) -> Any:
    return Store(program)


def write(target: Target, credentials: Credentials, environ: Mapping[str, str]) -> str:
    """Store credentials as ``docker login`` would; returns where they went (no secret)."""
    path = config_path(environ)
    key = server_key(target.endpoint)
    with _locked(path) as data:
        helper = _helper(data, key)
        if helper:
            try:
                _store(helper).store(key, credentials.username, credentials.password)
            except StoreError as exc:
                raise PipelineError(f"docker-credential-{helper} failed: {exc}") from None
            return f"docker-credential-{helper}"
        pair = f"{credentials.username}:{credentials.password}".encode()
        data.setdefault("auths", {})[key] = {"auth": base64.b64encode(pair).decode()}
    return str(path)


def erase(target: Target, environ: Mapping[str, str]) -> bool:
    """Remove the endpoint's entry (and its helper copy); False when there was none."""
    path = config_path(environ)
    if not path.is_file():
        return False
    key = server_key(target.endpoint)
    with _locked(path) as data:
        removed = (data.get("auths") or {}).pop(key, None) is not None
        helper = _helper(data, key)
        if helper:
            with contextlib.suppress(StoreError):
                _store(helper).erase(key)
                removed = True
    return removed
