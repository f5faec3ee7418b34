"""Faults injected into real runs: the engine away, a build killed or out of space, Ctrl-C and
SIGTERM in every stage, the registry killed mid-push and restarted.

Every run is the real ``invoke`` CLI against the real engine and real registries (nothing
mocked). Signals go to invoke's process group — what Ctrl-C in a terminal or a CI cancel
does — at a moment read from its output (a build step running, the smoke container started,
a layer uploading). After each fault: the exit code says what happened (1 failure, 130
SIGINT, 143 SIGTERM), stderr has one ``hoist: error:`` line and no traceback, and nothing is
left behind — no container of the run, no temporary file (each run gets its own TMPDIR).

Covered elsewhere, not repeated here: a registry answering 503 or resetting connections for a
while (pushed after retries: test_push_faults.py::test_transient_faults_are_retried_and_
attempts_counted) and a registry down past the retry budget while the other targets are
pushed, with an honest summary (test_push_faults.py::test_invoke_push_one_target_down_two_
pushed_no_secret_leaks).
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import time
from pathlib import Path

import pytest

from pipeline.push.registry_server import process_alive
from tests.conftest import run_invoke
from tests.support.invoke_process import InvokeProcess
from tests.support.reliability import (
    BASE,
    RegistryReader,
    containers_running,
    embedded_registry_state,
    last_report,
    make_service_project,
    run_containers,
    service_config,
    unique_image,
    write_config,
)

pytestmark = pytest.mark.integration

SIGNALS = [
    (signal.SIGINT, 130, "interrupted by SIGINT"),
    (signal.SIGTERM, 143, "interrupted by SIGTERM"),
]
SIGNAL_IDS = ["SIGINT", "SIGTERM"]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, python_base: str) -> Path:
    return make_service_project(tmp_path_factory.mktemp("faults"))


@pytest.fixture
def run_env(tmp_path: Path) -> dict[str, str]:
    """An isolated state dir and TMPDIR for one run (both checked for leftovers)."""
    (tmp_path / "tmp").mkdir()
    return {"HOIST_STATE_DIR": str(tmp_path / "state"), "TMPDIR": str(tmp_path / "tmp")}


@pytest.fixture
def stop_embedded(run_env: dict[str, str]):  # type: ignore[no-untyped-def]
    yield
    state = Path(run_env["HOIST_STATE_DIR"]) / "registry" / "state.json"
    if state.exists():
        from pipeline.push.registry_server import stop_registry

        pid = embedded_registry_state(Path(run_env["HOIST_STATE_DIR"]))[0].get("pid")
        if isinstance(pid, int):
            stop_registry(pid)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("hoist: error:")]


def leftovers(tmpdir: str) -> list[str]:
    return sorted(str(p) for p in Path(tmpdir).rglob("*"))


def with_dockerfile(project: Path, dockerfile: str, backend: str = "auto", **sections) -> Path:  # type: ignore[no-untyped-def]
    name = f"Dockerfile.{secrets.token_hex(3)}"
    (project / "app" / name).write_text(dockerfile)
    build = {"context": "app", "dockerfile": name, "backend": backend}
    return write_config(project, service_config(unique_image("faults"), build=build, **sections))


# --- the engine is not there ------------------------------------------------------------------


def _dead_socket(path: Path) -> Path:
    """A socket file nobody listens on: what a crashed dockerd leaves behind."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
    return path


@pytest.mark.parametrize(("task", "socket_kind"), [("build", "missing"), ("ci", "stale")])
def test_engine_not_running_is_one_line_saying_how_to_start_it(  # type: ignore[no-untyped-def]
    project, run_env, tmp_path, task, socket_kind
):
    sock = tmp_path / "docker.sock"
    if socket_kind == "stale":
        _dead_socket(sock)
    config = write_config(project, service_config(unique_image("no-engine")))

    result = run_invoke(
        task, "--config", str(config), env={**run_env, "DOCKER_HOST": f"unix://{sock}"}
    )

    assert result.returncode == 1
    [line] = error_lines(result.stderr)
    reason = "No such file or directory" if socket_kind == "missing" else "Connection refused"
    assert f"no Docker Engine answers at unix://{sock}: {reason}" in line
    assert "start it: `make setup` does" in line and "unset DOCKER_HOST" in line
    assert "Traceback" not in result.stderr
    report = last_report(Path(run_env["HOIST_STATE_DIR"]))
    assert report["stages"][-1]["stage"] == "build" and report["stages"][-1]["status"] == "failed"
    assert leftovers(run_env["TMPDIR"]) == []


