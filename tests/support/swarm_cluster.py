"""A Docker Swarm of real engines, each in a network namespace of its own: the test's cluster.

Test support, not library code. The layout (DESIGN.md: tests may build hosts from network
namespaces and veth pairs; their addresses and loopback are the only targets):

* a "lan" namespace holding a bridge with 192.168.213.1 — where the test's client stands —
  and, per node, a namespace joined to that bridge by a veth pair (192.168.213.11, .12, ...);
* in each node namespace a dockerd with its own data-root, exec-root, pidfile and unix socket,
  ``--iptables=false`` and its own bridge made inside that namespace (never ``--bridge=none``,
  which deletes the first engine's docker0). It is started with ``nsenter --net`` — only the
  network namespace: the new mount namespace ``ip netns exec`` makes would hide the cgroup
  mounts dockerd needs — and ``unshare --uts``, so each node has its own hostname (node-1, ...)
  and the first engine's host is untouched;
* swarm's host-mode ports bind inside the node namespaces, so nothing is published on this
  machine's own interfaces;
* the registry stays on this namespace's 127.0.0.1; each node gets a forwarder listening on its
  own 127.0.0.1 with the same port (a socket made by a thread that entered the node's
  namespace with setns), so ``127.0.0.1:PORT/repo@digest`` names the same registry on every
  node, and every engine treats it as the plain-HTTP loopback registry it allows.

Everything made here is recorded and removed by name or pid (engines, veths, bridges,
namespaces), never by pattern.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import docker

from pipeline.push.registry_server import process_alive
from tests.support.server_engine import unmount_below

SUBNET = "192.168.213"
CLIENT_ADDRESS = f"{SUBNET}.1"
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


@contextlib.contextmanager
def in_netns(name: str) -> Iterator[None]:
    """Run the block's socket calls in namespace ``name`` (this thread only), then come back."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        enter_netns(target)
        yield
    finally:
        enter_netns(own)
        os.close(own)
        os.close(target)


def enter_netns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns into a network namespace failed")


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def _ip_quiet(*args: str) -> None:
    subprocess.run(["ip", *args], check=False, capture_output=True)


