"""The service's life in a smoke container: ready within a deadline, then (``smoke.http_checks``)
its requests, then a graceful stop.

Structure tests prove the image is assembled right; these prove the *service* works: it becomes
ready within a deadline, answers each configured request with the expected status, body, JSON
fields and headers fast enough, and stops cleanly on SIGTERM — what an orchestrator does on
every deploy, and what breaks rolling updates when an app ignores it.

Readiness uses the image's own HEALTHCHECK when it has one (the container is started with that
test but a short interval, so "healthy" is seen in a second rather than after the image's
30 s interval; its start period is stretched to the deadline so a slow start is not "unhealthy").
Without a HEALTHCHECK the smoke path is polled with a growing delay.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import requests
from docker.models.containers import Container

from pipeline.http_failures import no_answer_reason
from pipeline.smoke.http_checks import BODY_READ_BYTES, one_line, quoted
from pipeline.smoke.verdicts import CheckFailed, CheckWarning, clip

HEALTH_INTERVAL_NS = 150_000_000  # first probe 0.15 s after start, not the image's 30 s


READY_POLL_MAX = 0.1  # seconds between readiness looks, at most: seeing "ready" late is waste


READY_REQUEST_TIMEOUT = 2.0  # one readiness look: a hung service must not eat the deadline


def health_override(image_attrs: Mapping[str, Any], deadline_s: float) -> dict[str, Any] | None:
    """The image's HEALTHCHECK test with a short interval; None when the image has none."""
    health = (image_attrs.get("Config") or {}).get("Healthcheck") or {}
    test = health.get("Test") or []
    if not test or test[0] == "NONE":
        return None
    return {
        "test": test,
        "interval": HEALTH_INTERVAL_NS,
        "timeout": int(health.get("Timeout") or 5_000_000_000),
        "retries": int(health.get("Retries") or 3),
        "start_period": int(deadline_s * 1e9),
    }


def wait_ready(container: Container, url: str, timeout: float, healthcheck: bool) -> str:
    """Wait for HEALTHCHECK "healthy", or for ``url`` to answer below 500; fail at the deadline.

    The failure says what was seen last, because "did not answer" for a service that answered
    ``500 internal error`` the whole time sends people looking in the wrong place: the last
    answer (status and the start of its body), or why nothing answered (connection refused,
    reset, timed out), or the health check's last output.
    """
    watch: _HealthWatch | _UrlWatch = _HealthWatch() if healthcheck else _UrlWatch(url)
    started = time.monotonic()
    deadline = started + timeout
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
        ready = watch.look(state)
        if ready:
            return f"{ready} after {time.monotonic() - started:.1f} s"
        time.sleep(delay)
        delay = min(delay * 1.5, READY_POLL_MAX)
    raise CheckFailed(f"not ready within {timeout:.0f} s: {watch.seen()}", "ready", watch.got)


class _UrlWatch:
    """Polls the readiness URL; keeps the last answer, or why the last look got none."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.answer: str | None = None  # "500 'internal error'"
        self.answering_since = 0.0
        self.error: str | None = None  # why the last look got no answer
        self.got = "no look finished"  # the diff's "got": status and more of the body

    def look(self, state: Mapping[str, Any]) -> str | None:
        try:
            with requests.get(self.url, timeout=READY_REQUEST_TIMEOUT, stream=True) as response:
                status = response.status_code
                if status < 500:
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


class _HealthWatch:
    """Reads the engine's HEALTHCHECK state; keeps its last run for the failure message."""

    def __init__(self) -> None:
        self.last: Mapping[str, Any] | None = None  # the health log's last entry

    def look(self, state: Mapping[str, Any]) -> str | None:
        health = state.get("Health") or {}
        self.last = (health.get("Log") or [None])[-1]
        if health.get("Status") == "healthy":
            return "HEALTHCHECK healthy"
        if health.get("Status") == "unhealthy":
            raise CheckFailed(f"HEALTHCHECK reports unhealthy; {self._run()}", "healthy", self.got)
        return None

    @property
    def got(self) -> str:
        if self.last is None:
            return "no check has run yet"
        output = str(self.last.get("Output") or "").strip()
        return f"exit {self.last.get('ExitCode')}: {clip(output, 300) or '(no output)'}"

    def seen(self) -> str:
        return f"HEALTHCHECK did not report healthy; {self._run()}"

    def _run(self) -> str:
        """The last run in one line; the end of its output, where a command says what failed."""
        if self.last is None:
            return "no check has run yet"
        output = one_line(str(self.last.get("Output") or ""), keep_end=True)
        return f"its last run exited {self.last.get('ExitCode')}: {quoted(output, '(no output)')}"


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
