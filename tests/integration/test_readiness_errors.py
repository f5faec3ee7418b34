"""A readiness check that fails says what it saw: the last answer, or why nothing answered.

Against the real engine: a tiny service FROM hoist-offline/node:bookworm that answers
``500 internal error`` to everything (or a long body, or never listens, or has a HEALTHCHECK
that prints why it fails), through smoke — once through ``invoke smoke`` as a user runs it —
and through deploy's check of a new version on a second engine (tests/support/server_engine.py),
the service pushed to a real htpasswd registry. Deadlines are a few seconds: these cases fail by
design, and waiting longer would show nothing new.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
import yaml

from pipeline.push.registry_server import RegistryServer, free_port
from tests.conftest import _git_init, run_invoke
from tests.integration.smoke_images import BASE, images, run_smoke, smoke_config
from tests.support.server_engine import ServerEngine

pytestmark = pytest.mark.integration

# Answers 500 with BODY (default "internal error") to every request; LISTEN=0: never listens.
# Given a PORT (deploy runs it on the server engine's host network), it listens there on
# 127.0.0.1 only.
SERVER_JS = r"""
const http = require('node:http');
if (process.env.LISTEN !== '0') {
  http.createServer((req, res) => {
    res.writeHead(500, { 'Content-Type': 'text/plain' });
    res.end(process.env.BODY ?? 'internal error');
  }).listen(Number(process.env.PORT || 3000), process.env.PORT ? '127.0.0.1' : '0.0.0.0');
} else {
  setInterval(() => {}, 60000);
}
process.on('SIGTERM', () => process.exit(0));
"""
DOCKERFILE = f"""\
FROM {BASE}
WORKDIR /srv
COPY server.js ./
USER 1000:1000
EXPOSE 3000
CMD ["node", "server.js"]
"""
FAILING_HEALTHCHECK = DOCKERFILE.replace(
    "EXPOSE 3000",
    "EXPOSE 3000\nHEALTHCHECK CMD "
    """["node", "-e", "console.error('upstream db: connect ECONNREFUSED 10.1.2.3:5432'); """
    """process.exit(1)"]""",
)
SMOKE = {"timeout": 3, "path": "/healthz", "stop_timeout": 0,
         "policy": {"secrets": False, "healthcheck": "off"}}  # fmt: skip
NO_CONNECTION = r"did not answer \((connection refused|connection reset|connection closed " \
                r"without an answer)\)"  # fmt: skip


@pytest.fixture(scope="module")
def service_images(docker_client: docker.DockerClient) -> Iterator[list[str]]:
    yield from images(docker_client, DOCKERFILE, FAILING_HEALTHCHECK, **{"server.js": SERVER_JS})


# --- smoke --------------------------------------------------------------------------------------


def test_a_service_answering_500_is_reported_with_its_answer(
    docker_client: docker.DockerClient, service_images: list[str], tmp_path: Path
) -> None:
    run = run_smoke(docker_client, service_images[0], smoke_config(tmp_path, SMOKE), tmp_path)

    assert run.error is not None
    message = run.error.message
    assert re.fullmatch(
        r"smoke: not ready within 3 s: http://127\.0\.0\.1:\d+/healthz answered 500 "
        r"'internal error' for \d+\.\d s \[service: readiness\]",
        message,
    ), message
    assert "did not answer" not in message
    assert "  expected: ready\n       got: status 500: internal error" in run.error.details
    assert run.line("SKIP  service: GET /healthz")


def test_a_long_body_is_clipped_to_one_short_line(
    docker_client: docker.DockerClient, service_images: list[str], tmp_path: Path
) -> None:
    body = 'Traceback (most recent call last):\n  File "app.py", line 7\n' + "x" * 500
    smoke = smoke_config(tmp_path, {**SMOKE, "env": {"BODY": body}})

    run = run_smoke(docker_client, service_images[0], smoke, tmp_path)

    assert run.error is not None
    match = re.search(r"answered 500 '(.*)' for ", run.error.message)
    assert match, run.error.message
    flat = 'Traceback (most recent call last): File "app.py", line 7 ' + "x" * 500
    assert match[1] == flat[:77] + "..."  # whitespace collapsed, 80 characters in all
    assert "\n" not in run.error.message


def test_a_service_that_never_listens_did_not_answer_and_says_why(
    docker_client: docker.DockerClient, service_images: list[str], tmp_path: Path
) -> None:
    smoke = smoke_config(tmp_path, {**SMOKE, "env": {"LISTEN": "0"}})

    run = run_smoke(docker_client, service_images[0], smoke, tmp_path)

    assert run.error is not None
    message = run.error.message
    assert re.fullmatch(
        rf"smoke: not ready within 3 s: http://127\.0\.0\.1:\d+/healthz {NO_CONNECTION} "
        r"\[service: readiness\]",
        message,
    ), message


def test_a_failing_healthcheck_is_reported_with_its_last_output(
    docker_client: docker.DockerClient, service_images: list[str], tmp_path: Path
) -> None:
    run = run_smoke(docker_client, service_images[1], smoke_config(tmp_path, SMOKE), tmp_path)

    assert run.error is not None
    assert run.error.message == (
        "smoke: not ready within 3 s: HEALTHCHECK did not pass; its last run exited "
        "1: 'upstream db: connect ECONNREFUSED 10.1.2.3:5432' [service: readiness]"
    )