class Forwarder:
    """Listens on 127.0.0.1:PORT inside a namespace; each connection goes to 127.0.0.1:PORT
    of this one (the registry)."""

    def __init__(self, netns: str, port: int) -> None:
        with in_netns(netns):
            self.listener = socket.create_server(("127.0.0.1", port))
        self.port = port
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                inside, _ = self.listener.accept()
            except OSError:
                return  # closed
            try:
                outside = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            except OSError:
                inside.close()
                continue
            outside.settimeout(None)
            for a, b in ((inside, outside), (outside, inside)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()

    def close(self) -> None:
        self.listener.close()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(1 << 16):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


@dataclass
class Node:
    name: str  # its hostname
    netns: str
    address: str
    root: Path
    pid: int = 0
    forwarder: Forwarder | None = None

    @property
    def host(self) -> str:
        return f"unix://{self.root / 'docker.sock'}"


@dataclass
class SwarmCluster:
    lan: str
    nodes: list[Node] = field(default_factory=list)

    @property
    def manager(self) -> Node:
        return self.nodes[0]

    def client(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.manager.host, timeout=60)


def start_swarm_cluster(size: int, registry_port: int, timeout: float = 60.0) -> SwarmCluster:
    """``size`` engines in namespaces of their own, one swarm with node-1 as its manager."""
    token = secrets.token_hex(3)
    cluster = SwarmCluster(lan=f"hsw{token}-lan")
    try:
        _ip("netns", "add", cluster.lan)
        _ip("-n", cluster.lan, "link", "add", "br0", "type", "bridge")
        _ip("-n", cluster.lan, "addr", "add", f"{CLIENT_ADDRESS}/24", "dev", "br0")
        _ip("-n", cluster.lan, "link", "set", "br0", "up")
        _ip("-n", cluster.lan, "link", "set", "lo", "up")
        for index in range(1, size + 1):
            cluster.nodes.append(_add_node(cluster.lan, token, index))
        for node in cluster.nodes:
            node.pid = _start_engine(node)
        for node in cluster.nodes:
            _wait_until_answering(node, timeout)
            node.forwarder = Forwarder(node.netns, registry_port)
        _form_swarm(cluster)
    except BaseException:
        stop_swarm_cluster(cluster)
        raise
    return cluster


def _add_node(lan: str, token: str, index: int) -> Node:
    root = Path(tempfile.mkdtemp(prefix=f"hsw{token}-{index}-", dir="/tmp"))
    node = Node(f"node-{index}", f"hsw{token}-n{index}", f"{SUBNET}.{10 + index}", root)
    _ip("netns", "add", node.netns)
    _ip("-n", lan, "link", "add", f"v{index}", "type", "veth", "peer", "name", "eth0", "netns",
        node.netns)  # fmt: skip
    _ip("-n", lan, "link", "set", f"v{index}", "master", "br0", "up")
    _ip("-n", node.netns, "addr", "add", f"{node.address}/24", "dev", "eth0")
    _ip("-n", node.netns, "link", "set", "eth0", "up")
    _ip("-n", node.netns, "link", "set", "lo", "up")
    _ip("-n", node.netns, "link", "add", "hsbr0", "type", "bridge")
    return node


def _start_engine(node: Node) -> int:
    (node.root / "daemon.json").write_text("{}")
    dockerd = shutil.which("dockerd") or "dockerd"
    command = (
        f"hostname {node.name} && exec {dockerd} --config-file={node.root}/daemon.json "
        f"--data-root={node.root}/data --exec-root={node.root}/exec "
        f"--pidfile={node.root}/docker.pid --host={node.host} --iptables=false --bridge=hsbr0"
    )
    with open(node.root / "dockerd.log", "wb") as log:
        process = subprocess.Popen(
            ["nsenter", f"--net=/run/netns/{node.netns}", "unshare", "--uts", "--",
             "sh", "-c", command],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
    return process.pid  # nsenter, unshare and sh exec: this is dockerd's pid


def _wait_until_answering(node: Node, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process_alive(node.pid):
            tail = (node.root / "dockerd.log").read_text(errors="replace").splitlines()[-5:]
            raise RuntimeError(f"dockerd of {node.name} exited: " + " | ".join(tail))
        with contextlib.suppress(Exception):
            docker.DockerClient(base_url=node.host, timeout=5).ping()
            return
        time.sleep(0.2)
    raise RuntimeError(f"dockerd of {node.name} did not answer within {timeout:.0f} s")


def _form_swarm(cluster: SwarmCluster) -> None:
    manager = cluster.manager
    client = docker.DockerClient(base_url=manager.host, timeout=60)
    client.swarm.init(advertise_addr=manager.address, listen_addr=f"{manager.address}:2377")
    client.swarm.reload()
    worker_token = client.swarm.attrs["JoinTokens"]["Worker"]
    for node in cluster.nodes[1:]:
        docker.DockerClient(base_url=node.host, timeout=60).swarm.join(
            remote_addrs=[f"{manager.address}:2377"],
            join_token=worker_token,
            listen_addr=f"{node.address}:2377",
            advertise_addr=node.address,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready = [n for n in client.api.nodes() if n["Status"]["State"] == "ready"]
        if len(ready) == len(cluster.nodes):
            return
        time.sleep(0.2)
    raise RuntimeError("the swarm's nodes did not all become ready within 30 s")


def stop_swarm_cluster(cluster: SwarmCluster, timeout: float = 40.0) -> None:
    """Engines by pid (all at once), then each veth, bridge and namespace by its name."""
    for node in cluster.nodes:
        if node.forwarder is not None:
            node.forwarder.close()
        if node.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(node.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for node in cluster.nodes:
        while node.pid and process_alive(node.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if node.pid and process_alive(node.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(node.pid, signal.SIGKILL)
    for index, node in enumerate(cluster.nodes, start=1):
        _ip_quiet("-n", cluster.lan, "link", "delete", f"v{index}")  # its peer eth0 goes too
        _ip_quiet("-n", node.netns, "link", "delete", "hsbr0")
        _ip_quiet("netns", "delete", node.netns)
        unmount_below(node.root)
        shutil.rmtree(node.root, ignore_errors=True)
    _ip_quiet("-n", cluster.lan, "link", "delete", "br0")
    _ip_quiet("netns", "delete", cluster.lan)
