"""The smoke stage: prove the built image is safe to ship before anything is pushed.

Three kinds of checks run against the very image that was built, and every one is listed with
its verdict and time:

* **policy** (``smoke.policy``): not root, not too big, no secret in any layer, HEALTHCHECK;
* **structure** (``smoke.structure_suite``): container-structure-test's schema — commands,
  files, metadata — from ``smoke.structure``;
* **service** (``smoke.service``): the container runs with its port published on 127.0.0.1
  only, becomes ready within ``smoke.timeout``, answers ``smoke.path`` (the default check) and
  each request of ``smoke.checks``, and stops cleanly on SIGTERM.

All checks run even after one fails, so one run shows everything that is wrong. The results are
written as JUnit XML (path printed); on failure the error names the failing check, and the
container's last log lines and each failing check's expected-vs-got diff are shown above it.
Every container (and committed setup image) is removed in a ``finally`` — also on Ctrl-C or
SIGTERM, which the task turns into an exception so this runs.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import docker.errors

from pipeline.errors import StageFailed
from pipeline.futures import BackgroundCleanup, result_of
from pipeline.paths import state_dir
from pipeline.result import Log
from pipeline.smoke import policy
from pipeline.smoke.http_checks import HttpCheck, http_check
from pipeline.smoke.junit import write_junit
from pipeline.smoke.policy import no_secrets
from pipeline.smoke.service import HealthTest, graceful_stop, wait_ready
from pipeline.smoke.settings import DEFAULT_STOP_TIMEOUT, SmokeConfig
from pipeline.smoke.structure_run import run_structure
from pipeline.smoke.verdicts import CheckFailed, CheckResult, CheckSkipped, Verdict, run_check

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container

LOG_TAIL = 30
RUN_LABEL = "io.hoist.run"


@dataclass(frozen=True)
class SmokeResult:
    url: str
    seconds_to_ready: float
    checks: list[str]  # one-line summaries for the run report
    results: list[CheckResult] = field(default_factory=list)
    junit: Path | None = None


def smoke_test(
    client: docker.DockerClient,
    image_id: str,
    smoke: SmokeConfig,
    run_id: str,
    log: Log,
    junit: Path | None = None,
    cleanup: BackgroundCleanup | None = None,
) -> SmokeResult:
    """Every check of ``smoke`` against ``image_id``; with ``cleanup`` the service's container
    is removed beside what the run does next (the push), not before this returns."""
    attrs: dict[str, Any] = client.images.get(image_id).attrs
    labels = {RUN_LABEL: run_id}
    results: list[CheckResult] = []
    service = _Service(client, image_id, attrs, smoke, {**labels, "io.hoist.role": "smoke"})
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="hoist-smoke") as pool:
        # `docker save` of a 200 MB image takes seconds in the engine: scan while the rest runs;
        # the structure tests' containers and the service's container do not meet: side by side.
        secrets = _start_secret_scan(pool, client, image_id, smoke, stop)
        try:
            results += _policy(attrs, smoke, log)
            structure = None
            if smoke.structure is not None:
                log(f"structure tests from {smoke.structure.source}")
                structure = pool.submit(
                    run_structure, client, image_id, smoke.structure, labels, log, stop
                )
            served = service.run(log, run_id, cleanup)
            if structure is not None:
                structured = result_of(structure)
                results += structured
            results += served
            if secrets is not None:
                results.append(_logged(result_of(secrets), log))
        except BaseException:  # Ctrl-C, SIGTERM: end the export and the structure tests now
            stop.set()
            _remove_containers(client, {**labels, "io.hoist.role": "structure"})
            raise
    path = write_junit(junit or _default_junit(run_id), results, service.logs)
    log(f"junit: {path}")
    failed = [r for r in results if r.failed]
    if failed:
        raise _failure(failed, service.logs)
    return SmokeResult(service.url, service.seconds_to_ready, [_summary(results)], results, path)


def _remove_containers(client: docker.DockerClient, labels: dict[str, str]) -> None:
    """Force-remove the containers with these labels (a structure test's running command)."""
    with contextlib.suppress(Exception):  # best effort: the tests' own cleanup runs after
        wanted = [f"{key}={value}" for key, value in labels.items()]
        for container in client.api.containers(all=True, filters={"label": wanted}):
            with contextlib.suppress(Exception):
                client.api.remove_container(container["Id"], force=True)


def _default_junit(run_id: str) -> Path:
    return state_dir() / "reports" / f"smoke-{run_id}.xml"


def _logged(result: CheckResult, log: Log) -> CheckResult:
    log(result.line())
    return result


def _start_secret_scan(
    pool: ThreadPoolExecutor,
    client: docker.DockerClient,
    image_id: str,
    smoke: SmokeConfig,
    stop: threading.Event,
) -> Future[CheckResult] | None:
    if not smoke.policy.secrets:
        return None
    check = functools.partial(no_secrets, client, image_id, smoke.policy.allow_files, stop)
    return pool.submit(run_check, "policy", "no secrets in any layer", check)


def _policy(attrs: dict[str, Any], smoke: SmokeConfig, log: Log) -> list[CheckResult]:
    rules = smoke.policy
    p = functools.partial
    checks: list[tuple[str, Any]] = []
    if rules.non_root:
        checks.append(("runs as non-root", p(policy.non_root, attrs)))
    if rules.max_size is not None:
        checks.append(("size within max_size", p(policy.size_limit, attrs, rules.max_size)))
    if rules.healthcheck != "off":
        checks.append(("HEALTHCHECK declared", p(policy.healthcheck, attrs, rules.healthcheck)))
    return [_logged(run_check("policy", name, check), log) for name, check in checks]


class _Service:
    """The running smoke container and the checks made against it."""

    def __init__(
        self,
        client: docker.DockerClient,
        image_id: str,
        attrs: dict[str, Any],
        smoke: SmokeConfig,
        labels: dict[str, str],
    ) -> None:
        self.client, self.image_id, self.attrs = client, image_id, attrs
        self.smoke, self.labels = smoke, labels
        self.health = HealthTest.of(attrs)
        self.url = ""
        self.seconds_to_ready = 0.0
        self.logs = ""

    def checks(self) -> list[HttpCheck]:
        smoke = self.smoke
        return [HttpCheck.get(smoke.path, smoke.expect_status, smoke.expect_body), *smoke.checks]

    def run(self, log: Log, run_id: str, cleanup: BackgroundCleanup | None) -> list[CheckResult]:
        """The service's checks; its container removed at once, or by ``cleanup``."""
        smoke = self.smoke
        try:
            container = self.client.containers.create(
                self.image_id,
                name=f"hoist-smoke-{run_id}",
                labels=self.labels,
                environment=smoke.env,
                ports={f"{smoke.port}/tcp": ("127.0.0.1", None)},
            )
        except docker.errors.APIError as exc:  # e.g. "No command specified": no CMD/ENTRYPOINT
            problem = f"container could not be created: {exc.explanation or exc}"
            return self._not_started(problem, log)
        try:
            results = self._serve(container, log)
        except BaseException:  # Ctrl-C, SIGTERM: the container is gone before the run stops
            container.remove(force=True)
            raise
        remove = functools.partial(container.remove, force=True)
        if cleanup is None:
            remove()
        else:  # beside what comes next (the push); the run waits for it before it ends
            cleanup.submit(remove)
        return results

    def _serve(self, container: Container, log: Log) -> list[CheckResult]:
        smoke = self.smoke
        try:
            container.start()
        except docker.errors.APIError as exc:  # e.g. CMD names a program the image lacks
            problem = f"container did not start: {exc.explanation or exc}"
            self.logs = container_logs(container)
            return self._not_started(problem, log)
        how = f"port {smoke.port}" + (", then its HEALTHCHECK" if self.health else "")
        log(f"started {container.short_id}; waiting for {how} (timeout {smoke.timeout:.0f} s)")
        results = self._checks(container, log)
        self.logs = container_logs(container)
        return results

    def _not_started(self, problem: str, log: Log) -> list[CheckResult]:
        def fail() -> str:
            raise CheckFailed(problem, "a running container", problem)

        results = [_logged(run_check("service", "readiness", fail), log)]
        names = [c.name for c in self.checks()]
        if self.smoke.stop_timeout != 0:
            names.append(f"graceful stop ({self._stop_signal()})")
        return results + [_logged(run_check("service", n, _not_ready), log) for n in names]

    def _stop_signal(self) -> str:
        return str((self.attrs.get("Config") or {}).get("StopSignal") or "SIGTERM")

    def _checks(self, container: Container, log: Log) -> list[CheckResult]:
        started = time.monotonic()
        ready = _logged(run_check("service", "readiness", lambda: self._ready(container)), log)
        self.seconds_to_ready = time.monotonic() - started
        results = [ready]
        http = self.checks()
        for check in http:
            run = functools.partial(http_check, self.url, check) if ready.passed else _not_ready
            results.append(_logged(run_check("service", check.name, run), log))
        if self.smoke.stop_timeout != 0:
            signal = self._stop_signal()
            strict = self.smoke.stop_timeout is not None
            timeout = self.smoke.stop_timeout or DEFAULT_STOP_TIMEOUT
            stop = (
                functools.partial(graceful_stop, container, timeout, signal, strict)
                if ready.passed
                else _not_ready
            )
            results.append(_logged(run_check("service", f"graceful stop ({signal})", stop), log))
        return results

    def _ready(self, container: Container) -> str:
        deadline = time.monotonic() + self.smoke.timeout
        port = _host_port(container, self.smoke.port, deadline)
        self.url = f"http://127.0.0.1:{port}"
        remaining = max(deadline - time.monotonic(), 0.1)
        return wait_ready(container, self.url + self.smoke.path, remaining, self.health)


def _not_ready() -> str:
    raise CheckSkipped("not run: the service never became ready")


def _host_port(container: Container, port: int, deadline: float) -> str:
    while time.monotonic() < deadline:
        container.reload()
        bindings = (container.attrs["NetworkSettings"]["Ports"] or {}).get(f"{port}/tcp")
        if bindings:
            return str(bindings[0]["HostPort"])
        if container.status in ("exited", "dead"):
            code = container.attrs["State"].get("ExitCode")
            raise CheckFailed(f"container exited with code {code} before it was ready")
        time.sleep(0.05)
    raise CheckFailed(f"port {port} was never published")


def container_logs(container: Container, lines: int = LOG_TAIL) -> str:
    try:
        raw: bytes = container.logs(tail=lines)
    except Exception:  # the container may already be gone; logs are best effort
        return ""
    return raw.decode("utf-8", errors="replace").rstrip()


def _summary(results: list[CheckResult]) -> str:
    counts = {v: sum(r.verdict is v for r in results) for v in Verdict}
    text = f"{counts[Verdict.PASSED]}/{len(results)} checks passed"
    if counts[Verdict.WARNING]:
        warned = ", ".join(r.name for r in results if r.verdict is Verdict.WARNING)
        text += f", {counts[Verdict.WARNING]} warning(s): {warned}"
    if counts[Verdict.SKIPPED]:
        text += f", {counts[Verdict.SKIPPED]} skipped"
    return text


def _failure(failed: list[CheckResult], logs: str) -> StageFailed:
    """One line naming the failing check(s); logs and diffs go into ``details`` above it."""
    first = failed[0]
    message = f"{first.message} [{first.title}]"
    if len(failed) > 1:
        message += f"; {len(failed) - 1} more failed: " + ", ".join(r.title for r in failed[1:])
    error = StageFailed("smoke", message)
    parts = []
    if logs:
        parts.append(f"--- container logs (last {LOG_TAIL} lines) ---\n{logs}")
    for result in failed:
        diff = result.diff()
        parts.append(f"--- FAIL {result.title}: {result.message}" + (f"\n{diff}" if diff else ""))
    error.details = "\n".join(parts)
    return error
