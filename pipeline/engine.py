"""The Docker Engine connection, with one clear error when no engine answers.

docker-py raises a chain of urllib3/requests errors when the socket is missing; users need one
line saying which engine was tried and how to start one.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from pipeline.errors import EngineUnavailable

if TYPE_CHECKING:
    import docker


def docker_client(host: str | None = None, timeout: int = 300) -> docker.DockerClient:
    """A client for ``host`` (or ``$DOCKER_HOST``, or the local socket), checked with a ping."""
    import docker
    from docker.errors import DockerException

    where = host or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    try:
        client = (
            docker.DockerClient(base_url=where, timeout=timeout)
            if host
            else (docker.from_env(timeout=timeout))
        )
        client.ping()
    except DockerException as exc:
        reason = str(exc).split(" (", 1)[0].split(": ", 1)[-1][:160]
        raise EngineUnavailable(
            f"no Docker Engine answers at {where}: {reason}",
            hint="start it (`make setup` does, or `sudo systemctl start docker`)",
        ) from None
    return client
