"""Service checks against a real running container: readiness (HEALTHCHECK or polling), HTTP
requests (status, body, JSON fields, headers, latency), graceful stop — each passing once and
failing with a message that names the check. The secret scan is off here (policy tests cover
it): it reads the whole 200 MB base image and would only slow these down."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import INVOKE, REPO
from tests.integration.smoke_images import (
    SERVER_JS,
    SERVICE_DOCKERFILE,
    assert_run_left_nothing,
    images,
    run_smoke,
)
from tests.integration.smoke_images import smoke_config as config

pytestmark = pytest.mark.integration

NO_SCAN = {"secrets": False}
HEALTHY = SERVICE_DOCKERFILE.replace(
    "EXPOSE 3000",
    "EXPOSE 3000\nHEALTHCHECK --interval=30s --timeout=3s CMD "
    """["node", "-e", "require('http').get('http://127.0.0.1:3000/healthz', """
    """r => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))"]""",
)
BROKEN_HEALTHCHECK = SERVICE_DOCKERFILE.replace(
    "EXPOSE 3000", 'EXPOSE 3000\nHEALTHCHECK --interval=30s CMD ["curl", "-f", "localhost:3000"]'
)
HUNG_HEALTHCHECK = SERVICE_DOCKERFILE.replace(  # shell form: Docker's CMD-SHELL
    "EXPOSE 3000", "EXPOSE 3000\nHEALTHCHECK --timeout=1s CMD sleep 30"
)
CMD_TYPO = SERVICE_DOCKERFILE.replace('CMD ["node", "server.js"]', 'CMD ["nodee", "server.js"]')


@pytest.fixture(scope="module")
def service_images(docker_client, node_base):  # type: ignore[no-untyped-def]
    yield from images(
        docker_client,
        SERVICE_DOCKERFILE,
        HEALTHY,
        BROKEN_HEALTHCHECK,
        CMD_TYPO,
        HUNG_HEALTHCHECK,
        **{"server.js": SERVER_JS},
    )


def test_all_service_checks_pass_and_are_listed_with_times_and_junit(  # type: ignore[no-untyped-def]
    docker_client, service_images, tmp_path: Path
):
    smoke = config(
        tmp_path,
        {
            "path": "/healthz",
            "expect_body": '"status":\\s*"ok"',
            "policy": NO_SCAN,
            "stop_timeout": 5,
            "checks": [
                {"name": "items", "path": "/items", "max_latency_ms": 2000,
                 "expect_json": {"ok": True, "count": 1, "data.items[0].id": 7,
                                 "data.items.0.tags": ["a"]},
                 "expect_headers": {"X-Api-Version": "^v1$", "content-type": "json"}},
                {"name": "echo", "method": "POST", "path": "/echo", "body": {"a": 1},
                 "expect_status": 201, "expect_json": {"got.a": 1}},
                {"path": "/missing", "expect_status": 404, "expect_body": "not found"},
            ],
        },
    )  # fmt: skip

    run = run_smoke(docker_client, service_images[1], smoke, tmp_path)

    assert run.error is None, run.lines
    assert run.result is not None
    assert "HEALTHCHECK passed after" in run.line("PASS  service: readiness")
    for name in ("GET /healthz", "items", "echo", "GET /missing", "graceful stop (SIGTERM)"):
        assert run.line(f"PASS  service: {name}  (")  # each check listed with its time
    assert "exited 0" in run.line("PASS  service: graceful stop")
    assert run.result.checks == ["8/8 checks passed"]
    suites = ET.parse(run.junit).getroot()  # type: ignore[arg-type]
    assert suites.get("tests") == "8" and suites.get("failures") == "0"
    cases = [c.get("name") for c in suites.iter("testcase")]
    assert "items" in cases and "graceful stop (SIGTERM)" in cases
    assert f"junit: {run.junit}" in run.lines


def test_readiness_without_healthcheck_polls_the_path(  # type: ignore[no-untyped-def]
    docker_client, service_images, tmp_path: Path
):
    smoke = config(tmp_path, {"policy": {**NO_SCAN, "healthcheck": "warn"}, "stop_timeout": 5})

    run = run_smoke(docker_client, service_images[0], smoke, tmp_path)

    assert run.error is None, run.lines
    assert "/healthz answered 200" in run.line("PASS  service: readiness")
    assert "image declares no HEALTHCHECK" in run.line("WARN  policy: HEALTHCHECK declared")


def test_slow_endpoint_over_its_latency_limit_fails_naming_the_check(  # type: ignore[no-untyped-def]
    docker_client, service_images, tmp_path: Path
):
    smoke = config(
        tmp_path,
        {
            "env": {"SLOW_MS": "300"},
            "policy": NO_SCAN,
            "checks": [{"name": "slow report", "path": "/slow", "max_latency_ms": 150}],
        },
    )

    run = run_smoke(docker_client, service_images[1], smoke, tmp_path)

    assert run.error is not None
    assert "GET /slow took" in run.error.message and "over max_latency_ms 150" in run.error.message
    assert "[service: slow report]" in run.error.message
    assert "FAIL  service: slow report" in "\n".join(run.lines)
    assert "  expected: <= 150 ms" in run.error.details
    assert "test-service listening on 3000" in run.error.details  # the container's log lines
    failure = ET.parse(run.junit).getroot().find(".//testcase[@name='slow report']/failure")  # type: ignore[arg-type]
    assert failure is not None and "over max_latency_ms 150" in (failure.get("message") or "")


