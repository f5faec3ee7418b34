"""Credentials are found wanting before the work, not after it.

Before any stage (``check_targets``): a credential that is missing — as far as can be known
without a network call, a credential helper run or any other side effect — is refused with
one line naming the target and the variables, exit code 2. What only the registry or a
cloud's token service can tell is left to the check that runs beside lint and build (tested
at the end of this module and, against real registries, in
tests/integration/test_credentials_first.py).

Cloud token services cannot be reached from here; the SDKs' default chains are replaced by
objects that fail the test if they are called at all: the point is that they are not.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from pipeline.config import TargetConfig
from pipeline.errors import EXIT_USAGE
from pipeline.registries import MissingCredentials, check_targets

ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app"
GAR = "europe-west1-docker.pkg.dev/my-project/images/app"
ACR = "hoistdemo.azurecr.io/team/app"


@pytest.fixture(autouse=True)
def clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the user's docker config, cloud config files and state dir out of every test."""
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    monkeypatch.setenv("HOIST_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)


def config(kind: str, repository: str | None = None, name: str | None = None) -> TargetConfig:
    return TargetConfig(kind=kind, name=name or kind, repository=repository)


def refused(configs: list[TargetConfig], environ: dict[str, str], wanted=()) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(MissingCredentials) as caught:
        check_targets(configs, wanted, "app", environ)
    assert caught.value.exit_code == EXIT_USAGE == 2
    assert "\n" not in str(caught.value)
    return str(caught.value)


# --- missing, before any stage ---------------------------------------------------------------


def test_dockerhub_without_its_token_names_the_target_and_the_variable() -> None:
    assert refused([config("dockerhub", "acme/app", "hub")], {"DOCKERHUB_USERNAME": "acme"}) == (
        "hub (docker.io/acme/app): no credentials (set DOCKERHUB_TOKEN (a Docker Hub access "
        "token with Read & Write scope))"
    )


@pytest.mark.parametrize(
    ("kind", "repository", "environ", "words"),
    [
        ("ghcr", "ghcr.io/acme/app", {"GITHUB_ACTOR": "octocat"}, "set GITHUB_TOKEN ("),
        ("quay", "quay.io/acme/app", {"QUAY_USERNAME": "acme+ci"}, "set QUAY_PASSWORD ("),
        ("quay", "quay.io/acme/app", {"QUAY_USERNAME": "other+ci", "QUAY_PASSWORD": "t"},
         "robot other+ci belongs to other, not acme"),
        ("generic", "r.example.com/a/b", {"REGISTRY_USERNAME": "u"}, "set REGISTRY_PASSWORD ("),
        ("generic", "r.example.com/a/b", {"REGISTRY_PASSWORD": "p"}, "set REGISTRY_USERNAME ("),
        ("ecr", ECR, {"AWS_ACCESS_KEY_ID": "AKID"}, "half an AWS access key (set "
         "AWS_SECRET_ACCESS_KEY too)"),
        ("ecr", ECR, {"AWS_SECRET_ACCESS_KEY": "k"}, "(set AWS_ACCESS_KEY_ID too)"),
        ("ecr", ECR, {"AWS_PROFILE": "nobody"}, "The config profile (nobody) could not be found"),
        ("gcr", GAR, {"GOOGLE_APPLICATION_CREDENTIALS": "/nonexistent/key.json"},
         "GOOGLE_APPLICATION_CREDENTIALS=/nonexistent/key.json is not a readable JSON key"),
    ],
)  # fmt: skip
def test_what_is_missing_without_asking_anyone(  # type: ignore[no-untyped-def]
    kind, repository, environ, words
) -> None:
    message = refused([config(kind, repository)], environ)
    assert message.startswith(f"{kind} (")
    assert words in message


@pytest.mark.parametrize(
    ("kind", "repository", "module", "extra"),
    [("ecr", ECR, "boto3", "aws"), ("gcr", GAR, "google.auth", "gcp"),
     ("acr", ACR, "azure.identity", "azure")],
)  # fmt: skip
def test_a_missing_sdk_is_missing_credentials(  # type: ignore[no-untyped-def]
    monkeypatch, kind, repository, module, extra
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # importing it now raises ImportError
    message = refused([config(kind, repository)], {})
    assert f"{module.split('.')[0]} is not installed" in message
    assert f"pip install 'hoist[{extra}]'" in message


def test_cloud_default_chains_are_not_asked_before_the_run(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """No variables for ecr, gcr, acr: only a call to AWS, Google or Azure could tell whether
    an instance role, workload identity or ``az login`` provides credentials. Not missing,
    then — and nothing is called to find out (each chain fails the test if it is)."""
    import azure.identity
    import boto3
    import google.auth

    def called(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cloud credential chain was asked before the run")

    monkeypatch.setattr(google.auth, "default", called)
    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", called)
    monkeypatch.setattr(boto3.session.Session, "get_credentials", called)
    configs = [config("ecr", ECR), config("gcr", GAR), config("acr", ACR)]
    resolved = check_targets(configs, (), "app", {"AZURE_CLIENT_ID": "id-for-workload-identity"})
    assert [t.name for t in resolved] == ["ecr", "gcr", "acr"]


def test_explicit_cloud_credentials_pass(tmp_path: Path) -> None:
    key = tmp_path / "key.json"
    key.write_text(json.dumps({"type": "service_account", "project_id": "my-project"}))
    environ = {"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "k",
               "GOOGLE_APPLICATION_CREDENTIALS": str(key),
               "AZURE_CLIENT_ID": "id", "AZURE_CLIENT_SECRET": "s"}  # fmt: skip
    configs = [config("ecr", ECR), config("gcr", GAR), config("acr", ACR)]
    assert len(check_targets(configs, (), "app", environ)) == 3


def test_generic_does_not_run_the_credential_helper_before_the_run(  # type: ignore[no-untyped-def]
    tmp_path, monkeypatch
) -> None:
    """With no variables a generic target reads docker's store — at push time. A helper is a
    program (it may unlock a keyring or call a cloud): not run before the run, and an empty
    store is not "missing" (an anonymous push is allowed; the registry is asked beside lint)."""
    bin_dir, ran = tmp_path / "bin", tmp_path / "helper-ran"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-hoisttest"
    helper.write_text(f"#!/bin/sh\ntouch {ran}\necho '{{}}'\n")
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    docker = Path(os.environ["DOCKER_CONFIG"])
    docker.mkdir()
    (docker / "config.json").write_text(json.dumps({"credsStore": "hoisttest"}))

    [target] = check_targets([config("generic", "r.example.com/a/b")], (), "app", {})

    assert target.repository == "r.example.com/a/b"
    assert not ran.exists(), "the credential helper ran before the run"


def test_local_is_checked_without_starting_the_embedded_registry() -> None:
    assert check_targets([config("local")], (), "app", {}) == []
    assert not (Path(os.environ["HOIST_STATE_DIR"]) / "registry").exists()


def test_to_limits_the_check_to_the_chosen_targets() -> None:
    configs = [config("dockerhub", "acme/app", "hub"), config("generic", "r.example.com/a/b")]
    environ = {"REGISTRY_USERNAME": "u", "REGISTRY_PASSWORD": "p"}
    assert [t.name for t in check_targets(configs, ("generic",), "app", environ)] == ["generic"]
    assert refused(configs, environ, ("hub",)).startswith("hub (docker.io/acme/app): ")
