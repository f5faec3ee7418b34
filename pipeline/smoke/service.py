"""The service's life in a smoke container: ready within a deadline, then (``smoke.http_checks``)
its requests, then a graceful stop.

Structure tests prove the image is assembled right; these prove the *service* works: it becomes
ready within a deadline, answers each configured request with the expected status, body, JSON
fields and headers fast enough, and stops cleanly on SIGTERM — what an orchestrator does on
every deploy, and what breaks rolling updates when an app ignores it.

Readiness: the smoke path is polled with a growing delay until it answers below 500; when the
image has a HEALTHCHECK, until it answers at all, and then that check's test is run in the
container as Docker runs it (an exec as the container's user, in its working directory,
bounded by the check's timeout) until it passes by the deadline. It runs the moment the
service answers, not on Docker's timer, whose first probe comes an interval after the start.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

import requests
from docker.errors import APIError
from docker.models.containers import Container

from pipeline.futures import result_of
from pipeline.http_failures import no_answer_reason
from pipeline.smoke.http_checks import BODY_READ_BYTES, one_line, quoted
from pipeline.smoke.verdicts import CheckFailed, CheckWarning, clip

READY_POLL_MAX = 0.1  # seconds between readiness looks, at most: seeing "ready" late is waste


READY_REQUEST_TIMEOUT = 2.0  # one readiness look: a hung service must not eat the deadline


DOCKER_HEALTH_TIMEOUT_S = 30.0  # Docker's own, for a HEALTHCHECK without --timeout


@dataclass(frozen=True)
class HealthTest:
    """An image's HEALTHCHECK: the command Docker runs for it, and its timeout."""

    command: list[str]
    timeout: float

    @classmethod
    def of(cls, image_attrs: Mapping[str, Any]) -> HealthTest | None:
        """``CMD-SHELL`` runs through the image's ``SHELL`` (``/bin/sh -c`` without one), as
        Docker runs it; None for an image without a HEALTHCHECK (or with ``NONE``)."""
        config = image_attrs.get("Config") or {}
        health = config.get("Healthcheck") or {}
        test = list(health.get("Test") or [])
        timeout = int(health.get("Timeout") or 0) / 1e9 or DOCKER_HEALTH_TIMEOUT_S
        if len(test) == 2 and test[0] == "CMD-SHELL":
            return cls([*(config.get("Shell") or ["/bin/sh", "-c"]), test[1]], timeout)
        if len(test) > 1 and test[0] == "CMD":
            return cls(test[1:], timeout)
        return None


def wait_ready(container: Container, url: str, timeout: float, health: HealthTest | None) -> str:
    """Wait for ``url`` to answer below 500 — with ``health``, to answer at all, then for that
    test to pass; fail at the deadline.

    The failure says what was seen last, because "did not answer" for a service that answered
    ``500 internal error`` the whole time sends people looking in the wrong place: the last
    answer (status and the start of its body), or why nothing answered (connection refused,
    reset, timed out), or the health check's last run and its output.
    """
    started = time.monotonic()
    deadline = started + timeout
    watch: _UrlWatch | _HealthRun = _UrlWatch(url, any_answer=health is not None)
    delay = 0.05
    while time.monotonic() < deadline:
        container.reload()
        state = container.attrs["State"]
        if container.status in ("exited", "dead"):
            raise CheckFailed(
                f"container exited with code {state.get('ExitCode')} before it was ready",
                "running",
                f"exited ({state.get('ExitCode')})",
            )
        ready = watch.look(container, deadline)
        if ready and isinstance(watch, _UrlWatch) and health is not None:
            watch, delay = _HealthRun(health), 0.05  # answering: now the image's own test
            continue
        if ready:
            return f"{ready} after {time.monotonic() - started:.1f} s"
        time.sleep(delay)
        delay = min(delay * 1.5, READY_POLL_MAX)
    raise CheckFailed(f"not ready within {timeout:.0f} s: {watch.seen()}", "ready", watch.got)