# --- builds that die --------------------------------------------------------------------------


@pytest.mark.parametrize(("signum", "code", "message"), SIGNALS, ids=SIGNAL_IDS)
def test_build_killed_during_a_run_step_leaves_no_container(  # type: ignore[no-untyped-def]
    project, run_env, docker_client, signum, code, message
):
    marker = f"hoist-killed-build-{secrets.token_hex(4)}"
    # the classic builder's step container (BuildKit's run: tests/integration/test_buildkit.py)
    config = with_dockerfile(project, f"FROM {BASE}\nRUN sleep 120 && echo {marker}\n", "classic")

    with InvokeProcess("build", "--config", str(config), env=run_env) as run:
        run.wait_for_line(lambda line: "RUN sleep 120" in line)
        deadline = time.monotonic() + 60
        while not containers_running(docker_client, marker):  # the step's container runs
            assert time.monotonic() < deadline, run.output
            time.sleep(0.1)
        run.signal_group(signum)
        assert run.wait(60) == code, run.output

    [line] = error_lines(run.stderr)
    assert message in line and "Traceback" not in run.stderr
    assert containers_running(docker_client, marker) == []
    assert leftovers(run_env["TMPDIR"]) == []
    build = last_report(Path(run_env["HOIST_STATE_DIR"]))["stages"][-1]
    assert (build["stage"], build["status"]) == ("build", "interrupted")


def test_disk_full_build_fails_with_the_reason_and_no_container(  # type: ignore[no-untyped-def]
    project, run_env, docker_client
):
    """The step writes 200 MB into /dev/shm: a 64 MB tmpfs in every build container (the
    engine's default shm size, which hoist does not change) — a real ENOSPC from the kernel."""
    marker = f"hoist-disk-full-{secrets.token_hex(4)}"
    config = with_dockerfile(
        project,
        f"FROM {BASE}\nRUN head -c 200M /dev/zero > /dev/shm/fill && echo {marker}\n",
        "classic",  # the classic builder's message and step container
    )

    result = run_invoke("build", "--config", str(config), env=run_env)

    assert result.returncode == 1
    [line] = error_lines(result.stderr)
    assert line.startswith("hoist: error: build: The command '/bin/sh -c head -c 200M")
    assert "last output: head: error writing 'standard output': No space left on device" in line
    assert "(failed at Step 2/" in line
    assert "--- output of Step 2/" in result.stderr  # the step's own lines, above the error
    assert "Traceback" not in result.stderr
    assert containers_running(docker_client, marker) == []
    report = last_report(Path(run_env["HOIST_STATE_DIR"]))
    assert report["image_id"] is None and report["stages"][-1]["status"] == "failed"
    assert leftovers(run_env["TMPDIR"]) == []


# --- Ctrl-C and SIGTERM in smoke and push -------------------------------------------------------


