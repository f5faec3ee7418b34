"""Both builders, on the real engine: BuildKit through the docker CLI and the SDK's classic.

Each build is a real ``invoke build`` run. Both backends must make the same image the same
way: tags, the labels in one step with reuse by content, build args, target, the offline
base stand-in, step lines with cache hits counted, the failing step named with its output,
and nothing left after Ctrl-C/SIGTERM. The CLI is the one the machine has (Debian's 20.10
with BuildKit built in, found by asking, not by path); a CLI that cannot is a fake script
named through ``HOIST_DOCKER_CLI``.
"""

from __future__ import annotations

import secrets
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from pipeline.build.backend import find_cli
from tests.conftest import run_invoke
from tests.support.invoke_process import InvokeProcess
from tests.support.reliability import (
    BASE,
    last_report,
    make_service_project,
    service_config,
    unique_image,
    write_config,
)

pytestmark = pytest.mark.integration

BACKENDS = ["buildkit", "classic"]
TARGETED = f"""\
FROM {BASE} AS base
ARG GREETING=hello
RUN echo "$GREETING" > /greeting
FROM base AS app
ENV GREETING_FILE=/greeting
WORKDIR /srv
COPY index.html ./
USER 1000:1000
EXPOSE 8000
CMD ["python3", "-m", "http.server", "8000", "--bind", "0.0.0.0"]
FROM app AS debug
RUN echo never-built > /debug
"""


@pytest.fixture(scope="module", autouse=True)
def capable_cli() -> None:
    cli, tried = find_cli({"PATH": "/usr/local/bin:/usr/bin:/bin"})
    assert cli is not None, f"this machine has no BuildKit-capable docker CLI: {tried}"


@pytest.fixture
def run_env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "tmp").mkdir()
    return {"HOIST_STATE_DIR": str(tmp_path / "state"), "TMPDIR": str(tmp_path / "tmp")}


@pytest.fixture
def images(docker_client) -> Iterator[list[str]]:  # type: ignore[no-untyped-def]
    """Repositories a test built: every image tagged there is removed afterwards, by id."""
    built: list[str] = []
    yield built
    for repository in built:
        for image in docker_client.images.list(name=repository):
            docker_client.images.remove(image.id, force=True)


def built_config(project: Path, images: list[str], backend: str, **build: object) -> Path:
    image = unique_image(f"bk-{backend}")
    images.append(image)
    section = {"context": "app", "backend": backend, **build}
    return write_config(project, service_config(image, build=section))


@pytest.mark.parametrize("backend", BACKENDS)
def test_node_app_builds_with_both_backends_and_unchanged_runs_are_one_image(  # type: ignore[no-untyped-def]
    make_app, run_env, docker_client, images, backend
):
    config = make_app({"build": {"context": "app", "backend": backend}})
    images.append(yaml.safe_load(config.read_text())["image"])

    ids, summaries = [], []
    for _ in range(3):
        result = run_invoke("build", "--config", str(config), env=run_env)
        assert result.returncode == 0, result.stdout + result.stderr
        report = last_report(Path(run_env["HOIST_STATE_DIR"]))
        ids.append(report["image_id"])
        summaries.append(report["stages"][-1]["summary"])

    describe = "BuildKit (docker CLI 20.10" if backend == "buildkit" else "the classic builder"
    assert f"building with {describe}" in result.stdout
    assert "Step 1/" in result.stdout and "COPY src/ ./src/" in result.stdout
    assert len(set(ids)) == 1, "three unchanged runs make one image"
    assert "unchanged: reusing" in result.stdout
    assert summaries[-1].endswith("steps cached)")
    steps = summaries[-1].rsplit("(own layers ", 1)[1]
    done, total = steps.split(", ")[1].split(" ")[0].split("/")
    # the classic builder counts the ARG and FROM before the first build step, never cached
    unbuilt = 0 if backend == "buildkit" else 2
    assert int(done) == int(total) - unbuilt, f"every step is a cache hit: {summaries[-1]}"
    inspected = docker_client.api.inspect_image(ids[0])
    labels = inspected["Config"]["Labels"]
    assert labels["org.opencontainers.image.revision"]
    assert labels["org.opencontainers.image.created"]
    assert {tag.rsplit(":", 1)[1] for tag in inspected["RepoTags"]} >= {"test"}
    assert report["base_image"] == "hoist-offline/node:bookworm"


