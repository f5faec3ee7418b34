"""docker-py without its ssh:// transport: a task that talks to ``$DOCKER_HOST`` only leaves
paramiko unloaded, an ``ssh://`` engine keeps it. Each case runs in a fresh interpreter, since
what a process has imported cannot be undone."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import sys
from pipeline.ssh_transport import leave_out_unless_used
left_out = leave_out_unless_used({"DOCKER_HOST": sys.argv[1]})
import docker
docker.APIClient(base_url="unix:///nonexistent.sock", version="1.41")  # works without it
print(left_out, "paramiko" in sys.modules and sys.modules["paramiko"] is not None)
"""


def probe(docker_host: str) -> str:
    found = subprocess.run(
        [sys.executable, "-c", PROBE, docker_host], capture_output=True, text=True, check=True
    )
    return found.stdout.strip()


@pytest.mark.parametrize("docker_host", ["", "unix:///var/run/docker.sock", "tcp://127.0.0.1:2375"])
def test_a_local_or_tcp_engine_leaves_paramiko_unloaded(docker_host: str) -> None:
    assert probe(docker_host) == "True False"


def test_an_ssh_engine_keeps_the_transport() -> None:
    assert probe("ssh://deploy@127.0.0.1") == "False True"
