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

import functools
import json
import os
import secrets
import signal
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from pipeline.errors import EXIT_USAGE, RegistryError, StageFailed
from pipeline.lint.findings import LintResult
from pipeline.project import load_config
from pipeline.push.registries import credential_check
from pipeline.push.registries.base import TargetConfig
from pipeline.push.registries.credential_check import CredentialCheck, Verdict, check_target
from pipeline.push.registries.kinds import (
    Credentials,
    MissingCredentials,
    Target,
    check_targets,
    resolve_target,
)
from pipeline.push.registries.retry import RetryPolicy
from pipeline.push.registry_server import free_port
from pipeline.result import Status
from pipeline.run import steps
from pipeline.run.options import STAGES, RunOptions
from pipeline.run.runner import Runner
from pipeline.secrets import mask_secret

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


# --- beside lint and build: what each answer means -------------------------------------------
#
# The registries themselves are asked in tests/integration/test_credentials_first.py. Here the
# kind's credential source stands in for a cloud token service (the only thing mocked), and
# the "registry" is a real socket: a port nothing listens on, or an HTTP server that is not a
# registry.

FAST = RetryPolicy(attempts=3, initial=0.01, max_wait=0.02)


def nowhere() -> str:
    """127.0.0.1:PORT with nothing listening: every connection is refused."""
    return f"127.0.0.1:{free_port()}"


def hub(endpoint: str | None = None, name: str = "hub") -> Target:
    return resolve_target(TargetConfig("dockerhub", name, "acme/app", endpoint), "app", {})


def fetching(monkeypatch, *outcomes):  # type: ignore[no-untyped-def]
    """The kind's credential source answers with ``outcomes`` in turn (the last repeats)."""
    calls: list[int] = []

    def fetch(target: Target, environ: object) -> Credentials:
        calls.append(1)
        outcome = outcomes[min(len(calls), len(outcomes)) - 1]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    monkeypatch.setattr(credential_check, "target_credentials", fetch)
    return calls


