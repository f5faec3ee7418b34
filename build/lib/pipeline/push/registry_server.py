"""Run the CNCF distribution registry on 127.0.0.1: the embedded default target and test servers.

Debian's ``docker-registry`` package is the distribution registry 2.8 as a plain binary, which
works where no image can be pulled; where images can be pulled, ``registry:2`` as a container is
the same server. hoist runs the binary as a child process in its own session (so a Ctrl-C in the
terminal does not kill it), with htpasswd (bcrypt) auth and optional self-signed TLS, storage in
a directory of its own, and records the pid so it is later stopped by that id and nothing else.

The embedded registry (``invoke registry.up``) keeps its state in ``.hoist/registry/``: the
config, the htpasswd file (bcrypt hashes only), ``state.json`` (pid, address, user) and the
generated password in ``auth`` with mode 0600 — a loopback-only development credential made by
hoist, kept where docker keeps its own, never printed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests

from pipeline.errors import PipelineError
from pipeline.paths import state_dir

EMBEDDED_USER = "hoist"


@dataclass(frozen=True)
class RegistryServer:
    address: str
    pid: int
    root: Path
    username: str
    password: str = field(repr=False)
    ca_file: Path | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.ca_file else 'http'}://{self.address}"


def registry_binary() -> str:
    for name in ("docker-registry", "registry"):
        found = shutil.which(name)
        if found:
            return found
    raise PipelineError(
        "the distribution registry binary (docker-registry) is not installed",
        hint="run `make setup`, or `apt-get install docker-registry`",
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_registry(
    root: Path,
    *,
    username: str,
    password: str,
    tls: bool = False,
    port: int | None = None,
    timeout: float = 15.0,
) -> RegistryServer:
    """Start a registry storing under ``root`` and wait until it answers on /v2/."""
    root.mkdir(parents=True, exist_ok=True)
    address = f"127.0.0.1:{port or free_port()}"
    htpasswd = root / "htpasswd"
    _write_htpasswd(htpasswd, username, password)
    http: dict[str, object] = {"addr": address, "secret": secrets.token_hex(16)}
    ca_file = None
    if tls:
        ca_file, cert, key = _self_signed_certificate(root / "tls")
        http["tls"] = {"certificate": str(cert), "key": str(key)}
    config = {
        "version": 0.1,
        "log": {"level": "error", "accesslog": {"disabled": True}},
        "storage": {
            "filesystem": {"rootdirectory": str(root / "data")},
            "delete": {"enabled": True},
        },
        "http": http,
        "auth": {"htpasswd": {"realm": "hoist", "path": str(htpasswd)}},
    }
    config_file = root / "config.yml"
    config_file.write_text(json.dumps(config))  # JSON is YAML
    with open(root / "registry.log", "ab") as log:
        process = subprocess.Popen(
            [registry_binary(), "serve", str(config_file)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = RegistryServer(address, process.pid, root, username, password, ca_file)
    try:
        _wait_until_serving(server, process, timeout)
    except BaseException:
        stop_registry(server.pid)
        raise
    return server


def stop_registry(pid: int, timeout: float = 10.0) -> None:
    """Stop the registry process with this pid (SIGTERM, then SIGKILL) and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process_alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    process_alive(pid)


def process_alive(pid: int) -> bool:
    """Whether ``pid`` still runs (reaping it first if it is our exited child, so a zombie of
    ours never counts as alive)."""
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return False


def _wait_until_serving(server: RegistryServer, process: subprocess.Popen[bytes], timeout: float):
    deadline = time.monotonic() + timeout
    verify: str | bool = str(server.ca_file) if server.ca_file else True
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (server.root / "registry.log").read_text(errors="replace").strip()
            last = log.splitlines()[-1] if log else "no output"
            raise PipelineError(f"registry on {server.address} exited at start: {last}")
        try:
            response = requests.get(f"{server.url}/v2/", timeout=1, verify=verify)
            if response.status_code in (200, 401):
                return
        except requests.RequestException:
            pass
        time.sleep(0.05)
    raise PipelineError(f"registry on {server.address} did not answer within {timeout:.0f} s")


def _write_htpasswd(path: Path, username: str, password: str) -> None:
    """bcrypt entry via htpasswd, the password given on stdin so it never shows in ps."""
    htpasswd = shutil.which("htpasswd")
    if not htpasswd:
        raise PipelineError("htpasswd is not installed", hint="apt-get install apache2-utils")
    result = subprocess.run(
        [htpasswd, "-niB", username], input=password, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise PipelineError(f"htpasswd failed: {result.stderr.strip()}")
    path.write_text(result.stdout)


def _self_signed_certificate(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1/localhost, made with the openssl CLI."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = directory / "ca.key", directory / "ca.crt"
    key, csr, cert = directory / "server.key", directory / "server.csr", directory / "server.crt"
    ext = directory / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    steps = [
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
         "/CN=hoist test CA", "-keyout", ca_key, "-out", ca_cert],
        ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
         "-keyout", key, "-out", csr],
        ["x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial",
         "-days", "2", "-extfile", ext, "-out", cert],
    ]  # fmt: skip
    for step in steps:
        subprocess.run(["openssl", *map(str, step)], capture_output=True, check=True)
    return ca_cert, cert, key


# --- the embedded registry --------------------------------------------------------------------


def _embedded_root() -> Path:
    return state_dir() / "registry"


@contextlib.contextmanager
def _embedded_lock() -> Iterator[None]:
    """Serialise up/down so two concurrent runs do not start two registries."""
    root = _embedded_root()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _embedded_state() -> dict[str, object]:
    try:
        state = json.loads((_embedded_root() / "state.json").read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def embedded_registry() -> RegistryServer | None:
    """The running embedded registry, or None when it is not up."""
    root = _embedded_root()
    state = _embedded_state()
    pid = state.get("pid")
    if not isinstance(pid, int) or not process_alive(pid):
        return None
    try:
        password = (root / "auth").read_text().strip()
    except OSError:
        return None
    return RegistryServer(str(state["address"]), pid, root, str(state["username"]), password)


def ensure_embedded_registry() -> RegistryServer:
    """Start the embedded registry unless it already runs; return it either way."""
    with _embedded_lock():
        running = embedded_registry()
        if running:
            return running
        root = _embedded_root()
        auth = root / "auth"
        if auth.exists():
            password = auth.read_text().strip()
        else:
            password = secrets.token_urlsafe(24)
            auth.touch(mode=0o600)
            auth.write_text(password)
        server = start_registry(
            root, username=EMBEDDED_USER, password=password, port=_previous_port()
        )
        state = {"pid": server.pid, "address": server.address, "username": server.username}
        (root / "state.json").write_text(json.dumps(state))
        return server


def _previous_port() -> int | None:
    """Reuse the last port when it is free, so image references stay stable across restarts."""
    address = _embedded_state().get("address")
    if not isinstance(address, str):
        return None
    port = int(address.rsplit(":", 1)[1])
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the Go server does
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return None
    return port


def stop_embedded_registry() -> RegistryServer | None:
    """Stop the embedded registry if it runs (its stored images stay for the next `up`)."""
    with _embedded_lock():
        running = embedded_registry()
        if running:
            stop_registry(running.pid)
            state = {"address": running.address, "username": running.username}
            (_embedded_root() / "state.json").write_text(json.dumps(state))
        return running
