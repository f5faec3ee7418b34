"""A throwaway OpenSSH server on 127.0.0.1, so deploy can be tested over ``ssh://``.

Test support, not library code. Everything lives in one temp directory: its own host key, a
client key pair, ``authorized_keys``, and a client ``HOME`` whose ``.ssh/config`` and
``known_hosts`` name them — the places docker-py's paramiko transport reads (``~`` is ``$HOME``
for it), so a test passes ``HOME`` and nothing of the machine's own ssh setup is touched.
sshd gets every setting as ``-o`` (no system config read) and ``SetEnv DOCKER_HOST`` so that
``docker system dial-stdio`` on the "server" reaches the second engine. Stopped by its pid.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = "/usr/sbin/sshd"
REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class SshServer:
    port: int
    pid: int
    home: Path  # the client's HOME: .ssh/config, known_hosts, the key

    @property
    def url(self) -> str:
        return f"ssh://root@127.0.0.1:{self.port}"


def ensure_sshd() -> None:
    """Install openssh-server through the project's own setup script when it is missing."""
    if not os.access(SSHD, os.X_OK):
        subprocess.run([str(REPO / "scripts" / "ensure-host-tools.sh")], check=True)


def start_sshd(directory: Path, docker_host: str, timeout: float = 10.0) -> SshServer:
    ensure_sshd()
    directory.mkdir(parents=True, exist_ok=True)
    host_key, client_key = directory / "host_ed25519", directory / "id_ed25519"
    for key in (host_key, client_key):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
            check=True,
            capture_output=True,
        )
    authorized = directory / "authorized_keys"
    shutil.copy(client_key.with_suffix(".pub"), authorized)
    port = _free_port()
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation directory
    options = {
        "ListenAddress": f"127.0.0.1:{port}",
        "HostKey": str(host_key),
        "AuthorizedKeysFile": str(authorized),
        "PidFile": str(directory / "sshd.pid"),
        "StrictModes": "no",  # the temp dir's modes are the test's business
        "UsePAM": "no",
        "PasswordAuthentication": "no",
        "KbdInteractiveAuthentication": "no",
        "PermitRootLogin": "prohibit-password",
        "AllowTcpForwarding": "local",  # deploy's health checks ride direct-tcpip channels
        "SetEnv": f"DOCKER_HOST={docker_host}",
        "LogLevel": "ERROR",
    }
    args = [SSHD, "-D", "-e", "-f", "/dev/null"]
    for key, value in options.items():
        args += ["-o", f"{key}={value}"]
    log = open(directory / "sshd.log", "wb")  # noqa: SIM115 - handed to the child process
    try:
        process = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
    finally:
        log.close()
    server = SshServer(port, process.pid, directory / "home")
    try:
        _wait_until_listening(process, port, directory, timeout)
        _write_client_home(server, host_key, client_key)
    except BaseException:
        stop_sshd(server)
        raise
    return server


def _wait_until_listening(
    process: subprocess.Popen[bytes], port: int, directory: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (directory / "sshd.log").read_text(errors="replace").strip()
            raise RuntimeError(f"sshd exited at start: {log[-400:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"sshd did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


def _write_client_home(server: SshServer, host_key: Path, client_key: Path) -> None:
    ssh = server.home / ".ssh"
    ssh.mkdir(parents=True, mode=0o700)
    public = host_key.with_suffix(".pub").read_text().split()
    (ssh / "known_hosts").write_text(f"[127.0.0.1]:{server.port} {public[0]} {public[1]}\n")
    (ssh / "config").write_text(f"Host 127.0.0.1\n  IdentityFile {client_key}\n")


def stop_sshd(server: SshServer, timeout: float = 5.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(server.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(server.pid, os.WNOHANG)[0] == server.pid:
                return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(server.pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(server.pid, 0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
