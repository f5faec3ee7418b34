"""One environment on one server: its containers (``NAME``, ``NAME-candidate``, ``NAME-previous``)
and the proof a container serves — smoke's readiness wait and HTTP checks on its port."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from docker.errors import NotFound
from docker.models.containers import Container

from pipeline.deploy.host import Server
from pipeline.deploy.settings import DeployEnvironment
from pipeline.deploy.spec import LABEL
from pipeline.smoke.http_checks import HttpCheck, http_check
from pipeline.smoke.service import wait_ready
from pipeline.smoke.stage import container_logs
from pipeline.smoke.verdicts import CheckFailed, clip


def _find(server: Server, name: str) -> Container | None:
    """The container named exactly ``name`` (the API also matches id prefixes: refuse those)."""
    try:
        container = server.client.containers.get(name)
    except NotFound:
        return None
    return container if container.name == name else None


def digest_of(container: Container | None) -> str | None:
    if container is None:
        return None
    labels = container.labels or {}
    return labels.get(f"{LABEL}digest")


@dataclass
class Site:
    """One environment on one connected server, and the checks its app must pass there."""

    server: Server
    env: DeployEnvironment
    checks: list[HttpCheck]

    @property
    def name(self) -> str:
        return self.env.container

    def find(self, suffix: str = "") -> Container | None:
        return _find(self.server, self.name + suffix)

    def live_base(self) -> str:
        """``http://host:port`` reaching the live port from here (a tunnel over ssh://)."""
        env = self.env
        ip = "" if env.host_network else env.port.host_ip
        return f"http://{self.server.address(ip, env.port.host_port)}"

    def prove(
        self, container: Container, base: str, timeout: float | None = None
    ) -> tuple[float, list[str]]:
        """smoke's readiness wait, then each check; (seconds to ready, one line per check).

        Raises ``Unhealthy`` with the first failure and the container's last log lines.
        """
        began = time.monotonic()
        try:
            wait_ready(
                container, base + self.env.health.path, timeout or self.env.health.timeout, None
            )
        except CheckFailed as exc:  # its message already says what the app answered, or why not
            raise Unhealthy(exc.message, container_logs(container)) from None
        ready = time.monotonic() - began
        try:
            return ready, [f"{check.name}: {http_check(base, check)}" for check in self.checks]
        except CheckFailed as exc:
            got = f" (got {clip(exc.got, 160)})" if exc.got else ""
            raise Unhealthy(exc.message + got, container_logs(container)) from None


class Unhealthy(Exception):
    def __init__(self, message: str, logs: str) -> None:
        super().__init__(message)
        self.message, self.logs = message, logs


def http_checks(env: DeployEnvironment, smoke_checks: Sequence[HttpCheck] = ()) -> list[HttpCheck]:
    """The health check, then smoke's read-only checks (GET and HEAD).

    Why not all of smoke's checks: smoke runs them against a throwaway container, deploy
    against a server whose env file may point at real data — a POST or DELETE there is not a
    check any more.
    """
    health = env.health
    default = HttpCheck.get(health.path, health.expect_status, health.expect_body)
    return [default, *(c for c in smoke_checks if c.method in ("GET", "HEAD"))]


def published_port(container: Container, port: int, timeout: float = 10.0) -> int:
    """The host port the engine picked for ``port`` (published as ``IP::PORT``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        container.reload()
        bindings = (container.attrs["NetworkSettings"]["Ports"] or {}).get(f"{port}/tcp")
        if bindings:
            return int(bindings[0]["HostPort"])
        if container.status in ("exited", "dead"):
            break
        time.sleep(0.05)
    code = container.attrs["State"].get("ExitCode")
    raise Unhealthy(f"port {port} was never published (container {container.status}, exit {code})",
                     "")  # fmt: skip
