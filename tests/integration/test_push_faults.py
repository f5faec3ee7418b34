"""Faults against real registries, and the real ``invoke`` commands around pushing.

A small TCP proxy on 127.0.0.1 stands in front of a real registry and answers the first HTTP
connections with a 503 or a TCP reset (TLS handshakes — the engine's HTTPS probe of a loopback
registry — pass untouched, so each fault reaches docker's actual request). Nothing is mocked:
the engine pushes, the registry stores, and hoist must retry what is transient, stop at once on
a wrong password, and report every target. The ``invoke`` tests run the command as a user
would, then grep its output and report files for the secrets and compare the docker config.
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import socket
import struct
import threading
from pathlib import Path

import pytest

from pipeline.output.summary import render_summary
from pipeline.push.registries.base import TargetConfig
from pipeline.push.registries.kinds import resolve_target
from pipeline.push.registries.retry import RetryPolicy
from pipeline.push.registry_server import free_port
from pipeline.push.stage import push_all
from pipeline.report import RunReport
from tests.conftest import run_invoke

pytestmark = pytest.mark.integration


class FaultProxy:
    """Forwards 127.0.0.1:PORT to a registry; the first HTTP connections get ``faults``."""

    def __init__(self, backend: str, faults: list[str]) -> None:
        host, port = backend.rsplit(":", 1)
        self.backend = (host, int(port))
        self.faults = list(faults)
        self.served: list[str] = []
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        client.settimeout(30)
        try:
            first = client.recv(1, socket.MSG_PEEK)
        except OSError:
            client.close()
            return
        fault = None
        if first and first != b"\x16":  # 0x16 opens a TLS handshake: let it through
            with self.lock:
                fault = self.faults.pop(0) if self.faults else None
                if fault:
                    self.served.append(fault)
        if fault == "reset":  # SO_LINGER 0: close sends RST, a "connection reset by peer"
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.close()
        elif fault == "503":
            client.recv(65536)
            client.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                           b"Connection: close\r\n\r\n")  # fmt: skip
            client.close()
        else:
            upstream = socket.create_connection(self.backend, timeout=30)
            threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()
            _pipe(client, upstream)


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _generic(name: str, endpoint: str) -> TargetConfig:
    return TargetConfig(
        kind="generic", name=name, repository="registry.example.com/team/app", endpoint=endpoint
    )


def test_transient_faults_are_retried_and_attempts_counted(  # type: ignore[no-untyped-def]
    docker_client, tiny_image, registry_factory
):
    server = registry_factory()
    faults = ["reset", "reset", "503"]
    proxy = FaultProxy(server.address, faults)
    environ = {"REGISTRY_USERNAME": server.username, "REGISTRY_PASSWORD": server.password}
    lines: list[str] = []
    try:
        target = resolve_target(_generic("flaky", proxy.address), "app", environ)
        policy = RetryPolicy(attempts=6, initial=0.1, max_wait=0.5)
        [result] = push_all(
            docker_client, tiny_image, [target], ["v1"], environ, lines.append, policy
        )
    finally:
        proxy.close()
    assert result.ok, result.error
    assert proxy.served == faults, "every fault reached a request"
    assert result.attempts > 1
    assert sum("retrying" in line for line in lines) == result.attempts - 1
    report = RunReport(run_id="r", config="c", image="app", started="now", pushes=[result])
    [row] = [line for line in render_summary(report).splitlines() if line.startswith("flaky")]
    assert f"  {result.attempts}  " in row and "pushed" in row


def test_wrong_password_fails_at_once_naming_the_target(  # type: ignore[no-untyped-def]
    docker_client, tiny_image, registry_factory
):
    server = registry_factory()
    environ = {
        "REGISTRY_USERNAME": server.username,
        "REGISTRY_PASSWORD": "wrong-" + server.password,
    }
    target = resolve_target(_generic("harbor", server.address), "app", environ)
    [result] = push_all(docker_client, tiny_image, [target], ["v1"], environ, print)
    assert result.attempts == 1
    assert result.error and result.error.startswith("harbor: ")
    assert "unauthorized" in result.error
    assert environ["REGISTRY_PASSWORD"] not in result.error


def test_first_target_down_means_the_others_are_pushed_by_docker(  # type: ignore[no-untyped-def]
    docker_client, tiny_image, registry_factory
):
    server = registry_factory()
    environ = {"REGISTRY_USERNAME": server.username, "REGISTRY_PASSWORD": server.password}
    down = resolve_target(_generic("down", f"127.0.0.1:{free_port()}"), "app", environ)
    good = resolve_target(_generic("good", server.address), "app", environ)
    fast = RetryPolicy(attempts=2, initial=0.1, max_wait=0.2)
    first, second = push_all(docker_client, tiny_image, [down, good], ["v1"], environ, print, fast)
    assert first.attempts == 2 and first.error and "connection refused" in first.error
    assert second.ok and second.copied_from is None


def test_no_credentials_at_all_says_how_to_provide_them(  # type: ignore[no-untyped-def]
    docker_client, tiny_image, registry_factory, tmp_path
):
    server = registry_factory()
    environ = {"DOCKER_CONFIG": str(tmp_path / "empty")}  # generic: no variables, empty store
    target = resolve_target(_generic("harbor", server.address), "app", environ)
    [result] = push_all(docker_client, tiny_image, [target], ["v1"], environ, print)
    assert result.attempts == 1 and result.credentials == "anonymous"
    assert result.error and "`invoke login --to harbor`" in result.error


def test_invoke_push_one_target_down_two_pushed_no_secret_leaks(  # type: ignore[no-untyped-def]
    make_app, registry_factory, hoist_state, tmp_path
):
    ghcr = registry_factory(tls=True, username="octocat")
    hub = registry_factory(username="acme")
    down = f"127.0.0.1:{free_port()}"  # nothing listens there
    mirror_password = secrets.token_urlsafe(16)
    config = make_app(
        {
            "registries": [
                {"kind": "ghcr", "repository": "ghcr.io/Acme/app", "endpoint": ghcr.address},
                {"kind": "dockerhub", "repository": "acme/app", "endpoint": hub.address},
                {"kind": "generic", "name": "mirror", "endpoint": down,
                 "repository": "registry.example.com/team/app"},
            ]
        }
    )  # fmt: skip
    docker_config = tmp_path / "docker-config"
    docker_config.mkdir()
    unrelated = base64.b64encode(b"someone:else").decode()
    (docker_config / "config.json").write_text(
        json.dumps({"auths": {"x.org": {"auth": unrelated}}})
    )
    before = (docker_config / "config.json").read_bytes()
    home_config = Path.home() / ".docker" / "config.json"
    home_before = home_config.read_bytes() if home_config.exists() else None
    secret_values = [ghcr.password, hub.password, mirror_password]
    env = {
        **hoist_state,
        "DOCKER_CONFIG": str(docker_config),
        "GITHUB_ACTOR": "octocat",
        "GITHUB_TOKEN": ghcr.password,
        "DOCKERHUB_USERNAME": "acme",
        "DOCKERHUB_TOKEN": hub.password,
        "REGISTRY_USERNAME": "ci",
        "REGISTRY_PASSWORD": mirror_password,
    }
    result = run_invoke("push", "--config", str(config), env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output

    reports = Path(hoist_state["HOIST_STATE_DIR"]) / "reports"
    report = json.loads((reports / "last.json").read_text())
    outcome = {p["target"]: p for p in report["pushes"]}
    assert outcome["ghcr"]["error"] is None and outcome["ghcr"]["digest"]
    assert outcome["dockerhub"]["error"] is None and outcome["dockerhub"]["digest"]
    assert outcome["ghcr"]["repository"] == "ghcr.io/acme/app"
    assert outcome["dockerhub"]["repository"] == "docker.io/acme/app"
    assert outcome["dockerhub"]["copied_from"] == "ghcr", "fan-out: pushed once, then copied"
    assert outcome["mirror"]["attempts"] == 4, "connection refused is transient: retried"
    assert "connection refused" in outcome["mirror"]["error"]
    summary_rows = [
        line for line in output.splitlines() if line.startswith(("ghcr ", "dockerhub ", "mirror "))
    ]
    assert [r.split()[0] for r in summary_rows] == ["ghcr", "dockerhub", "mirror"]
    assert "FAILED: mirror" in summary_rows[2] and "pushed" in summary_rows[0]
    assert "push: 1 of 3 target(s) failed" in output

    leaked = [f.name for f in reports.rglob("*") if f.is_file()
              for s in secret_values if s in f.read_text(errors="replace")]  # fmt: skip
    assert not leaked
    assert not [s for s in secret_values if s in output]
    assert (docker_config / "config.json").read_bytes() == before
    assert (home_config.read_bytes() if home_config.exists() else None) == home_before


def test_invoke_login_logout_and_generic_reads_the_store(  # type: ignore[no-untyped-def]
    docker_client, tiny_image, make_app, registry_factory, hoist_state, tmp_path
):
    ghcr = registry_factory(tls=True, username="octocat")
    mirror = registry_factory(username="ci")
    config = make_app(
        {
            "registries": [
                {"kind": "ghcr", "repository": "ghcr.io/acme/app", "endpoint": ghcr.address},
                {"kind": "generic", "name": "mirror", "endpoint": mirror.address,
                 "repository": "registry.example.com/team/app"},
            ]
        }
    )  # fmt: skip
    docker_config = tmp_path / "docker-config"
    env = {**hoist_state, "DOCKER_CONFIG": str(docker_config), "GITHUB_ACTOR": "octocat",
           "GITHUB_TOKEN": ghcr.password, "REGISTRY_USERNAME": "ci",
           "REGISTRY_PASSWORD": mirror.password}  # fmt: skip

    login = run_invoke("login", "--config", str(config), env=env)
    assert login.returncode == 0, login.stderr
    assert f"ghcr: logged in to {ghcr.address} as octocat" in login.stdout
    assert ghcr.password not in login.stdout + login.stderr
    auths = json.loads((docker_config / "config.json").read_text())["auths"]
    assert base64.b64decode(auths[mirror.address]["auth"]).decode() == f"ci:{mirror.password}"
    assert oct((docker_config / "config.json").stat().st_mode & 0o777) == "0o600"

    # A generic target without variables uses what `invoke login` stored, as docker would.
    store_only = {"DOCKER_CONFIG": str(docker_config)}
    target = resolve_target(_generic("mirror", mirror.address), "app", store_only)
    [pushed] = push_all(docker_client, tiny_image, [target], ["v1"], store_only, print)
    assert pushed.ok and pushed.credentials.startswith("docker credential store")

    wrong = run_invoke("login", "--config", str(config), "--to", "generic",
                       env={**env, "REGISTRY_PASSWORD": "nope"})  # fmt: skip
    assert wrong.returncode == 1 and "mirror: login refused" in wrong.stderr
    assert json.loads((docker_config / "config.json").read_text())["auths"] == auths

    logout = run_invoke("logout", "--config", str(config), "--to", "ghcr", env=env)
    assert logout.returncode == 0, logout.stderr
    left = json.loads((docker_config / "config.json").read_text())["auths"]
    assert list(left) == [mirror.address]
