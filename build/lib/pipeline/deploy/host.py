"""The server's Docker Engine, and a way to reach the server's ports for health checks.

Why a module of its own: deploy has to talk to two things on the server — its engine (pull,
create, rename, stop) and the app it starts (the HTTP checks) — and how to reach the second
depends on how the first was reached:

* ``unix://`` (or ``tcp://`` to a loopback address): the server is this machine; a port the
  engine published on 127.0.0.1 is reached directly.
* ``ssh://user@host``: docker-py opens one SSH connection (paramiko; host key checked against
  ``~/.ssh/known_hosts``, identity from ``~/.ssh/config``, the agent or the default keys) and
  runs ``docker system dial-stdio`` on the server, so the server needs the docker CLI. The
  checks go through the *same* connection as ``direct-tcpip`` channels to the server's
  127.0.0.1, so the new version is proven without exposing its temporary port to anyone.
* ``tcp://host:2376``: TLS as the docker CLI does it (``DOCKER_TLS_VERIFY``,
  ``DOCKER_CERT_PATH``). There is no tunnel, so checks connect to ``host`` itself: the new
  version is published on the same interface as the live port (a random port), and a live
  port bound to the server's loopback cannot be checked — use ``ssh://`` for that.

Nothing here stores anything on the server.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import re
import select
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import docker
import paramiko
from docker.errors import DockerException
from docker.utils import kwargs_from_env
from requests import RequestException

from pipeline.deploy.settings import HOST_SCHEMES
from pipeline.errors import DeployError

if TYPE_CHECKING:
    import docker


def display_host(host: str) -> str:
    """``host`` as it may be printed: a password in the URL is replaced by ``***``."""
    return re.sub(r"^(\w+://[^/:@]+):[^/@]*@", r"\1:***@", host)


def _is_loopback(name: str) -> bool:
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _all_interfaces(ip: str) -> bool:
    return ip in ("", "0.0.0.0", "::")


@dataclass
class Server:
    """A connected server engine plus the route from here to the server's ports."""

    host: str
    client: docker.DockerClient
    route: str  # "local", "ssh" or "tcp"
    tcp_host: str = ""
    _forwards: dict[tuple[str, int], _Forward] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return display_host(self.host)

    @property
    def is_this_machine(self) -> bool:
        """Whether the server is this machine (a unix socket, or ssh/tcp to a loopback address)."""
        if self.route == "local":
            return True
        return _is_loopback(urlsplit(self.host).hostname or "")

    def check_can_pull_from(self, repository: str) -> None:
        """A registry on this machine's loopback cannot serve a server elsewhere: say so first."""
        registry = repository.split("/", 1)[0].rsplit(":", 1)[0]
        if _is_loopback(registry) and not self.is_this_machine:
            raise DeployError(
                f"{self.name} cannot pull from {repository}: that registry is on this machine's "
                "loopback (nothing changed on the server)",
                hint="push to a registry the server reaches and name it in deploy.ENV.registry",
            )

    def probe_bind(self, live_ip: str) -> str:
        """Where to publish a new version's temporary port so the checks can reach it."""
        return live_ip if self.route == "tcp" else "127.0.0.1"

    def check_reachable(self, ip: str) -> None:
        """Fail before anything changes when a port bound to ``ip`` cannot be checked from here."""
        if self.route == "tcp" and not _all_interfaces(ip) and _is_loopback(ip):
            raise DeployError(
                f"{self.name}: the live port is bound to the server's {ip}, which checks over "
                "tcp:// cannot reach (nothing changed on the server)",
                hint="deploy over ssh:// (checks go through the SSH connection)",
            )

    def address(self, ip: str, port: int) -> str:
        """``host:port`` that reaches the server's ``ip:port`` from this machine."""
        self.check_reachable(ip)
        target = "127.0.0.1" if _all_interfaces(ip) else ip
        if self.route == "local":
            return f"{target}:{port}"
        if self.route == "tcp":
            return f"{self.tcp_host if _all_interfaces(ip) else ip}:{port}"
        forward = self._forwards.get((target, port))
        if forward is None:
            forward = _Forward(_ssh_transport(self.client), (target, port))
            self._forwards[(target, port)] = forward
        return f"127.0.0.1:{forward.port}"

    def close(self) -> None:
        for forward in self._forwards.values():
            forward.close()
        self._forwards.clear()
        with contextlib.suppress(Exception):
            self.client.close()


