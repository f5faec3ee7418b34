"""A second, real Docker Engine on this machine: the stand-in for a deploy target server.

Test support, not library code. It follows what DESIGN.md measured: its own ``--data-root``,
``--exec-root``, ``--pidfile`` and unix socket, ``--iptables=false``, and its own bridge made
with ``ip link add NAME type bridge`` (``--bridge=none`` would make that daemon delete the first
engine's ``docker0``). Its containers use the host network, so an app under test listens on a
free 127.0.0.1 port given through ``PORT``. It is stopped by its pid, and the bridge deleted.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from pipeline.push.registry_server import process_alive


@dataclass(frozen=True)
class ServerEngine:
    root: Path
    socket: Path
    pid: int
    bridge: str

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"


def start_server_engine(timeout: float = 30.0) -> ServerEngine:
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        raise RuntimeError("dockerd is not installed (make setup installs docker.io)")
    # Short paths: containerd's sockets live under the exec-root and unix paths are <108 bytes.
    root = Path(tempfile.mkdtemp(prefix="hoist-srv-", dir="/tmp"))
    bridge = f"hoistbr{secrets.token_hex(3)}"
    subprocess.run(["ip", "link", "add", bridge, "type", "bridge"], check=True)
    config = root / "daemon.json"
    config.write_text(json.dumps({}))  # not /etc/docker/daemon.json: nothing of the first engine
    socket = root / "docker.sock"
    log = open(root / "dockerd.log", "wb")  # noqa: SIM115 - handed to the child process
    try:
        process = subprocess.Popen(
            [
                dockerd,
                f"--config-file={config}",
                f"--data-root={root / 'data'}",
                f"--exec-root={root / 'exec'}",
                f"--pidfile={root / 'docker.pid'}",
                f"--host=unix://{socket}",
                "--iptables=false",
                f"--bridge={bridge}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    except BaseException:
        _delete_bridge(bridge)
        raise
    finally:
        log.close()
    engine = ServerEngine(root, socket, process.pid, bridge)
    try:
        _wait_until_answering(engine, process, timeout)
    except BaseException:
        stop_server_engine(engine)
        raise
    return engine


def _wait_until_answering(engine: ServerEngine, process: subprocess.Popen[bytes], timeout: float):
    import docker

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = (engine.root / "dockerd.log").read_text(errors="replace").splitlines()[-5:]
            raise RuntimeError("second dockerd exited at start: " + " | ".join(tail))
        if engine.socket.exists():
            with contextlib.suppress(Exception):
                docker.DockerClient(base_url=engine.host, timeout=5).ping()
                return
        time.sleep(0.1)
    raise RuntimeError(f"second dockerd did not answer within {timeout:.0f} s")


def stop_server_engine(engine: ServerEngine, timeout: float = 30.0) -> None:
    """SIGTERM by pid (dockerd stops its containers and containerd), then the bridge and files."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(engine.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process_alive(engine.pid):
        time.sleep(0.1)
    if process_alive(engine.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(engine.pid, signal.SIGKILL)
        time.sleep(0.5)
    process_alive(engine.pid)  # reap
    _delete_bridge(engine.bridge)
    unmount_below(engine.root)
    shutil.rmtree(engine.root, ignore_errors=True)


def _delete_bridge(bridge: str) -> None:
    subprocess.run(["ip", "link", "delete", bridge], capture_output=True, check=False)


def unmount_below(root: Path) -> None:
    """A killed daemon can leave overlay/shm mounts under its root: never rm -rf through them."""
    mounts = [
        line.split()[1]
        for line in Path("/proc/self/mounts").read_text().splitlines()
        if line.split()[1].startswith(f"{root}/")
    ]
    for mount in sorted(mounts, key=len, reverse=True):
        subprocess.run(["umount", "-l", mount], capture_output=True, check=False)
