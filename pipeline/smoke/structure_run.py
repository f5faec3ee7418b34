"""Structure tests run by Google's container-structure-test itself, reported as hoist checks.

CST gets the user's file unchanged, or the inline ``smoke.structure`` section written to a
temporary file that is removed afterwards. hoist reads CST's JSON report and makes one
``CheckResult`` per CST result, named the way hoist names checks (``command 'NAME'``, ``file
exists 'NAME'``, ``file content 'NAME'``, ``metadata``, ``licenses``), with CST's errors as the
message. What a test means (setup and teardown, variables, licence tests, metadata) is up to
CST; the version that runs is the one pinned in pyproject.toml.

hoist adds a few things on top. The schema is checked at config load (``structure_suite``).
Every container CST creates carries the run's labels (``engine_socket``), so a run cut short by
Ctrl-C, SIGTERM or the time limit leaves nothing behind. And there is a time limit at all: CST
has none, and a hung command must not hang CI.

The image under test is held by a container that never starts while CST runs (``_held``): CST
force-removes the image it commits for a test's environment, and the engine prunes that image's
untagged parents with it — the image under test among them, since the runner tags it only once
lint passed. A parent some container uses is not pruned. The holder stays until hoist has
removed what CST left too, and carries the run's label with a role of its own, so that clean-up
passes it by.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import docker.errors
import requests
import yaml

from pipeline.build.platforms import image_platform
from pipeline.result import Log
from pipeline.smoke.engine_socket import LabellingSocket, engine_connector
from pipeline.smoke.structure_suite import SCHEMA_VERSION, StructureSuite
from pipeline.smoke.verdicts import CheckResult, Verdict
from pipeline.tools import find_tool

TOOL = "container-structure-test"
KIND = "structure"
ROLE = {"io.hoist.role": "structure"}
HOLDER_COMMAND = ["hoist: holds the image under test; never started"]
HOLDER_ROLE = {"io.hoist.role": "structure-holder"}
SECONDS_PER_TEST = 120.0  # the run's time limit is this times the number of tests
MESSAGE_LIMIT = 300
_PREFIXES = (
    ("Command Test: ", "command"),
    ("File Existence Test: ", "file exists"),
    ("File Content Test: ", "file content"),
)
_WHOLE_NAMES = {"Metadata Test": "metadata", "License Test": "licenses"}
_ENGINE_TLS = ("DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_CONTEXT")  # the socket is plain


def run_structure(
    client: docker.DockerClient,
    image_id: str,
    suite: StructureSuite,
    labels: dict[str, str],
    log: Log,
    stop: threading.Event | None = None,
) -> list[CheckResult]:
    """Run ``suite`` against ``image_id``; an empty list if ``stop`` was set meanwhile."""
    stop = stop or threading.Event()
    labels = {**labels, **ROLE}
    tool, connect = find_tool(TOOL), engine_connector(client)
    platform = str(image_platform(client.images.get(image_id).attrs))
    with tempfile.TemporaryDirectory(prefix="hoist-cst-") as tmp:
        work = Path(tmp)
        config = suite.file or _write_suite(suite, work)
        report, stderr = work / "report.json", work / "stderr.log"
        command = [tool, "test", "--image", image_id, "--platform", platform, "--no-color"]
        command += ["--config", str(config), "--test-report", str(report), "--output", "json"]
        started = time.monotonic()
        with _held(client, image_id, {**labels, **HOLDER_ROLE}):
            try:
                with LabellingSocket(connect, labels, work) as engine:
                    limit = SECONDS_PER_TEST * max(suite.count, 1)
                    cut = _run(command, engine.url, suite.workdir, stderr, stop, limit)
            finally:
                remove_labelled(client, labels, keep=image_id)
        seconds = time.monotonic() - started
        if stop.is_set():
            return []
        results = _results(report, stderr, cut, seconds)
    for result in results:
        log(result.line())
    passed = sum(r.passed for r in results)
    log(f"{TOOL} {_version()}: {passed}/{len(results)} passed in {seconds:.2f} s")
    return results


@contextlib.contextmanager
def _held(client: docker.DockerClient, image_id: str, labels: dict[str, str]) -> Iterator[None]:
    """``image_id`` used by a created, never started container inside, so that no removal of
    an image derived from it (CST's, hoist's clean-up) prunes it along; then the container
    goes."""
    holder = client.api.create_container(image_id, command=HOLDER_COMMAND, labels=labels)
    try:
        yield
    finally:
        with contextlib.suppress(docker.errors.DockerException, requests.RequestException):
            client.api.remove_container(holder["Id"], force=True)


def _write_suite(suite: StructureSuite, work: Path) -> Path:
    path = work / "structure-test.yaml"
    data = {"schemaVersion": SCHEMA_VERSION, **suite.data}
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def _run(
    command: list[str], engine: str, cwd: Path, stderr: Path, stop: threading.Event, limit: float
) -> str | None:
    """Run CST to its end; None, or why it was cut short (then it is killed)."""
    env = {k: v for k, v in os.environ.items() if k not in _ENGINE_TLS}
    env["DOCKER_HOST"] = engine
    with stderr.open("wb") as errors:  # a file, not a pipe: CST's chatter can never block it
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            start_new_session=True,  # Ctrl-C reaches hoist, which stops CST and cleans up
        )
    deadline = time.monotonic() + limit
    try:
        while process.poll() is None:
            if stop.is_set():
                return "interrupted"
            if time.monotonic() > deadline:
                return (
                    f"{TOOL} did not finish within {limit:.0f} s ({SECONDS_PER_TEST:.0f} s a test)"
                )
            stop.wait(0.05)
        return None
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _results(report: Path, stderr: Path, cut: str | None, seconds: float) -> list[CheckResult]:
    if cut is not None:
        return [CheckResult(KIND, TOOL, Verdict.FAILED, seconds, cut)]
    try:
        items = json.loads(report.read_text(encoding="utf-8"))["Results"] or []
    except (OSError, ValueError, KeyError, TypeError):  # CST stopped before its report
        lines = stderr.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        problem = lines[-1] if lines else "no report written"
        return [CheckResult(KIND, TOOL, Verdict.FAILED, seconds, f"{TOOL} failed: {problem}")]
    return [_result(item) for item in items]


def _result(item: Mapping[str, Any]) -> CheckResult:
    name = _name(str(item.get("Name") or ""))
    seconds = int(item.get("Duration") or 0) / 1e9  # CST times command tests only
    if item.get("Pass"):
        return CheckResult(KIND, name, Verdict.PASSED, seconds)
    errors = [str(error) for error in item.get("Errors") or []] or ["failed"]
    message = "; ".join(_one_line(error) for error in errors)
    if len(message) > MESSAGE_LIMIT:
        message = message[: MESSAGE_LIMIT - 1] + "…"
    details = "\n".join(errors)
    if item.get("Stderr"):
        details += f"\nstderr: {item['Stderr']}"
    return CheckResult(KIND, name, Verdict.FAILED, seconds, message, got=details)


def _name(raw: str) -> str:
    """``Command Test: node runtime`` → ``command 'node runtime'``, as hoist names checks."""
    for prefix, kind in _PREFIXES:
        if raw.startswith(prefix):
            return f"{kind} {raw.removeprefix(prefix)!r}"
    return _WHOLE_NAMES.get(raw, raw or TOOL)


def _one_line(text: str) -> str:
    return text.strip().replace("\r", "\\r").replace("\n", "\\n")


def _version() -> str:
    try:
        return importlib.metadata.version(TOOL)
    except importlib.metadata.PackageNotFoundError:  # found on PATH, not installed with hoist
        return "(from PATH)"


def remove_labelled(client: docker.DockerClient, labels: dict[str, str], keep: str) -> None:
    """Force-remove the containers, then the images (committed setup steps), that carry all of
    ``labels``; never ``keep``, the image under test. Best effort: the engine may be gone."""
    wanted = {"label": [f"{key}={value}" for key, value in labels.items()]}
    with contextlib.suppress(docker.errors.DockerException, requests.RequestException):
        for container in client.api.containers(all=True, filters=wanted):
            with contextlib.suppress(docker.errors.APIError):
                client.api.remove_container(container["Id"], force=True)
        images = sorted(client.api.images(filters=wanted), key=lambda i: -int(i["Created"]))
        for image in images:  # newest first: a setup step's image before the one it came from
            if image["Id"] != keep:
                with contextlib.suppress(docker.errors.APIError):
                    client.api.remove_image(image["Id"], force=True)