@pytest.mark.parametrize("backend", BACKENDS)
def test_service_app_with_args_and_target_builds_the_same_with_both_backends(  # type: ignore[no-untyped-def]
    tmp_path, run_env, docker_client, images, backend
):
    project = make_service_project(tmp_path / "project", files={"Dockerfile": TARGETED})
    greeting = f"hi-{secrets.token_hex(4)}"
    config = built_config(project, images, backend, args={"GREETING": greeting}, target="app")

    result = run_invoke("build", "--config", str(config), env=run_env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "never-built" not in result.stdout, "the target stage is the last one built"
    report = last_report(Path(run_env["HOIST_STATE_DIR"]))
    image = docker_client.images.get(report["image_id"])
    assert "GREETING_FILE=/greeting" in image.attrs["Config"]["Env"]
    assert image.attrs["Config"]["User"] == "1000:1000"
    output = docker_client.containers.run(image.id, ["cat", "/greeting"], remove=True)
    assert output.decode().strip() == greeting
    assert sorted(image.tags) == sorted(f"{report['image']}:{t}" for t in report["tags"])


def test_failing_run_on_buildkit_names_the_step_and_shows_its_output(  # type: ignore[no-untyped-def]
    tmp_path, run_env, images
):
    marker = f"out-{secrets.token_hex(4)}"
    dockerfile = f"FROM {BASE}\nRUN echo first-{marker} && echo last-{marker} >&2 && exit 7\n"
    project = make_service_project(tmp_path / "project", files={"Dockerfile": dockerfile})
    config = built_config(project, images, "buildkit")

    result = run_invoke("build", "--config", str(config), env=run_env)

    assert result.returncode == 1
    [line] = [x for x in result.stderr.splitlines() if x.startswith("hoist: error:")]
    assert line.startswith("hoist: error: build: executor failed running [/bin/sh -c echo first-")
    assert "exit code: 7" in line and f"last output: last-{marker}" in line
    assert line.endswith(f"(failed at Step 2/2 : RUN echo first-{marker} && echo last-{marker}"
                         " >&2 && exit 7)")  # fmt: skip
    assert f"--- output of Step 2/2 : RUN echo first-{marker}" in result.stderr
    assert f"first-{marker}" in result.stderr
    report = last_report(Path(run_env["HOIST_STATE_DIR"]))
    assert report["image_id"] is None and report["stages"][-1]["status"] == "failed"
    assert list(Path(run_env["TMPDIR"]).iterdir()) == []


def processes_with(marker: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in text and "pytest" not in text:
            found.append(text)
    return found


@pytest.mark.parametrize(
    ("signum", "code", "message"),
    [
        (signal.SIGINT, 130, "interrupted by SIGINT"),
        (signal.SIGTERM, 143, "interrupted by SIGTERM"),
    ],
    ids=["ctrl-c", "sigterm"],
)
def test_interrupted_buildkit_build_leaves_no_step_running_and_nothing_tagged(  # type: ignore[no-untyped-def]
    tmp_path, run_env, docker_client, images, signum, code, message
):
    marker = f"hoist-bk-killed-{secrets.token_hex(4)}"
    dockerfile = f"FROM {BASE}\nRUN sleep 120 && echo {marker}\n"
    project = make_service_project(tmp_path / "project", files={"Dockerfile": dockerfile})
    config = built_config(project, images, "buildkit")

    with InvokeProcess("build", "--config", str(config), env=run_env) as run:
        run.wait_for_line(lambda line: "RUN sleep 120" in line)
        deadline = time.monotonic() + 60
        while not processes_with(marker):  # the step's shell runs (inside BuildKit's runc)
            assert time.monotonic() < deadline, run.output
            time.sleep(0.1)
        run.signal_group(signum)
        assert run.wait(60) == code, run.output

    errors = [x for x in run.stderr.splitlines() if x.startswith("hoist: error:")]
    assert len(errors) == 1 and message in errors[0] and "Traceback" not in run.stderr
    deadline = time.monotonic() + 15
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_with(marker) == [], "the build step still runs"
    assert docker_client.images.list(name=images[-1]) == []
    commands = [" ".join(c.attrs["Config"]["Cmd"] or []) for c in
                docker_client.containers.list(all=True)]  # fmt: skip
    assert [c for c in commands if marker in c] == []
    assert list(Path(run_env["TMPDIR"]).iterdir()) == []
    build = last_report(Path(run_env["HOIST_STATE_DIR"]))["stages"][-1]
    assert (build["stage"], build["status"]) == ("build", "interrupted")


@pytest.mark.parametrize("task", ["build", "ci"])
def test_buildkit_without_a_capable_cli_is_one_clear_line(tmp_path, run_env, images, task):  # type: ignore[no-untyped-def]
    old = tmp_path / "old" / "docker"
    old.parent.mkdir()
    old.write_text('#!/bin/sh\nif [ "$1" = --version ]; then echo "Docker version 19.03.15, b"; '
                   "exit 0; fi\nexit 1\n")  # fmt: skip
    old.chmod(0o755)
    project = make_service_project(tmp_path / "project")
    config = built_config(project, images, "buildkit")

    result = run_invoke(
        task, "--config", str(config), env={**run_env, "HOIST_DOCKER_CLI": str(old)}
    )

    assert result.returncode == 2, result.stdout + result.stderr
    assert "lint" not in result.stdout  # refused with the inputs, before any stage ran
    assert result.stderr.splitlines() == [
        "hoist: error: build.backend: is buildkit, but no docker CLI here can drive BuildKit"
        f" (tried {old}: 19.03.15 without buildx) (install docker's buildx plugin or a"
        " 20.10-22.x docker CLI, point HOIST_DOCKER_CLI at one, or set build.backend: classic)"
    ]