def test_invoke_smoke_prints_the_answer_in_its_error_line(
    docker_client: docker.DockerClient, hoist_state: dict[str, str], tmp_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "Dockerfile").write_text(DOCKERFILE)
    (project / "server.js").write_text(SERVER_JS)
    config = {"image": f"hoist-test/readiness-{secrets.token_hex(3)}", "build": {"context": "."},
              "metadata": {"tags": ["type=raw,value=test"]}, "smoke": SMOKE}  # fmt: skip
    (project / "pipeline.yaml").write_text(yaml.safe_dump(config))
    _git_init(project)

    try:
        result = run_invoke(
            "smoke", "--config", str(project / "pipeline.yaml"), env=hoist_state, timeout=300
        )
    finally:
        report = Path(hoist_state["HOIST_STATE_DIR"]) / "reports" / "last.json"
        image_id = json.loads(report.read_text()).get("image_id") if report.exists() else None
        if image_id:
            docker_client.images.remove(image_id, force=True)

    assert result.returncode == 1, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("hoist: error:")]
    assert len(errors) == 1, result.stderr
    assert re.fullmatch(
        r"hoist: error: smoke: not ready within 3 s: http://127\.0\.0\.1:\d+/healthz answered "
        r"500 'internal error' for \d+\.\d s \[service: readiness\]",
        errors[0],
    ), errors[0]
    assert "Traceback" not in result.stderr


# --- deploy: the new version's check on a temporary port ----------------------------------------

REPOSITORY_PATH = "hoist-readiness/app"


@pytest.fixture(scope="module")
def digest(
    docker_client: docker.DockerClient, service_images: list[str], registry: RegistryServer
) -> Iterator[str]:
    """The 500 service pushed to the registry the server engine pulls from; its digest."""
    repository = f"{registry.address}/{REPOSITORY_PATH}"
    docker_client.images.get(service_images[0]).tag(repository, "test")
    auth = {"username": registry.username, "password": registry.password}
    try:
        stream = docker_client.api.push(
            repository, tag="test", stream=True, decode=True, auth_config=auth
        )
        errors = [line["error"] for line in stream if "error" in line]  # docker-py 3161
        assert errors == [], errors
        pushed = docker_client.images.get(f"{repository}:test").attrs["RepoDigests"]
        yield next(d for d in pushed if d.startswith(f"{repository}@")).split("@", 1)[1]
    finally:
        docker_client.images.remove(f"{repository}:test")


def deploy(
    tmp_path: Path, engine: ServerEngine, registry: RegistryServer, digest: str, **staging: object
) -> tuple[str, str]:
    """``invoke deploy`` of ``digest`` on the host network; (its one error line, container)."""
    container = f"ready-{secrets.token_hex(3)}"
    config = {
        "image": REPOSITORY_PATH,
        "build": {"context": "."},
        "registries": [{"kind": "generic", "name": "server-registry",
                        "repository": f"{registry.address}/{REPOSITORY_PATH}"}],
        "deploy": {"staging": {"container": container, "network": "host",
                               "ports": [str(free_port())], "probe_port": free_port(),
                               "health": {"timeout": 3}, **staging}},
    }  # fmt: skip
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")  # deploy builds nothing
    (tmp_path / "pipeline.yaml").write_text(yaml.safe_dump(config))
    env = {"HOIST_STATE_DIR": str(tmp_path / "state"), "REGISTRY_USERNAME": registry.username,
           "REGISTRY_PASSWORD": registry.password}  # fmt: skip
    result = run_invoke(
        "deploy", "--config", str(tmp_path / "pipeline.yaml"), "--host", engine.host,
        "--digest", digest, env=env, timeout=180,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert registry.password not in result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("hoist: error:")]
    assert len(errors) == 1, result.stderr
    server = docker.DockerClient(base_url=engine.host, timeout=60)
    assert server.containers.list(all=True, filters={"name": container}) == []  # removed
    return errors[0], container


def test_deploy_names_what_a_failing_new_version_answered(
    tmp_path: Path, server_engine: ServerEngine, registry: RegistryServer, digest: str
) -> None:
    error, container = deploy(tmp_path, server_engine, registry, digest)

    assert re.search(
        r"failed its checks: not ready within 3 s: http://127\.0\.0\.1:\d+/healthz answered 500 "
        r"'internal error' for \d+\.\d s; removed it",
        error,
    ), error
    assert f"nothing was deployed as {container}" in error
    assert "(got " not in error  # said once, not twice


def test_deploy_says_why_a_new_version_that_never_listens_did_not_answer(
    tmp_path: Path, server_engine: ServerEngine, registry: RegistryServer, digest: str
) -> None:
    error, _ = deploy(tmp_path, server_engine, registry, digest, env={"LISTEN": "0"})

    assert re.search(
        r"failed its checks: not ready within 3 s: http://127\.0\.0\.1:\d+/healthz did not "
        r"answer \(connection refused\); removed it",
        error,
    ), error
