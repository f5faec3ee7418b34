"""Where each kind finds credentials, and the exact words when they are missing.

Cloud token services cannot be reached from here, so they are stood in for — and only they:
moto's in-process AWS for ECR's GetAuthorizationToken and CreateRepository, botocore's Stubber
for ECR Public (moto has no ecr-public), a fake google-auth / azure-identity credential object,
and a local HTTP server for ACR's ``/oauth2/exchange``.
"""

from __future__ import annotations

import base64
import datetime
import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pipeline.errors import PipelineError, RegistryError
from pipeline.push.registries.base import TargetConfig
from pipeline.push.registries.kinds import resolve_target, target_credentials


def resolve(kind: str, repository: str, endpoint: str | None = None):  # type: ignore[no-untyped-def]
    return resolve_target(TargetConfig(kind, kind, repository, endpoint), "app", {})


def missing(kind: str, repository: str, environ: dict[str, str]) -> str:
    with pytest.raises(PipelineError) as caught:
        target_credentials(resolve(kind, repository), environ)
    assert not isinstance(caught.value, RegistryError) or not caught.value.transient
    return str(caught.value)


@pytest.fixture(autouse=True)
def no_docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the user's real docker config and cloud config files out of every test."""
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never probe 169.254.169.254
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)


# --- variables -------------------------------------------------------------------------------


def test_dockerhub() -> None:
    hub = resolve("dockerhub", "acme/app")
    found = target_credentials(hub, {"DOCKERHUB_USERNAME": "acme", "DOCKERHUB_TOKEN": "dckr_pat"})
    assert (found.username, found.password) == ("acme", "dckr_pat")
    assert found.source == "DOCKERHUB_USERNAME/DOCKERHUB_TOKEN"
    assert "secret" not in repr(found) and "dckr_pat" not in repr(found)
    assert missing("dockerhub", "acme/app", {}) == (
        "dockerhub (docker.io/acme/app): no credentials (set DOCKERHUB_USERNAME and "
        "DOCKERHUB_TOKEN (a Docker Hub access token with Read & Write scope))"
    )
    assert "set DOCKERHUB_TOKEN (" in missing("dockerhub", "acme/app", {"DOCKERHUB_USERNAME": "a"})


def test_ghcr_prefers_a_pat_over_github_token() -> None:
    ghcr = resolve("ghcr", "ghcr.io/acme/app")
    environ = {"GITHUB_ACTOR": "octocat", "GITHUB_TOKEN": "ghs_x"}
    assert target_credentials(ghcr, environ).source == "GITHUB_ACTOR/GITHUB_TOKEN"
    pat = target_credentials(ghcr, {**environ, "GHCR_TOKEN": "ghp_y"})
    assert (pat.username, pat.password, pat.source) == (
        "octocat",
        "ghp_y",
        "GITHUB_ACTOR/GHCR_TOKEN",
    )
    message = missing("ghcr", "ghcr.io/acme/app", {})
    assert (
        "set GITHUB_ACTOR and GITHUB_TOKEN (in GitHub Actions: permissions: packages: write)"
        in (message)
    )
    assert "GHCR_TOKEN with a personal access token that has write:packages" in message
    assert "set GITHUB_TOKEN (" in missing("ghcr", "ghcr.io/acme/app", {"GITHUB_ACTOR": "o"})


def test_quay_robot_must_belong_to_the_namespace() -> None:
    quay = resolve("quay", "quay.io/acme/app")
    robot = target_credentials(quay, {"QUAY_USERNAME": "acme+ci", "QUAY_PASSWORD": "tok"})
    assert robot.username == "acme+ci"
    message = missing(
        "quay", "quay.io/acme/app", {"QUAY_USERNAME": "other+ci", "QUAY_PASSWORD": "t"}
    )
    assert "robot other+ci belongs to other, not acme" in message
    assert "QUAY_USERNAME=acme+NAME" in message
    assert "set QUAY_USERNAME and QUAY_PASSWORD (a Quay robot account and its token)" in missing(
        "quay", "quay.io/acme/app", {}
    )


def test_generic_variables_then_docker_store_then_anonymous(tmp_path: Path) -> None:
    generic = resolve("generic", "harbor.example.com/team/app")
    pair = {"REGISTRY_USERNAME": "u", "REGISTRY_PASSWORD": "p"}
    assert target_credentials(generic, pair).source == "REGISTRY_USERNAME/REGISTRY_PASSWORD"
    assert "set REGISTRY_PASSWORD (" in missing(
        "generic", "harbor.example.com/team/app", {"REGISTRY_USERNAME": "u"}
    )
    docker = tmp_path / "docker"
    assert target_credentials(generic, {"DOCKER_CONFIG": str(docker)}) is None
    docker.mkdir()
    auth = base64.b64encode(b"robot:s3cret").decode()
    (docker / "config.json").write_text(
        json.dumps({"auths": {"harbor.example.com": {"auth": auth}}})
    )
    stored = target_credentials(generic, {"DOCKER_CONFIG": str(docker)})
    assert stored is not None and (stored.username, stored.password) == ("robot", "s3cret")


