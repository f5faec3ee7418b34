"""The whole pipeline as a user runs it: `invoke ci --config ...` against the real engine and a
real registry (the embedded CNCF distribution server, or one started by the test)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.push.registries.base import Credentials
from pipeline.push.registry_api import RegistryClient
from tests.conftest import run_invoke

pytestmark = pytest.mark.integration

CRASHING_SERVER = """\
'use strict';
console.log('starting up');
console.error('fatal: cannot read configuration /etc/app.conf');
process.exit(3);
"""

BAD_DOCKERFILE = """\
FROM hoist-offline/node:bookworm
RUN cd /app && apt-get install nodejs
CMD node src/server.js
"""


def run_containers(docker_client, run_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Containers of one run (other runs may share the engine): smoke labels each with it."""
    label = f"io.hoist.run={run_id}"
    return [c.id for c in docker_client.containers.list(all=True, filters={"label": label})]


def last_report(state: dict[str, str]) -> dict:  # type: ignore[type-arg]
    return json.loads((Path(state["HOIST_STATE_DIR"]) / "reports" / "last.json").read_text())


def test_ci_pushes_and_registry_serves_the_manifest(make_app, hoist_state, docker_client):  # type: ignore[no-untyped-def]
    config = make_app()

    result = run_invoke("ci", "--config", str(config), env=hoist_state)

    assert result.returncode == 0, result.stdout + result.stderr
    for stage in ("==> lint", "==> build", "==> smoke", "==> push", "result: OK"):
        assert stage in result.stdout
    report = last_report(hoist_state)
    assert [s["status"] for s in report["stages"]] == ["passed"] * 4
    (push,) = report["pushes"]
    assert push["digest"].startswith("sha256:") and push["attempts"] == 1
    assert f"report: {Path(hoist_state['HOIST_STATE_DIR'])}/reports/run-" in result.stdout

    state = json.loads((Path(hoist_state["HOIST_STATE_DIR"]) / "registry/state.json").read_text())
    password = (Path(hoist_state["HOIST_STATE_DIR"]) / "registry/auth").read_text().strip()
    registry = RegistryClient("local", state["address"], Credentials("hoist", password))
    repository = push["repository"].split("/", 1)[1]
    for tag in report["tags"]:
        assert registry.manifest_digest(repository, tag) == push["digest"]
    assert password not in result.stdout + result.stderr
    assert run_containers(docker_client, report["run_id"]) == []


def test_crashing_app_fails_smoke_with_its_logs_and_pushes_nothing(  # type: ignore[no-untyped-def]
    make_app, hoist_state, docker_client
):
    config = make_app(files={"src/server.js": CRASHING_SERVER})

    result = run_invoke("ci", "--config", str(config), env=hoist_state)

    assert result.returncode == 1
    assert "fatal: cannot read configuration /etc/app.conf" in result.stderr
    assert "hoist: error: smoke: container exited with code 3 before it was ready" in result.stderr
    assert "Traceback" not in result.stderr
    report = last_report(hoist_state)
    assert [(s["stage"], s["status"]) for s in report["stages"]] == [
        ("lint", "passed"), ("build", "passed"), ("smoke", "failed")
    ]  # fmt: skip
    assert report["pushes"] == []
    assert not (Path(hoist_state["HOIST_STATE_DIR"]) / "registry/state.json").exists()
    assert run_containers(docker_client, report["run_id"]) == []


def test_dockerfile_rejected_by_hadolint_stops_at_lint_and_builds_nothing(  # type: ignore[no-untyped-def]
    make_app, hoist_state, docker_client
):
    config = make_app(files={"Dockerfile": BAD_DOCKERFILE})
    image = json.loads(json.dumps(__import__("yaml").safe_load(config.read_text())))["image"]

    result = run_invoke("ci", "--config", str(config), env=hoist_state)

    assert result.returncode == 1
    assert "hoist: error: lint:" in result.stderr
    assert "DL3003" in result.stdout  # use WORKDIR instead of cd
    assert "DL3025" in result.stdout  # exec form CMD
    report = last_report(hoist_state)
    assert [(s["stage"], s["status"]) for s in report["stages"]] == [("lint", "failed")]
    assert report["image_id"] is None
    assert docker_client.images.list(name=image) == []


def test_wrong_registry_password_fails_push_naming_the_registry(  # type: ignore[no-untyped-def]
    make_app, hoist_state, registry_factory, docker_client
):
    server = registry_factory()
    config = make_app(
        {
            "registries": [
                {
                    "kind": "generic",
                    "name": "team-registry",
                    "repository": f"{server.address}/team/app",
                }
            ]
        }  # fmt: skip
    )
    secret = "definitely-wrong-password-4711"
    env = {**hoist_state, "REGISTRY_USERNAME": server.username, "REGISTRY_PASSWORD": secret}

    result = run_invoke("ci", "--config", str(config), env=env)

    assert result.returncode == 1
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("hoist: error")]
    assert len(error_lines) == 1
    assert "push: refused before any target was pushed: team-registry (" in error_lines[0]
    assert "the registry refused the credentials" in error_lines[0]
    report = last_report(hoist_state)
    assert report["pushes"] == []  # found beside lint and build, before smoke
    assert secret not in result.stdout + result.stderr
    assert secret not in json.dumps(report)


def test_ci_config_runs_an_app_that_is_not_node_app(tmp_path, hoist_state, python_base):  # type: ignore[no-untyped-def]
    app = tmp_path / "py-app"
    app.mkdir()
    (app / "Dockerfile").write_text(
        "ARG BASE_IMAGE=python:3.12-slim\n"
        "FROM ${BASE_IMAGE}\n"
        "WORKDIR /srv\n"
        "COPY index.html .\n"
        "USER 1000\n"
        "EXPOSE 8000\n"
        'CMD ["python3", "-m", "http.server", "8000"]\n'
    )
    (app / "index.html").write_text("<h1>hello from py-app</h1>\n")
    (tmp_path / "pipeline.yaml").write_text(
        "image: demo/py-app\n"
        "build: {context: py-app}\n"
        "metadata: {tags: ['type=raw,value=demo']}\n"
        "smoke: {port: 8000, path: /, expect_body: hello from py-app}\n"
    )
    # a user's first step; the stand-in is already there (python_base): the task finds it
    base = run_invoke("base-image", "--config", str(tmp_path / "pipeline.yaml"), env=hoist_state)
    assert base.returncode == 0, base.stdout + base.stderr
    assert f"offline stand-in {python_base} is present" in base.stdout

    result = run_invoke("ci", "--config", str(tmp_path / "pipeline.yaml"), env=hoist_state)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "using offline stand-in hoist-offline/python:bookworm" in result.stdout
    # python as PID 1 ignores SIGTERM: reported, but only enforced when stop_timeout is set
    assert "WARN  service: graceful stop (SIGTERM)" in result.stdout
    assert "warning: " in result.stdout and "tagged latest only" in result.stdout
    assert "/demo/py-app:latest" in result.stdout