class _UrlWatch:
    """Polls the readiness URL; keeps the last answer, or why the last look got none. With
    ``any_answer`` the service is listening once it answers at all: its HEALTHCHECK, which
    says why a 500 is a 500, decides from there."""

    def __init__(self, url: str, any_answer: bool = False) -> None:
        self.url = url
        self.any_answer = any_answer
        self.answer: str | None = None  # "500 'internal error'"
        self.answering_since = 0.0
        self.error: str | None = None  # why the last look got no answer
        self.got = "no look finished"  # the diff's "got": status and more of the body

    def look(self, container: Container, deadline: float) -> str | None:
        try:
            with requests.get(self.url, timeout=READY_REQUEST_TIMEOUT, stream=True) as response:
                status = response.status_code
                if status < 500 or self.any_answer:
                    return f"{self.url} answered {status}"
                body = next(response.iter_content(BODY_READ_BYTES), b"")
        except requests.RequestException as exc:
            self.error = self.got = no_answer_reason(exc)
            return None
        text = body.decode("utf-8", errors="replace")
        if self.answer is None or self.error is not None:
            self.answering_since = time.monotonic()
        self.answer = f"{status} {quoted(one_line(text), '(empty body)')}"
        self.error, self.got = None, f"status {status}: {clip(text, 300)}"
        return None

    def seen(self) -> str:
        if self.answer is None:
            return f"{self.url} did not answer ({self.got})"
        if self.error is not None:
            return f"{self.url} answered {self.answer}, then did not answer ({self.error})"
        seconds = time.monotonic() - self.answering_since
        return f"{self.url} answered {self.answer} for {seconds:.1f} s"


class _HealthRun:
    """Runs the image's HEALTHCHECK test in the container; keeps its last run for the failure
    message."""

    def __init__(self, health: HealthTest) -> None:
        self.health = health
        self.last: tuple[int | None, str] | None = None  # exit code (None: timed out), output

    def look(self, container: Container, deadline: float) -> str | None:
        seconds = max(min(self.health.timeout, deadline - time.monotonic()), 0.1)
        self.last = run_in(container, self.health.command, seconds)
        return "HEALTHCHECK passed" if self.last[0] == 0 else None

    @property
    def got(self) -> str:
        if self.last is None:
            return "no check has run yet"
        code, output = self.last
        return f"exit {code}: {clip(output.strip(), 300) or '(no output)'}"

    def seen(self) -> str:
        """The last run in one line; the end of its output, where a command says what failed."""
        if self.last is None:
            return "the service answered, its HEALTHCHECK has not run yet"
        code, output = self.last
        ended = "timed out" if code is None else f"exited {code}"
        output = one_line(output, keep_end=True)
        return f"HEALTHCHECK did not pass; its last run {ended}: {quoted(output, '(no output)')}"


def run_in(container: Container, command: list[str], timeout: float) -> tuple[int | None, str]:
    """``command`` run in the container as Docker runs a health probe: its exit code (None
    when it did not end within ``timeout``) and its output."""
    api = container.client.api
    try:
        exec_id = api.exec_create(container.id, command)["Id"]
        pool = ThreadPoolExecutor(1, thread_name_prefix="hoist-healthcheck")
        started = pool.submit(api.exec_start, exec_id)
        pool.shutdown(wait=False)  # a test still running ends with its container
        output: bytes = result_of(started, timeout)
        return api.exec_inspect(exec_id).get("ExitCode"), output.decode(errors="replace")
    except FutureTimeout:
        return None, ""
    except APIError as exc:  # e.g. the container stopped meanwhile
        return 126, str(exc.explanation or exc)


def graceful_stop(
    container: Container, stop_timeout: float, signal: str, strict: bool = True
) -> str:
    """Send the stop signal; the service must exit with code 0 within ``stop_timeout``.

    Not ``strict``: a service that does not stop cleanly is a warning, not a failure.
    """
    failure = CheckFailed if strict else CheckWarning
    container.reload()
    if container.status != "running":
        code = container.attrs["State"].get("ExitCode")
        raise CheckFailed(f"container already exited (code {code}) before the stop signal")
    started = time.monotonic()
    container.kill(signal=signal)
    try:
        code = int(container.wait(timeout=stop_timeout)["StatusCode"])
    except requests.RequestException:
        raise failure(
            f"still running {stop_timeout:g} s after {signal} (does the app handle {signal}?)",
            f"exit within {stop_timeout:g} s",
            "still running",
        ) from None
    seconds = time.monotonic() - started
    if code != 0:
        raise failure(
            f"exited with code {code} after {signal}, expected 0",
            "exit code 0",
            f"exit code {code}",
        )
    return f"exited 0 in {seconds:.2f} s after {signal}"