# --- Amazon ECR ------------------------------------------------------------------------------

ECR_PRIVATE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app"
AWS_KEYS = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "not-a-real-key"}


def test_ecr_private_token_from_get_authorization_token() -> None:
    from moto import mock_aws

    with mock_aws():
        found = target_credentials(resolve("ecr", ECR_PRIVATE), AWS_KEYS)
    assert (found.username, found.password) == ("AWS", "123456789012-auth-token")
    assert found.expires_at is not None and found.expired()  # moto's token dates from 2015


def test_ecr_creates_the_repository_once_when_asked() -> None:
    import boto3
    from moto import mock_aws

    from pipeline.push.registries.kinds import prepare_target

    config = TargetConfig("ecr", "ecr", ECR_PRIVATE, None, {"create_repository": True})
    ecr_target = resolve_target(config, "app", AWS_KEYS)
    lines: list[str] = []
    with mock_aws():
        prepare_target(ecr_target, AWS_KEYS, lines.append)
        prepare_target(ecr_target, AWS_KEYS, lines.append)
        client = boto3.client("ecr", region_name="eu-west-1", aws_access_key_id="a",
                              aws_secret_access_key="b")  # fmt: skip
        repositories = client.describe_repositories()["repositories"]
    assert [r["repositoryName"] for r in repositories] == ["team/app"]
    assert lines == [f"[ecr] created repository {ECR_PRIVATE}"]


def test_ecr_public_uses_ecr_public_in_us_east_1(monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    from botocore.stub import Stubber

    from pipeline.push.registries import ecr

    client = boto3.client("ecr-public", region_name="us-east-1", aws_access_key_id="a",
                          aws_secret_access_key="b")  # fmt: skip
    expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=12)
    token = base64.b64encode(b"AWS:public-token").decode()
    with Stubber(client) as stub:
        reply = {"authorizationData": {"authorizationToken": token, "expiresAt": expires}}
        stub.add_response("get_authorization_token", reply, {})
        monkeypatch.setattr(ecr, "_client", lambda target, environ: client)
        found = target_credentials(resolve("ecr", "public.ecr.aws/acme/app"), AWS_KEYS)
    assert (found.username, found.password) == ("AWS", "public-token")
    assert not found.expired() and abs(found.expires_at - expires.timestamp()) < 1  # type: ignore[operator]


def test_ecr_without_aws_credentials_names_the_variables() -> None:
    assert missing("ecr", ECR_PRIVATE, {}) == (
        f"ecr ({ECR_PRIVATE}): no AWS credentials found (set AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (in GitHub Actions: "
        "aws-actions/configure-aws-credentials))"
    )


def test_ecr_access_denied_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    from botocore.stub import Stubber

    from pipeline.push.registries import ecr

    client = boto3.client("ecr", region_name="eu-west-1", aws_access_key_id="a",
                          aws_secret_access_key="b")  # fmt: skip
    monkeypatch.setattr(ecr, "_client", lambda target, environ: client)
    with Stubber(client) as stub:
        stub.add_client_error("get_authorization_token", "AccessDeniedException", "no", 400)
        with pytest.raises(RegistryError) as caught:
            target_credentials(resolve("ecr", ECR_PRIVATE), AWS_KEYS)
    assert not caught.value.transient
    assert "ECR GetAuthorizationToken: AccessDeniedException: no" in str(caught.value)
    with Stubber(client) as stub:
        stub.add_client_error("get_authorization_token", "ThrottlingException", "slow", 400)
        with pytest.raises(RegistryError) as caught:
            target_credentials(resolve("ecr", ECR_PRIVATE), AWS_KEYS)
    assert caught.value.transient


def test_missing_sdk_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # import boto3 now raises ImportError
    message = missing("ecr", ECR_PRIVATE, AWS_KEYS)
    assert "boto3 is not installed" in message and "pip install 'hoist[aws]'" in message


# --- Google GCR / Artifact Registry ----------------------------------------------------------

GAR = "europe-west1-docker.pkg.dev/my-project/images/app"


def test_gcr_access_token_and_json_key(tmp_path: Path) -> None:
    gar = resolve("gcr", GAR)
    token = target_credentials(gar, {"GOOGLE_OAUTH_ACCESS_TOKEN": "ya29.token"})
    assert (token.username, token.password) == ("oauth2accesstoken", "ya29.token")
    key = tmp_path / "key.json"
    key.write_text(json.dumps({"type": "service_account", "project_id": "my-project"}, indent=2))
    json_key = target_credentials(gar, {"GOOGLE_APPLICATION_CREDENTIALS": str(key)})
    assert (json_key.username, json_key.password) == ("_json_key", key.read_text())
    message = missing("gcr", GAR, {"GOOGLE_APPLICATION_CREDENTIALS": str(tmp_path / "nope.json")})
    assert "GOOGLE_APPLICATION_CREDENTIALS=" in message and "is not a readable JSON key" in message


