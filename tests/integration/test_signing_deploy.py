"""`invoke deploy` with signing.public_key: the digest is verified before the server pulls it.

The server is a second, real Docker Engine (tests/support/server_engine.py) and the images are
node-app variants pushed to a real htpasswd registry (tests/support/deploy_images.py), as in
test_deploy.py. One digest is signed with hoist's formats (tests/support/signing.py), another
is not: the signed one deploys, the unsigned one is refused with the reason in one line, before
the server is contacted — its containers and images stay exactly as they were.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
import requests
import yaml

from pipeline.attest import keys
from pipeline.attest.store import ArtifactStore
from pipeline.push.registries.kinds import Credentials
from pipeline.push.registry_server import RegistryServer, free_port
from tests.conftest import run_invoke
from tests.support.deploy_images import build_and_push
from tests.support.server_engine import ServerEngine
from tests.support.signing import PASSING, forge

pytestmark = pytest.mark.integration

PATH = "hoist-signed/app"


@pytest.fixture(scope="module")
def digests(
    registry: RegistryServer,
    docker_client,
    node_base: str,  # type: ignore[no-untyped-def]
) -> Iterator[dict[str, str]]:
    client = docker_client
    auth = {"username": registry.username, "password": registry.password}
    repository = f"{registry.address}/{PATH}"
    pushed = build_and_push(client, node_base, repository, auth, "0" * 40)
    yield pushed
    for name in pushed:  # this module's tags; an image no other tag holds goes with its tag
        client.images.remove(f"{repository}:{name}")


def test_deploy_verifies_first_and_refuses_an_unsigned_digest_leaving_the_server_as_it_was(
    tmp_path: Path, registry: RegistryServer, server_engine: ServerEngine, digests: dict[str, str]
) -> None:
    project = tmp_path / "project"
    (project / "app").mkdir(parents=True)
    (project / "app" / "Dockerfile").write_text("FROM scratch\n")  # deploy builds nothing
    private = keys.generate_key_pair(b"")
    (project / "cosign.pub").write_bytes(private.public_pem)
    container, live, probe = f"signed-{secrets.token_hex(3)}", free_port(), free_port()
    repository = f"{registry.address}/{PATH}"
    config = {
        "image": PATH,
        "build": {"context": "app"},
        "registries": [{"kind": "generic", "name": "server-registry", "repository": repository}],
        "signing": {"public_key": "cosign.pub"},
        "deploy": {"prod": {"container": container, "network": "host", "ports": [str(live)],
                            "probe_port": probe, "health": {"timeout": 10}, "stop_timeout": 5}},
    }  # fmt: skip
    (project / "pipeline.yaml").write_text(yaml.safe_dump(config))
    store = ArtifactStore("server-registry", registry.address,
                          Credentials(registry.username, registry.password))  # fmt: skip
    forge(store, PATH, repository, digests["v1"], keys.load_private_key(private.private_pem, b""),
          PASSING)  # fmt: skip
    env = {"HOIST_STATE_DIR": str(tmp_path / "state"), "REGISTRY_USERNAME": registry.username,
           "REGISTRY_PASSWORD": registry.password}  # fmt: skip
    server = docker.DockerClient(base_url=server_engine.host, timeout=60)

    def deploy(digest: str) -> subprocess.CompletedProcess[str]:
        where = ["--config", str(project / "pipeline.yaml"), "--host", server_engine.host]
        result = run_invoke("deploy", *where, "--digest", digest, env=env, timeout=180)
        print(result.stdout + result.stderr)
        return result

    def snapshot() -> tuple[dict[str, tuple[str, str]], set[str]]:
        found = server.containers.list(all=True, filters={"name": container})
        return {c.name: (c.id, c.attrs["State"]["StartedAt"]) for c in found}, {
            i.id for i in server.images.list()
        }

    try:
        signed = deploy(digests["v1"])
        assert signed.returncode == 0
        lines = signed.stdout.splitlines()
        checked = next(i for i, line in enumerate(lines) if line.startswith("signature   ok"))
        pulled = next(i for i, line in enumerate(lines) if line.startswith("pulling "))
        assert checked < pulled, "verified before the pull"
        assert requests.get(f"http://127.0.0.1:{live}/", timeout=2).json()["version"] == "1.0.0"
        before = snapshot()

        unsigned = deploy(digests["v2"])

        assert unsigned.returncode == 1
        [line] = unsigned.stderr.strip().splitlines()
        tag = f"sha256-{digests['v2'].split(':')[1]}.sig"
        assert line == (
            f"hoist: error: {repository}@{digests['v2']}: signature: none stored ({tag})"
        )
        assert "pulling" not in unsigned.stdout
        assert snapshot() == before, "nothing changed on the server"
        assert requests.get(f"http://127.0.0.1:{live}/", timeout=2).json()["version"] == "1.0.0"
    finally:
        for c in server.containers.list(all=True, filters={"name": container}):
            c.remove(force=True)