def test_wrong_status_json_field_and_header_each_fail_with_expected_and_got(  # type: ignore[no-untyped-def]
    docker_client, service_images, tmp_path: Path
):
    smoke = config(
        tmp_path,
        {
            "policy": NO_SCAN,
            "stop_timeout": 5,
            "checks": [
                {"name": "json field", "path": "/items", "expect_json": {"data.items[0].id": 8}},
                {"name": "header", "path": "/items", "expect_headers": {"X-Api-Version": "^v2"}},
                {"name": "status", "path": "/nowhere"},
            ],
        },
    )  # fmt: skip

    run = run_smoke(docker_client, service_images[1], smoke, tmp_path)

    assert run.error is not None
    assert run.error.message.startswith(
        "smoke: GET /items JSON field data.items[0].id is 7, expected 8 [service: json field]; "
        "2 more failed: service: header, service: status"
    )
    details = run.error.details
    assert "  expected: data.items[0].id = 8\n       got: data.items[0].id = 7" in details
    assert "GET /items header X-Api-Version is 'v1', expected /^v2/" in details
    assert "GET /nowhere returned 404, expected 200" in details
    assert "PASS  service: graceful stop (SIGTERM)" in "\n".join(run.lines)  # the rest still ran


def test_app_ignoring_sigterm_fails_the_graceful_stop_check(  # type: ignore[no-untyped-def]
    docker_client, service_images, tmp_path: Path
):
    smoke = config(
        tmp_path, {"env": {"IGNORE_SIGTERM": "1"}, "policy": NO_SCAN, "stop_timeout": 1.5}
    )

    run = run_smoke(docker_client, service_images[0], smoke, tmp_path)

    assert run.error is not None
    assert run.error.message == (
        "smoke: still running 1.5 s after SIGTERM (does the app handle SIGTERM?) "
        "[service: graceful stop (SIGTERM)]"
    )


def test_unclean_exit_code_after_sigterm_fails(  # type: ignore[no-untyped-def]
    docker_client, service_images, tmp_path: Path
):
    smoke = config(tmp_path, {"env": {"TERM_EXIT": "3"}, "policy": NO_SCAN, "stop_timeout": 5})

    run = run_smoke(docker_client, service_images[0], smoke, tmp_path)

    assert run.error is not None
    assert "exited with code 3 after SIGTERM, expected 0" in run.error.message
    assert "test-service got SIGTERM" in run.error.details


def test_broken_healthcheck_never_gets_ready_and_later_checks_are_skipped(  # type: ignore[no-untyped-def]
    docker_client, service_images, tmp_path: Path
):
    smoke = config(tmp_path, {"timeout": 3, "policy": NO_SCAN})

    run = run_smoke(docker_client, service_images[2], smoke, tmp_path)

    assert run.error is not None
    message = run.error.message
    assert message.startswith(
        "smoke: not ready within 3 s: HEALTHCHECK did not pass; its last run exited 126: "
    )
    assert message.endswith("[service: readiness]")
    assert '"curl": executable file not found' in message  # its last output says why
    assert "curl" in run.error.details
    assert run.line("SKIP  service: GET /healthz")
    assert run.line("SKIP  service: graceful stop (SIGTERM)")


def test_a_healthcheck_that_hangs_is_stopped_at_its_timeout_and_fails_readiness(  # type: ignore[no-untyped-def]
    docker_client, service_images, tmp_path: Path
):
    """The service answers; its shell-form test (``sleep 30``, ``--timeout=1s``) is run as
    Docker runs it and given up on after its timeout, run after run, until the deadline."""
    smoke = config(tmp_path, {"timeout": 4, "policy": NO_SCAN})

    run = run_smoke(docker_client, service_images[4], smoke, tmp_path)

    assert run.error is not None
    assert run.error.message == (
        "smoke: not ready within 4 s: HEALTHCHECK did not pass; its last run timed out: "
        "(no output) [service: readiness]"
    )
    assert run.line("SKIP  service: GET /healthz")


def test_container_that_cannot_start_fails_readiness_with_the_engines_reason(  # type: ignore[no-untyped-def]
    docker_client, service_images, tmp_path: Path
):
    smoke = config(tmp_path, {"policy": NO_SCAN})

    run = run_smoke(docker_client, service_images[3], smoke, tmp_path)

    assert run.error is not None
    assert run.error.message.startswith("smoke: container did not start: ")
    assert '"nodee": executable file not found' in run.error.message
    assert run.error.message.endswith("[service: readiness]")
    assert run.line("SKIP  service: GET /healthz")


def test_sigterm_during_smoke_cleans_up_at_once(make_app, hoist_state, docker_client):  # type: ignore[no-untyped-def]
    config = make_app({"smoke": {"timeout": 20, "stop_timeout": 5}})
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    process = subprocess.Popen(
        [str(INVOKE), "--search-root", str(REPO), "smoke", "--config", str(config)],
        env={**environ, **hoist_state},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:  # the service container runs, the secret scan too
            if line.startswith("started "):
                break
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()

    assert process.returncode == 143, stderr
    assert time.monotonic() - signalled < 10  # the scan of the 200 MB export was stopped
    assert "hoist: error: interrupted by SIGTERM; cleaned up" in stderr
    assert_run_left_nothing(docker_client, hoist_state)