class _FakeGoogleCredentials:
    token = None
    expiry = None

    def refresh(self, request: object) -> None:
        self.token = "ya29.fresh"
        self.expiry = datetime.datetime.utcnow().replace(microsecond=0) + datetime.timedelta(
            hours=1
        )


def test_gcr_default_credentials_give_a_refreshable_token(monkeypatch: pytest.MonkeyPatch) -> None:
    import google.auth

    monkeypatch.setattr(google.auth, "default", lambda scopes: (_FakeGoogleCredentials(), "p"))
    found = target_credentials(resolve("gcr", GAR), {})
    assert (found.username, found.password) == ("oauth2accesstoken", "ya29.fresh")
    assert found.expires_at is not None and 3500 < found.expires_at - time.time() <= 3600


def test_gcr_without_credentials_names_the_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    def nothing(scopes: list[str]) -> None:
        raise DefaultCredentialsError("none")

    monkeypatch.setattr(google.auth, "default", nothing)
    assert missing("gcr", GAR, {}) == (
        f"gcr ({GAR}): no Google credentials found (set GOOGLE_OAUTH_ACCESS_TOKEN (e.g. "
        "`gcloud auth print-access-token`) or GOOGLE_APPLICATION_CREDENTIALS (a key file; in "
        "GitHub Actions google-github-actions/auth))"
    )
    monkeypatch.setitem(sys.modules, "google.auth", None)
    assert "pip install 'hoist[gcp]'" in missing("gcr", GAR, {})


# --- Azure ACR -------------------------------------------------------------------------------

ACR = "hoistdemo.azurecr.io/team/app"


def test_acr_service_principal() -> None:
    environ = {
        "AZURE_CLIENT_ID": "11111111-2222-3333-4444-555555555555",
        "AZURE_CLIENT_SECRET": "s",
    }
    found = target_credentials(resolve("acr", ACR), environ)
    assert (found.username, found.password) == (environ["AZURE_CLIENT_ID"], "s")


class _ExchangeHandler(BaseHTTPRequestHandler):
    forms: list[dict[str, str]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        _ExchangeHandler.forms.append(dict(urllib.parse.parse_qsl(body)))
        reply = json.dumps({"refresh_token": "acr-refresh"}).encode()
        self.send_response(200 if self.path == "/oauth2/exchange" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: object) -> None:
        pass


def test_acr_aad_token_is_exchanged_for_a_refresh_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """Azure AD cannot be reached: a fake credential gives the AAD token, and a local server
    stands in for the registry's /oauth2/exchange (reached through ``endpoint:``)."""
    import azure.identity
    from azure.core.credentials import AccessToken

    class FakeCredential:
        def get_token(self, scope: str) -> AccessToken:
            assert scope == "https://containerregistry.azure.net/.default"
            return AccessToken("aad-token", int(time.time()) + 3600)

    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", FakeCredential)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ExchangeHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        acr = resolve("acr", ACR, endpoint=f"127.0.0.1:{server.server_address[1]}")
        found = target_credentials(acr, {"AZURE_TENANT_ID": "tenant-1"})
    finally:
        server.shutdown()
    assert (found.username, found.password) == (
        "00000000-0000-0000-0000-000000000000",
        "acr-refresh",
    )
    assert _ExchangeHandler.forms[-1] == {
        "grant_type": "access_token",
        "service": "hoistdemo.azurecr.io",
        "access_token": "aad-token",
        "tenant": "tenant-1",
    }


def test_acr_without_credentials_names_the_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    import azure.identity
    from azure.core.exceptions import ClientAuthenticationError

    class NoCredential:
        def get_token(self, scope: str) -> None:
            raise ClientAuthenticationError("nothing configured")

    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", NoCredential)
    assert missing("acr", ACR, {}) == (
        f"acr ({ACR}): no Azure credentials found (set AZURE_CLIENT_ID and AZURE_CLIENT_SECRET "
        "(a service principal with the AcrPush role), or sign in for azure-identity (az login, "
        "workload identity))"
    )
    monkeypatch.setitem(sys.modules, "azure.identity", None)
    message = missing("acr", ACR, {"AZURE_CLIENT_ID": "id"})
    assert "set AZURE_CLIENT_SECRET (a service principal" in message
    assert "pip install 'hoist[azure]'" in message


def test_empty_variables_count_as_missing() -> None:
    """GitHub Actions turns an unset secret into an empty string."""
    empty = {"DOCKERHUB_USERNAME": "acme", "DOCKERHUB_TOKEN": ""}
    assert "set DOCKERHUB_TOKEN (" in missing("dockerhub", "acme/app", empty)
    blank_aws = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_PROFILE": ""}
    assert "no AWS credentials found" in missing("ecr", ECR_PRIVATE, blank_aws)
