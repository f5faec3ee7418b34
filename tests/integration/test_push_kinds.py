"""Every registry kind pushes end to end to a real registry on 127.0.0.1.

Each target keeps its kind's canonical name (``ghcr.io/acme-corp/app``, ``docker.io/acme/app``,
...) and credential path (the kind's own variables), while ``endpoint:`` points the engine at a
real CNCF distribution registry with htpasswd auth — over TLS with a self-signed CA for some.
The registry's users are exactly the user names each ecosystem uses (``oauth2accesstoken``,
``AWS``, a service principal id, a Quay robot), so a kind that sent the wrong ones would fail.
What is pushed is a tiny image built ``FROM scratch`` once for the module.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pipeline.push.registries.base import TargetConfig
from pipeline.push.registries.kinds import resolve_target
from pipeline.push.registries.retry import RetryPolicy
from pipeline.push.registry_server import RegistryServer, start_registry, stop_registry
from pipeline.push.stage import push_all
from pipeline.push.target import PushResult

pytestmark = pytest.mark.integration

FAST = RetryPolicy(attempts=2, initial=0.1, max_wait=0.2)


@pytest.fixture
def plain_registry(tmp_path: Path) -> Iterator[Callable[[str, str], RegistryServer]]:
    """A registry whose password the test chooses (ECR's and GCR's are fixed by the kind)."""
    started: list[RegistryServer] = []

    def start(username: str, password: str) -> RegistryServer:
        root = tmp_path / f"plain-{len(started)}"
        started.append(start_registry(root, username=username, password=password))
        return started[-1]

    yield start
    for server in started:
        stop_registry(server.pid)


def served_digest(server: RegistryServer, path: str, tag: str) -> str:
    """Ask the registry with skopeo (an independent client) which digest it serves."""
    certs = f"/etc/docker/certs.d/{server.address}"  # where registry_factory put the CA
    tls = ["--cert-dir", certs] if server.ca_file else ["--tls-verify=false"]
    result = subprocess.run(
        ["skopeo", "inspect", "--raw", *tls, "--creds", f"{server.username}:{server.password}",
         f"docker://{server.address}/{path}:{tag}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return "sha256:" + hashlib.sha256(result.stdout.encode()).hexdigest()


def push(client, image_id: str, config: TargetConfig, environ: dict[str, str]) -> PushResult:  # type: ignore[no-untyped-def]
    target = resolve_target(config, "hoist-test/app", environ)
    [result] = push_all(client, image_id, [target], ["1.0.0", "latest"], environ, print, FAST)
    assert result.ok, result.error
    assert result.references == [f"{result.repository}:1.0.0", f"{result.repository}:latest"]
    return result


SP_ID = str(uuid.UUID(int=0x5E1F))
KINDS = [
    # kind, repository as configured, canonical repository, registry user, env, TLS
    ("dockerhub", "acme/app", "docker.io/acme/app", "acme",
     lambda pw: {"DOCKERHUB_USERNAME": "acme", "DOCKERHUB_TOKEN": pw}, False),
    ("ghcr", "ghcr.io/Acme-Corp/app", "ghcr.io/acme-corp/app", "octocat",
     lambda pw: {"GITHUB_ACTOR": "octocat", "GITHUB_TOKEN": pw}, True),
    ("quay", "quay.io/acme/app", "quay.io/acme/app", "acme+ci",
     lambda pw: {"QUAY_USERNAME": "acme+ci", "QUAY_PASSWORD": pw}, False),
    ("gcr", "europe-west1-docker.pkg.dev/my-project/images/app",
     "europe-west1-docker.pkg.dev/my-project/images/app", "oauth2accesstoken",
     lambda pw: {"GOOGLE_OAUTH_ACCESS_TOKEN": pw}, True),
    ("acr", "hoistdemo.azurecr.io/team/app", "hoistdemo.azurecr.io/team/app", SP_ID,
     lambda pw: {"AZURE_CLIENT_ID": SP_ID, "AZURE_CLIENT_SECRET": pw}, False),
    ("generic", "registry.example.com/team/app", "registry.example.com/team/app", "ci-user",
     lambda pw: {"REGISTRY_USERNAME": "ci-user", "REGISTRY_PASSWORD": pw}, True),
]  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "configured", "canonical", "user", "env", "tls"), KINDS, ids=[k[0] for k in KINDS]
)
def test_kind_pushes_through_its_own_credentials(  # type: ignore[no-untyped-def]
    docker_client, tiny_image, registry_factory, kind, configured, canonical, user, env, tls
):
    """ACR: only the service-principal path can run here; the AAD token exchange needs
    Azure AD and is covered by a unit test against a stand-in exchange endpoint."""
    server = registry_factory(tls=tls, username=user)
    config = TargetConfig(kind=kind, name=kind, repository=configured, endpoint=server.address)
    result = push(docker_client, tiny_image, config, env(server.password))
    assert result.repository == canonical
    assert result.endpoint == server.address
    path = canonical.split("/", 1)[1]
    assert served_digest(server, path, "1.0.0") == result.digest
    assert served_digest(server, path, "latest") == result.digest
    assert server.password not in json.dumps(result.__dict__)


def test_gcr_service_account_key_file_is_sent_as_json_key(  # type: ignore[no-untyped-def]
    docker_client, tiny_image, plain_registry, tmp_path
):
    """The key file's contents are the password of ``_json_key``. (The registry's bcrypt
    compares the first 72 bytes only, so the file is kept on one line for htpasswd.)"""
    key = {"type": "service_account", "project_id": "my-project",
           "private_key_id": secrets.token_hex(8), "client_email": "ci@my-project.iam"}  # fmt: skip
    key_file = tmp_path / "key.json"
    key_file.write_text(json.dumps(key))
    server = plain_registry("_json_key", key_file.read_text())
    config = TargetConfig(
        kind="gcr", name="gcr", repository="gcr.io/my-project/app", endpoint=server.address
    )
    result = push(
        docker_client, tiny_image, config, {"GOOGLE_APPLICATION_CREDENTIALS": str(key_file)}
    )
    assert result.credentials == "GOOGLE_APPLICATION_CREDENTIALS"
    assert served_digest(server, "my-project/app", "1.0.0") == result.digest


@pytest.fixture
def moto_ecr(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto's ECR on 127.0.0.1 stands in for AWS, which cannot be reached from here: it serves
    GetAuthorizationToken (user ``AWS``, password ``ACCOUNT-auth-token``) and the repository
    API. The image itself goes to a real registry."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.setenv(name, "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    yield f"http://{host}:{port}"
    server.stop()


def test_ecr_private_through_get_authorization_token(  # type: ignore[no-untyped-def]
    docker_client, tiny_image, plain_registry, moto_ecr
):
    import boto3

    account = "123456789012"
    server = plain_registry("AWS", f"{account}-auth-token")  # what moto's token decodes to
    environ = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "not-a-real-key",
               "AWS_ENDPOINT_URL_ECR": moto_ecr}  # fmt: skip
    config = TargetConfig(
        kind="ecr",
        name="ecr",
        repository=f"{account}.dkr.ecr.eu-west-1.amazonaws.com/team/app",
        endpoint=server.address,
        options={"create_repository": True},
    )
    result = push(docker_client, tiny_image, config, environ)
    assert result.credentials == "AWS credential chain -> GetAuthorizationToken"
    assert served_digest(server, "team/app", "latest") == result.digest
    ecr = boto3.client("ecr", region_name="eu-west-1", endpoint_url=moto_ecr,
                       aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x")  # fmt: skip
    names = [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]
    assert names == ["team/app"], "create_repository: true created it in the parsed region"


def test_fan_out_copies_the_first_push_to_the_other_registries(  # type: ignore[no-untyped-def]
    docker_client, tiny_image, registry_factory
):
    """docker pushes to the first target only; skopeo copies from there (credentials in memory
    files), across TLS and plain registries, and every registry serves the same digest."""
    servers = [registry_factory(tls=True, username="ci-user"), registry_factory(username="acme"),
               registry_factory(username="acme+ci")]  # fmt: skip
    environ = {"REGISTRY_USERNAME": "ci-user", "REGISTRY_PASSWORD": servers[0].password,
               "DOCKERHUB_USERNAME": "acme", "DOCKERHUB_TOKEN": servers[1].password,
               "QUAY_USERNAME": "acme+ci", "QUAY_PASSWORD": servers[2].password}  # fmt: skip
    configs = [
        TargetConfig("generic", "harbor", "registry.example.com/team/app", servers[0].address),
        TargetConfig("dockerhub", "hub", "acme/app", servers[1].address),
        TargetConfig("quay", "quay", "quay.io/acme/app", servers[2].address),
    ]
    targets = [resolve_target(c, "app", environ) for c in configs]
    lines: list[str] = []
    results = push_all(docker_client, tiny_image, targets, ["1.0.0", "latest"], environ,
                       lines.append, FAST)  # fmt: skip
    assert [r.error for r in results] == [None, None, None]
    assert [r.copied_from for r in results] == [None, "harbor", "harbor"]
    assert sum(": Pushed" in line for line in lines) == 1, "one docker push uploaded the layer"
    for server, result in zip(servers, results, strict=True):
        path = result.repository.split("/", 1)[1]
        for tag in ("1.0.0", "latest"):
            assert served_digest(server, path, tag) == results[0].digest


def test_local_kind_pushes_to_the_embedded_registry(  # type: ignore[no-untyped-def]
    docker_client, tiny_image, hoist_state, monkeypatch
):
    monkeypatch.setenv("HOIST_STATE_DIR", hoist_state["HOIST_STATE_DIR"])
    config = TargetConfig(kind="local", name="local")
    result = push(docker_client, tiny_image, config, {})
    assert result.credentials == "embedded registry"
    assert result.repository.endswith("/app")
