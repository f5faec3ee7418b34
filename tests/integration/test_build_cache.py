"""The registry layer cache across engines: what a fresh CI runner sees.

One project, one real registry (htpasswd). On this engine: a pull request run and a run whose
smoke test fails write nothing; a passing run writes ``:buildcache``. Then a second, real
engine with an empty data-root (the base image loaded into it, nothing else) builds the same
project: every step is a cache hit, counted from BuildKit's progress stream.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import docker
import pytest

from tests.conftest import run_invoke
from tests.support.reliability import (
    BASE,
    RegistryReader,
    last_report,
    make_service_project,
    service_config,
    unique_image,
    write_config,
)
from tests.support.server_engine import ServerEngine, start_server_engine, stop_server_engine

pytestmark = pytest.mark.integration

CACHED_DOCKERFILE = f"""\
FROM {BASE}
ARG MARKER
RUN echo "$MARKER" > /marker && sleep 2
WORKDIR /srv
COPY index.html ./
RUN python3 -c "print('x' * 4096)" > /srv/data.txt && sleep 2
USER 1000:1000
EXPOSE 8000
CMD ["python3", "-m", "http.server", "8000", "--bind", "0.0.0.0"]
"""


@pytest.fixture
def second_engine(docker_client) -> Iterator[ServerEngine]:  # type: ignore[no-untyped-def]
    """A fresh engine holding only the base image, as a new CI runner has after setup."""
    engine = start_server_engine()
    try:
        saved = b"".join(docker_client.images.get(BASE).save(chunk_size=1 << 20, named=True))
        docker.DockerClient(base_url=engine.host, timeout=120).images.load(saved)
        yield engine
    finally:
        stop_server_engine(engine)


def test_cache_written_after_the_gates_is_all_hits_on_a_fresh_engine(  # type: ignore[no-untyped-def]
    tmp_path, registry_factory, docker_client, second_engine
):
    registry = registry_factory()
    project = make_service_project(tmp_path / "project", files={"Dockerfile": CACHED_DOCKERFILE})
    image = unique_image("bk-cache")
    target = {"kind": "generic", "name": "team", "endpoint": registry.address,
              "repository": "registry.example.com/team/app"}  # fmt: skip
    build = {"context": "app", "backend": "buildkit", "cache": "registry",
             "args": {"MARKER": secrets.token_hex(8)}}  # fmt: skip
    config = write_config(project, service_config(image, build=build, registries=[target]))
    broken = write_config(
        project,
        service_config(image, build=build, registries=[target], smoke={"expect_body": "nope"}),
    )
    env = {"HOIST_STATE_DIR": str(tmp_path / "state"), "REGISTRY_USERNAME": registry.username,
           "REGISTRY_PASSWORD": registry.password}  # fmt: skip
    reader = RegistryReader(registry.address, registry.username, registry.password)
    try:
        pull_request = run_invoke("smoke", "--config", str(config),
                                  env={**env, "GITHUB_EVENT_NAME": "pull_request"})  # fmt: skip
        assert pull_request.returncode == 0, pull_request.stdout + pull_request.stderr
        read_only = "cache: a pull request reads the cache anonymously and never writes it"
        assert read_only in pull_request.stdout
        failed = run_invoke("smoke", "--config", str(broken), env=env)
        assert failed.returncode == 1, failed.stdout + failed.stderr
        assert reader.tags("team/app") == [], "nothing written before the gates passed"

        passed = run_invoke("smoke", "--config", str(config), env=env)
        assert passed.returncode == 0, passed.stdout + passed.stderr
        cache_ref = f"{registry.address}/team/app:buildcache"
        assert f"cache: written to {cache_ref}" in passed.stdout
        assert reader.tags("team/app") == ["buildcache"]
        assert registry.password not in passed.stdout + passed.stderr

        fresh = run_invoke("build", "--config", str(config),
                           env={**env, "DOCKER_HOST": second_engine.host})  # fmt: skip
        assert fresh.returncode == 0, fresh.stdout + fresh.stderr
        assert f"cache: reading {cache_ref}" in fresh.stdout
        summary = last_report(tmp_path / "state")["stages"][-1]["summary"]
        assert summary.endswith(", 4/4 steps cached)"), summary  # RUN, WORKDIR, COPY, RUN
        engine = docker.DockerClient(base_url=second_engine.host)
        built = last_report(tmp_path / "state")["image_id"]
        marker = engine.containers.run(built, ["cat", "/marker"], remove=True).decode().strip()
        assert marker == build["args"]["MARKER"]  # type: ignore[index]
    finally:
        for found in docker_client.images.list(name=image):
            docker_client.images.remove(found.id, force=True)


def test_no_cache_configured_reads_and_writes_nothing(tmp_path, docker_client):  # type: ignore[no-untyped-def]
    project = make_service_project(tmp_path / "project")
    image = unique_image("bk-nocache")
    config = write_config(project, service_config(image, build={"backend": "buildkit"}))

    result = run_invoke("build", "--config", str(config), env={"HOIST_STATE_DIR": str(tmp_path)})

    try:
        assert result.returncode == 0, result.stdout + result.stderr
        assert "cache:" not in result.stdout
    finally:
        for found in docker_client.images.list(name=image):
            docker_client.images.remove(found.id, force=True)


def test_classic_backend_with_a_cache_builds_without_it_and_says_so(tmp_path, docker_client):  # type: ignore[no-untyped-def]
    project = make_service_project(tmp_path / "project")
    image = unique_image("bk-classic-cache")
    build = {"backend": "classic", "cache": {"from": ["127.0.0.1:9/none/app:buildcache"]}}
    config = write_config(project, service_config(image, build=build))

    result = run_invoke("build", "--config", str(config), env={"HOIST_STATE_DIR": str(tmp_path)})

    try:
        assert result.returncode == 0, result.stdout + result.stderr
        assert "cache: the classic builder cannot use build.cache: building without it" in (
            result.stdout
        )
        assert not (tmp_path / "registry").exists(), "explicit refs start no embedded registry"
    finally:
        for found in docker_client.images.list(name=image):
            docker_client.images.remove(found.id, force=True)