def test_a_credential_source_that_refuses_is_a_refusal(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A key the cloud rejects or no identity in its chain: no retry would change it, and the
    push would fail the same way after smoke."""
    rejected = RegistryError("ecr", "ECR GetAuthorizationToken: UnrecognizedClientException: "
                             "The security token included in the request is invalid",
                             transient=False)  # fmt: skip
    calls = fetching(monkeypatch, rejected)
    verdict = check_target(hub(nowhere(), "ecr"), {}, print, FAST, threading.Event())
    assert (verdict.verdict, verdict.attempts, len(calls)) == (Verdict.REFUSED, 1, 1)
    assert verdict.reason == str(rejected)

    fetching(monkeypatch, MissingCredentials("ecr (r): no AWS credentials found", hint="set X"))
    verdict = check_target(hub(nowhere(), "ecr"), {}, print, FAST, threading.Event())
    assert verdict.verdict is Verdict.REFUSED
    assert verdict.reason == "ecr (r): no AWS credentials found (set X)"


def test_a_registry_that_cannot_be_reached_is_left_to_the_push(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Connection refused is transient: retried like the push retries it, then unchecked —
    never taken for wrong credentials."""
    fetching(monkeypatch, Credentials("acme", "right-or-wrong", source="DOCKERHUB_TOKEN"))
    lines: list[str] = []
    target = hub(nowhere())
    verdict = check_target(target, {}, lines.append, FAST, threading.Event())
    assert (verdict.verdict, verdict.attempts) == (Verdict.UNCHECKED, FAST.attempts)
    assert verdict.reason == (
        f"hub: cannot reach {target.endpoint}: connection refused (gave up after 3 attempts)"
    )
    assert [line.split(" failed")[0] for line in lines] == [
        "[hub credentials] attempt 1",
        "[hub credentials] attempt 2",
    ]


def test_a_transient_credential_source_is_retried(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    throttled = RegistryError(
        "ecr", "ECR GetAuthorizationToken: ThrottlingException", transient=True
    )
    calls = fetching(monkeypatch, throttled, throttled, MissingCredentials("ecr: no identity"))
    verdict = check_target(hub(nowhere(), "ecr"), {}, print, FAST, threading.Event())
    assert (verdict.verdict, verdict.attempts, len(calls)) == (Verdict.REFUSED, 3, 3)


def test_an_answer_that_is_not_a_registrys_is_left_to_the_push(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A plain web server answers /v2/ with 404: not a refusal of the credentials."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    environ = {"DOCKERHUB_USERNAME": "acme", "DOCKERHUB_TOKEN": "tok3n-value"}
    try:
        target = hub(f"127.0.0.1:{server.server_address[1]}")
        verdict = check_target(target, environ, print, FAST, threading.Event())
    finally:
        server.shutdown()
    assert (verdict.verdict, verdict.attempts) == (Verdict.UNCHECKED, 1)
    assert verdict.reason == f"hub: /v2/: HTTP 404 from {target.endpoint}: not a registry's answer"


def test_known_secrets_never_reach_a_reason(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    secret = "s3cret-" + secrets.token_hex(8)
    mask_secret(secret)  # what credential discovery does with every secret it obtains
    fetching(monkeypatch, RegistryError("acr", f"exchange refused {secret}", transient=False))
    verdict = check_target(hub(nowhere(), "acr"), {}, print, FAST, threading.Event())
    assert secret not in verdict.reason and "exchange refused ***" in verdict.reason


def test_a_surprise_is_left_to_the_push_and_an_interrupt_ends_the_backoff(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    fetching(monkeypatch, TypeError("an SDK changed its mind"))
    verdict = check_target(hub(nowhere()), {}, print, FAST, threading.Event())
    assert verdict.verdict is Verdict.UNCHECKED
    assert verdict.reason == "hub: TypeError: an SDK changed its mind"

    fetching(monkeypatch, RegistryError("hub", "HTTP 503", transient=True))
    stop = threading.Event()
    stop.set()
    patient = RetryPolicy(attempts=5, initial=30, max_wait=60)
    started = time.monotonic()
    verdict = check_target(hub(nowhere()), {}, print, patient, stop)
    assert time.monotonic() - started < 5, "the backoff did not end on the interrupt"
    assert (verdict.verdict, verdict.reason) == (Verdict.UNCHECKED, "hub: the run was interrupted")


def test_every_target_is_checked_at_once_from_the_start(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The check runs as soon as it is made (the runner makes it when the run starts), each
    target in its own thread; ``wait`` gives the verdicts in the order of the targets."""
    release, asked = threading.Event(), threading.Semaphore(0)

    def fetch(target: Target, environ: object) -> Credentials:
        asked.release()
        release.wait(10)
        raise MissingCredentials(f"{target.name}: none")

    monkeypatch.setattr(credential_check, "target_credentials", fetch)
    check = CredentialCheck([hub(nowhere(), "a"), hub(nowhere(), "b")], {}, print, FAST)
    assert asked.acquire(timeout=5) and asked.acquire(timeout=5), "not both asked at once"
    assert check.pending() == ["a", "b"]
    release.set()
    assert [(v.target, v.verdict) for v in check.wait()] == [
        ("a", Verdict.REFUSED), ("b", Verdict.REFUSED)
    ]  # fmt: skip
    assert check.pending() == []


# --- the runner's gate -----------------------------------------------------------------------


@pytest.fixture
def runner(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """A runner of a project pushing to two Docker Hub look-alikes that nothing serves, its
    stages replaced by stand-ins that record they ran (the engine is not the point here)."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "pipeline.yaml").write_text(yaml.safe_dump({
        "image": "app", "build": {"context": "app"},
        "registries": [
            {"kind": "dockerhub", "name": "healthy", "repository": "acme/app",
             "endpoint": nowhere()},
            {"kind": "dockerhub", "name": "wrong", "repository": "acme/other",
             "endpoint": nowhere()},
        ],
    }))  # fmt: skip
    config = load_config(tmp_path / "pipeline.yaml")
    environ = {"DOCKERHUB_USERNAME": "acme", "DOCKERHUB_TOKEN": "tok3n"}
    made = Runner(config, RunOptions(), environ, print)
    made.ran = []  # type: ignore[attr-defined]
    for stage in STAGES:
        monkeypatch.setattr(made, f"_{stage}", functools.partial(stand_in, made, stage))
    monkeypatch.setattr(steps, "tag_step", lambda client, built: None)
    return made


def stand_in(runner: Runner, stage: str, *inputs: object) -> SimpleNamespace:
    """A step that records it ran and passes (lint: one tool, no finding)."""
    runner.ran.append(stage)  # type: ignore[attr-defined]
    result = LintResult([], [stage], [])
    return SimpleNamespace(status=Status.PASSED, summary=stage, cached=None, result=result,
                           key=stage, image=None, cache=None)  # fmt: skip


def test_a_refusal_stops_the_run_before_smoke_as_a_failed_push(runner, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    asked = threading.Event()

    def fetch(target: Target, environ: object) -> Credentials:
        asked.set()
        if target.name == "wrong":
            raise RegistryError("wrong", "token: HTTP 401 from registry", transient=False)
        raise RegistryError("healthy", "cannot reach it", transient=True)

    def lint(log: object) -> SimpleNamespace:  # the check runs beside lint: asked before it ends
        assert asked.wait(10), "the credential check did not run while lint ran"
        return stand_in(runner, "lint")

    monkeypatch.setattr(credential_check, "target_credentials", fetch)
    monkeypatch.setattr(runner, "_lint", lint)

    with pytest.raises(StageFailed) as caught:
        runner.run(runner.check_inputs())

    assert sorted(runner.ran) == ["build", "lint"], "smoke or push ran"
    assert [(s.stage, s.status) for s in runner.report.stages] == [
        ("lint", Status.PASSED), ("build", Status.PASSED), ("push", Status.FAILED)
    ]  # fmt: skip
    assert str(caught.value) == (
        "push: refused before any target was pushed: wrong: token: HTTP 401 from registry "
        "(correct the credentials, or leave wrong out with --to)"
    )
    assert runner.report.error == str(caught.value)


def test_unchecked_targets_go_on_to_smoke_and_push(runner, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    lines: list[str] = []
    runner.log = lines.append
    fetching(monkeypatch, RegistryError("x", "cannot reach it", transient=True))
    monkeypatch.setattr(credential_check, "RetryPolicy", lambda: FAST)
    runner.run()
    assert sorted(runner.ran) == sorted(STAGES)  # lint beside build and smoke
    assert [s.stage for s in runner.report.stages] == list(STAGES)
    assert sum("credentials not checked (x: cannot reach it (gave up after 3 attempts)); "
               "the push will try" in line for line in lines) == 2  # fmt: skip


def test_to_leaves_the_other_targets_unasked(runner, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    asked: list[str] = []

    def fetch(target: Target, environ: object) -> Credentials:
        asked.append(target.name)
        raise RegistryError(target.name, "HTTP 401", transient=False)

    monkeypatch.setattr(credential_check, "target_credentials", fetch)
    runner.options = RunOptions(targets=("healthy",))
    with pytest.raises(StageFailed, match="leave healthy out"):
        runner.run()
    assert asked == ["healthy"]


def test_an_interrupt_while_waiting_is_recorded_as_push_and_stops_the_check(  # type: ignore[no-untyped-def]
    runner, monkeypatch
):
    stopped = threading.Event()

    def sleepy_retrying(policy, label, log, stop, scrub=str):  # type: ignore[no-untyped-def]
        stop.wait(10)  # a backoff that only an interrupt ends
        stopped.set()
        raise credential_check.Stopped(label)

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(credential_check, "retrying", sleepy_retrying)
    previous = signal.signal(signal.SIGALRM, lambda *a: (_ for _ in ()).throw(KeyboardInterrupt))
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    try:
        with pytest.raises(KeyboardInterrupt):
            runner.run()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)

    assert sorted(runner.ran) == ["build", "lint"]
    assert (runner.report.stages[-1].stage, runner.report.stages[-1].status) == (
        "push", Status.INTERRUPTED
    )  # fmt: skip
    assert runner.report.error == "interrupted by SIGINT"
    assert stopped.wait(5), "the check's threads were not told to stop"
