"""The Docker Engine connection, with one clear error when no engine answers.

docker-py raises a chain of urllib3/requests errors when the socket is missing; users need one
line saying which engine was tried and how to start one.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

import docker
from docker.errors import DockerException

from pipeline.errors import EngineUnavailable

if TYPE_CHECKING:
    import docker


DEFAULT_HOST = "unix:///var/run/docker.sock"


def engine_host() -> str:
    """The engine ``docker_client()`` talks to (the SDK reads this process's ``DOCKER_HOST``):
    what a docker CLI run beside the SDK (the BuildKit build) is pointed at, so both reach the
    same engine whatever the CLI's context or the environment handed to the build."""
    return os.environ.get("DOCKER_HOST") or DEFAULT_HOST


def docker_client(host: str | None = None, timeout: int = 300) -> docker.DockerClient:
    """A client for ``host`` (or ``$DOCKER_HOST``, or the local socket), checked with a ping."""
    where = host or engine_host()
    try:
        client = (
            docker.DockerClient(base_url=where, timeout=timeout)
            if host
            else (docker.from_env(timeout=timeout))
        )
        client.ping()
    except (DockerException, OSError) as exc:  # OSError: paramiko's, for ssh:// hosts
        hint = "start it: `make setup` does, or `sudo systemctl start docker`"
        if not host and os.environ.get("DOCKER_HOST"):
            hint += "; or unset DOCKER_HOST to use the local engine"
        raise EngineUnavailable(
            f"no Docker Engine answers at {where}: {_reason(str(exc))}", hint=hint
        ) from None
    return client


def _reason(text: str) -> str:
    """The OS error inside docker-py's message, e.g. "Connection refused" out of
    ``Error while fetching server API version: ('Connection aborted.',
    ConnectionRefusedError(111, 'Connection refused'))``; else the message itself."""
    found = re.search(r"Error\(\d+, '([^']+)'\)|\[Errno (?:\d+|None)\] ([^\"')]+)", text)
    if found:
        return (found[1] or found[2]).strip()
    return " ".join(text.split())[:160]