@pytest.mark.parametrize(("signum", "code", "message"), SIGNALS, ids=SIGNAL_IDS)
def test_interrupted_smoke_removes_its_container(  # type: ignore[no-untyped-def]
    project, run_env, docker_client, signum, code, message
):
    slow = (
        f"FROM {BASE}\nWORKDIR /srv\nCOPY index.html ./\nUSER 1000:1000\n"
        'CMD ["sh", "-c", "sleep 120; exec python3 -m http.server 8000"]\n'
    )  # ready only after two minutes: the signal lands while smoke waits for it
    config = with_dockerfile(project, slow)

    with InvokeProcess("smoke", "--config", str(config), env=run_env) as run:
        run.wait_for_line(lambda line: line.startswith("started ") and "waiting for" in line)
        run.signal_group(signum)
        assert run.wait(60) == code, run.output

    [line] = error_lines(run.stderr)
    assert message in line and "Traceback" not in run.stderr
    report = last_report(Path(run_env["HOIST_STATE_DIR"]))
    assert [(s["stage"], s["status"]) for s in report["stages"]] == [
        ("build", "passed"), ("smoke", "interrupted")
    ]  # fmt: skip
    assert run_containers(docker_client, report["run_id"]) == []
    assert leftovers(run_env["TMPDIR"]) == []


@pytest.mark.parametrize(("signum", "code", "message"), SIGNALS, ids=SIGNAL_IDS)
def test_interrupted_push_stops_uploading_and_leaves_nothing(  # type: ignore[no-untyped-def]
    project, run_env, docker_client, stop_embedded, signum, code, message
):
    config = write_config(project, service_config(unique_image("push-signal")))

    with InvokeProcess("push", "--config", str(config), env=run_env) as run:
        run.wait_for_line(lambda line: line.startswith("[local] "))  # layers on their way
        run.signal_group(signum)
        assert run.wait(60) == code, run.output

    [line] = error_lines(run.stderr)
    assert message in line and "Traceback" not in run.stderr
    assert "[local] pushed " not in run.stdout, "the upload went on after the signal"
    state_dir = Path(run_env["HOIST_STATE_DIR"])
    report = last_report(state_dir)
    assert [(s["stage"], s["status"]) for s in report["stages"]][-1] == ("push", "interrupted")
    assert run_containers(docker_client, report["run_id"]) == []
    assert leftovers(run_env["TMPDIR"]) == []
    # whatever the registry got, it never serves a tag whose blobs are missing
    state, password = embedded_registry_state(state_dir)
    reader = RegistryReader(state["address"], state["username"], password)
    repository = report["image"]
    for tag in report["tags"]:
        reader.check_consistent(repository, tag)


# --- the registry dies mid-push ---------------------------------------------------------------


def test_registry_killed_mid_push_and_restarted_then_rerun_is_consistent(  # type: ignore[no-untyped-def]
    project, run_env, stop_embedded
):
    config = write_config(project, service_config(unique_image("registry-kill")))
    state_dir = Path(run_env["HOIST_STATE_DIR"])
    up = run_invoke("registry.up", env=run_env)
    assert up.returncode == 0, up.stderr
    before, password = embedded_registry_state(state_dir)

    with InvokeProcess("push", "--config", str(config), env=run_env) as first:
        first.wait_for_line(lambda line: line.startswith("[local] uploading"))
        os.kill(before["pid"], signal.SIGKILL)
        deadline = time.monotonic() + 10
        while process_alive(before["pid"]):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        restarted = run_invoke("registry.up", env=run_env)  # same port, same storage
        assert restarted.returncode == 0, restarted.stderr
        first_code = first.wait(300)

    after, _ = embedded_registry_state(state_dir)
    assert after["address"] == before["address"] and after["pid"] != before["pid"]
    # The engine retries a layer upload that lost its registry: the interrupted run carries
    # on against the restarted one, and hoist's digest check (the registry itself must serve
    # what was pushed) passes.
    assert first_code == 0, first.output
    first_report = last_report(state_dir)
    [first_push] = first_report["pushes"]
    reader = RegistryReader(after["address"], after["username"], password)
    repository = first_report["image"]
    for tag in first_report["tags"]:
        assert reader.check_consistent(repository, tag) == first_push["digest"]

    rerun = run_invoke("push", "--config", str(config), env=run_env)

    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    [push] = last_report(state_dir)["pushes"]
    for tag in first_report["tags"]:
        assert reader.check_consistent(repository, tag) == push["digest"]
    # the manifest the tags pointed at before is still whole, by digest
    assert reader.check_consistent(repository, first_push["digest"]) == first_push["digest"]
