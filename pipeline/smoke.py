"""Run the built image and prove it serves: ready within a deadline, then the HTTP check.

The container's port is published on 127.0.0.1 only (a random host port), readiness is polled
with a short backoff so a fast app is detected fast, and the container is removed in a
``finally`` — also on Ctrl-C or SIGTERM (the task turns SIGTERM into an exception so this
runs). On failure the container's last log lines go into the error.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline.config import SmokeConfig
from pipeline.errors import StageFailed
from pipeline.result import Log

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container

LOG_TAIL = 30
RUN_LABEL = "io.hoist.run"


@dataclass(frozen=True)
class SmokeResult:
    url: str
    status: int
    seconds_to_ready: float
    checks: list[str]


def smoke_test(
    client: docker.DockerClient,
    image_id: str,
    smoke: SmokeConfig,
    run_id: str,
    log: Log,
) -> SmokeResult:
    container = client.containers.run(
        image_id,
        detach=True,
        name=f"hoist-smoke-{run_id}",
        labels={RUN_LABEL: run_id, "io.hoist.role": "smoke"},
        environment=smoke.env,
        ports={f"{smoke.port}/tcp": ("127.0.0.1", None)},
    )
    try:
        url = f"http://127.0.0.1:{_host_port(container, smoke.port)}{smoke.path}"
        log(f"started {container.short_id}; waiting for {url} (timeout {smoke.timeout:.0f} s)")
        started = time.monotonic()
        status, body = _wait_until_ready(container, url, smoke.timeout)
        ready = time.monotonic() - started
        checks = _check_response(smoke, status, body, container)
        for check in checks:
            log(f"ok: {check}")
        return SmokeResult(url, status, ready, checks)
    finally:
        container.remove(force=True)


def _host_port(container: Container, port: int) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        container.reload()
        bindings = container.attrs["NetworkSettings"]["Ports"].get(f"{port}/tcp")
        if bindings:
            return str(bindings[0]["HostPort"])
        if container.status == "exited":
            raise _failure(container, "container exited before its port was published")
        time.sleep(0.05)
    raise _failure(container, f"port {port} was never published")


def _wait_until_ready(container: Container, url: str, timeout: float) -> tuple[int, str]:
    """Poll ``url`` with a growing delay until it answers; fail early if the container dies."""
    import requests

    deadline = time.monotonic() + timeout
    delay = 0.05
    last_problem = "no answer yet"
    while time.monotonic() < deadline:
        try:
            response = requests.get(url, timeout=2)
            return response.status_code, response.text
        except requests.RequestException as exc:
            last_problem = type(exc).__name__
        container.reload()
        if container.status in ("exited", "dead"):
            code = container.attrs["State"]["ExitCode"]
            raise _failure(container, f"container exited with code {code} before it was ready")
        time.sleep(delay)
        delay = min(delay * 1.5, 1.0)
    raise _failure(container, f"not ready within {timeout:.0f} s ({last_problem})")


def _check_response(smoke: SmokeConfig, status: int, body: str, container: Container) -> list[str]:
    if status != smoke.expect_status:
        raise _failure(
            container, f"GET {smoke.path} returned {status}, expected {smoke.expect_status}"
        )
    checks = [f"GET {smoke.path} -> {status}"]
    if smoke.expect_body is not None:
        if not re.search(smoke.expect_body, body):
            raise _failure(
                container,
                f"GET {smoke.path} body does not match {smoke.expect_body!r}: {body[:200]!r}",
            )
        checks.append(f"body matches {smoke.expect_body!r}")
    return checks


def container_logs(container: Container, lines: int = LOG_TAIL) -> str:
    try:
        raw: bytes = container.logs(tail=lines)
    except Exception:  # the container may already be gone; logs are best effort
        return ""
    return raw.decode("utf-8", errors="replace").rstrip()


def _failure(container: Container, message: str) -> StageFailed:
    error = StageFailed("smoke", message)
    error.details = container_logs(container)
    return error


# --- shared with deploy: the same readiness wait and checks for a container on a server -------


def published_port(container: Container, port: int) -> int:
    """The host port the engine picked for ``port`` (published as ``127.0.0.1::PORT``)."""
    return int(_host_port(container, port))


def check_serving(container: Container, url: str, smoke: SmokeConfig) -> tuple[float, list[str]]:
    """Wait until ``url`` answers, then apply smoke's checks: (seconds to ready, checks passed).

    ``pipeline.deploy`` proves a new version on a server with exactly these rules, so "passed
    smoke" and "healthy after deploy" mean the same thing. Raises ``StageFailed`` (stage
    ``smoke``) carrying the container's last log lines.
    """
    started = time.monotonic()
    status, body = _wait_until_ready(container, url, smoke.timeout)
    ready = time.monotonic() - started
    return ready, _check_response(smoke, status, body, container)