def connect(host: str, environ: Mapping[str, str] | None = None, timeout: int = 120) -> Server:
    """Connect to the engine at ``host`` and ping it; any failure is one ``DeployError`` line."""
    environ = os.environ if environ is None else environ
    if not host.startswith(HOST_SCHEMES):
        raise DeployError(
            f"--host {display_host(host)!r} is not a Docker host",
            hint="ssh://user@server, tcp://server:2376 (TLS from DOCKER_CERT_PATH) or unix:///path",
        )
    unreachable: tuple[type[BaseException], ...] = (DockerException, RequestException, OSError)
    route, tcp_host = "local", ""
    if host.startswith("ssh://"):
        unreachable += (paramiko.SSHException,)
        route = "ssh"
    elif host.startswith("tcp://"):
        tcp_host = urlsplit(host).hostname or ""
        route = "local" if _is_loopback(tcp_host) else "tcp"
    try:
        if host.startswith("tcp://"):
            kwargs: dict[str, Any] = kwargs_from_env(environment={**environ, "DOCKER_HOST": host})
            client = docker.DockerClient(timeout=timeout, **kwargs)
        else:
            client = docker.DockerClient(base_url=host, timeout=timeout, use_ssh_client=False)
        if route == "ssh":
            _share_ssh_pool(client)
        client.ping()
    except unreachable as exc:
        raise DeployError(
            f"cannot reach the Docker Engine at {display_host(host)}: {_reason(exc)} "
            "(nothing changed on the server)",
            hint=_unreachable_hint(route),
        ) from None
    return Server(host, client, route, tcp_host)


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    for pattern, reason in (
        (r"FileNotFoundError|No such file or directory", "no engine socket there"),
        (r"Connection refused|Unable to connect to port", "connection refused"),
        (r"not found in known_hosts", "host key not in ~/.ssh/known_hosts"),
        (r"Authentication failed", "SSH authentication failed"),
        (r"timed out", "timed out"),
    ):
        if re.search(pattern, text):
            return reason
    return text[:160]


def _unreachable_hint(route: str) -> str:
    if route == "ssh":
        return (
            "check the address, your key and ~/.ssh/known_hosts, and that the server has "
            "the docker CLI (ssh:// runs `docker system dial-stdio` there)"
        )
    if route == "tcp":
        return "check the address and TLS (DOCKER_TLS_VERIFY=1, DOCKER_CERT_PATH)"
    return "check the address and that the engine runs there"


def _share_ssh_pool(client: docker.DockerClient) -> None:
    """One connection pool for every API path over ssh://.

    docker-py's SSH adapter keys its pools by the full request URL, so each new path
    (``/containers/<id>/start``, ``/containers/<id>/json``, ...) opened a new SSH channel and
    ran ``docker system dial-stdio`` on the server again: about 0.3 s per first call, paid
    inside the switch, where it doubled the outage. The pool ignores the URL beyond the key.
    """
    adapter = getattr(client.api, "_custom_adapter", None)
    get_connection = getattr(adapter, "get_connection", None)
    if adapter is None or get_connection is None:
        return

    def shared(url: str, proxies: Any = None) -> Any:
        return get_connection("http+docker://ssh", proxies)

    adapter.get_connection = shared


def _ssh_transport(client: docker.DockerClient) -> Any:
    """The paramiko transport docker-py's SSH adapter opened (one connection for everything)."""
    adapter = getattr(client.api, "_custom_adapter", None)
    ssh_client = getattr(adapter, "ssh_client", None)
    transport = ssh_client.get_transport() if ssh_client is not None else None
    if transport is None or not transport.is_active():
        raise DeployError("the SSH connection to the server is gone", hint="run the task again")
    return transport


def _quiet_refused_channels(record: logging.LogRecord) -> bool:
    """paramiko logs every refused channel as an error; here that only means "not ready yet"."""
    return "open FAILED" not in record.getMessage()


class _Forward:
    """A 127.0.0.1 listener whose connections become SSH channels to ``remote`` on the server.

    What ``ssh -L`` does, inside this process: the HTTP checks (``pipeline.smoke.stage``) connect to
    the local port as if the app ran here. A refused channel (the app is not listening yet)
    closes the local connection, which the checks see as "not ready yet" and retry.
    """

    def __init__(self, transport: Any, remote: tuple[str, int]) -> None:
        logging.getLogger("paramiko.transport").addFilter(_quiet_refused_channels)
        self.transport = transport
        self.remote = remote
        self.stopped = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        threading.Thread(target=self._accept, name=f"forward-{remote[1]}", daemon=True).start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, peer = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._pipe, args=(conn, peer), daemon=True).start()

    def _pipe(self, conn: socket.socket, peer: tuple[str, int]) -> None:
        try:
            channel = self.transport.open_channel("direct-tcpip", self.remote, peer, timeout=10)
        except Exception:  # refused on the server, or the connection dropped: "not ready"
            conn.close()
            return
        with conn, contextlib.closing(channel), contextlib.suppress(OSError, EOFError):
            while not self.stopped.is_set():
                readable, _, _ = select.select([conn, channel], [], [], 0.5)
                if conn in readable:
                    data = conn.recv(65536)
                    if not data:
                        return
                    channel.sendall(data)
                if channel in readable:
                    data = channel.recv(65536)
                    if not data:
                        return
                    conn.sendall(data)

    def close(self) -> None:
        self.stopped.set()
        self.listener.close()
