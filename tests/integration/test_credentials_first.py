"""Missing or wrong registry credentials are found before the work, not after it.

`invoke ci` as a user runs it, against real htpasswd registries on 127.0.0.1 and the real
engine: a credential that is missing is refused before any stage (exit 2, nothing built); one
that a registry refuses is found by the check that runs beside lint and build, and the run
stops before smoke (exit 1) with nothing pushed to any target — the healthy ones included.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from pipeline.push.registry_server import RegistryServer
from tests.conftest import run_invoke
from tests.integration.test_push_faults import FaultProxy
from tests.support.reliability import RegistryReader

pytestmark = pytest.mark.integration

DOCKERHUB_HINT = "a Docker Hub access token with Read & Write scope"


def image_of(config: Path) -> str:
    return str(yaml.safe_load(config.read_text())["image"])


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("hoist: error")]


@pytest.mark.parametrize("args", [["ci"], ["push", "--skip-smoke"]], ids=["ci", "push-skip"])
def test_a_missing_token_is_refused_before_any_stage(  # type: ignore[no-untyped-def]
    make_app, hoist_state, docker_client, args
):
    config = make_app(
        {"registries": [{"kind": "local"},
                        {"kind": "dockerhub", "name": "hub", "repository": "acme/app"}]}
    )  # fmt: skip
    env = {**hoist_state, "DOCKERHUB_USERNAME": "acme", "DOCKERHUB_TOKEN": ""}

    result = run_invoke(*args, "--config", str(config), env=env)

    assert result.returncode == 2, result.stdout + result.stderr
    assert error_lines(result.stderr) == [
        f"hoist: error: hub (docker.io/acme/app): no credentials (set DOCKERHUB_TOKEN "
        f"({DOCKERHUB_HINT}))"
    ]
    assert "Traceback" not in result.stderr
    assert "==> " not in result.stdout, "a stage started"
    assert docker_client.images.list(name=image_of(config)) == [], "an image was built"
    state = Path(hoist_state["HOIST_STATE_DIR"])
    assert not (state / "reports").exists(), "a report was written: some stage ran"
    assert not (state / "registry").exists(), "the local target started the embedded registry"


@dataclass
class TwoTargets:
    """``healthy`` (Docker Hub naming, right token) first, so it is the one the fan-out would
    push first; ``team`` (generic) with a wrong password. Each is a real registry."""

    config: Path
    env: dict[str, str]
    healthy: RegistryServer
    team: RegistryServer
    wrong_password: str

    def tags(self, server: RegistryServer, repository: str) -> list[str]:
        """What the registry serves, asked with its right credentials (independent of hoist)."""
        return RegistryReader(server.address, server.username, server.password).tags(repository)


@pytest.fixture
def two_targets(make_app, hoist_state, registry_factory) -> TwoTargets:  # type: ignore[no-untyped-def]
    healthy, team = registry_factory(username="acme"), registry_factory(username="ci-user")
    config = make_app(
        {"registries": [
            {"kind": "dockerhub", "name": "healthy", "repository": "acme/app",
             "endpoint": healthy.address},
            {"kind": "generic", "name": "team", "repository": "registry.example.com/team/app",
             "endpoint": team.address},
        ]}
    )  # fmt: skip
    wrong = "wrong-" + team.password
    env = {**hoist_state, "DOCKERHUB_USERNAME": "acme", "DOCKERHUB_TOKEN": healthy.password,
           "REGISTRY_USERNAME": "ci-user", "REGISTRY_PASSWORD": wrong}  # fmt: skip
    return TwoTargets(config, env, healthy, team, wrong)


def last_report(env: dict[str, str]) -> dict:  # type: ignore[type-arg]
    return json.loads((Path(env["HOIST_STATE_DIR"]) / "reports" / "last.json").read_text())


def smoke_containers(docker_client, run_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    label = f"io.hoist.run={run_id}"  # smoke labels every container it starts with the run
    return [c.id for c in docker_client.containers.list(all=True, filters={"label": label})]


REFUSED = (
    "hoist: error: push: refused before any target was pushed: team "
    "(registry.example.com/team/app): the registry refused the credentials from "
    "REGISTRY_USERNAME/REGISTRY_PASSWORD (correct the credentials, or leave team out with --to)"
)


def test_a_wrong_password_stops_the_run_before_smoke_and_nothing_is_pushed_anywhere(  # type: ignore[no-untyped-def]
    two_targets, docker_client
):
    result = run_invoke("ci", "--config", str(two_targets.config), env=two_targets.env)

    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert error_lines(result.stderr) == [REFUSED]
    assert "Traceback" not in result.stderr
    assert "==> smoke" not in result.stdout and "==> push" in result.stdout
    assert "[healthy] credentials accepted by the registry" in result.stdout
    report = last_report(two_targets.env)
    assert [(s["stage"], s["status"]) for s in report["stages"]] == [
        ("lint", "passed"), ("build", "passed"), ("push", "failed")
    ]  # fmt: skip
    assert report["pushes"] == []
    assert smoke_containers(docker_client, report["run_id"]) == []
    assert two_targets.tags(two_targets.healthy, "acme/app") == [], "the healthy target got it"
    assert two_targets.tags(two_targets.team, "team/app") == []
    [row] = [line for line in result.stdout.splitlines() if line.startswith("push ")]
    assert row.split()[:2] == ["push", "failed"] and "team (registry.example.com/team/app)" in row
    for secret in (two_targets.wrong_password, two_targets.healthy.password):
        assert secret not in output and secret not in json.dumps(report)


def test_a_transient_503_is_retried_not_taken_for_wrong_credentials(  # type: ignore[no-untyped-def]
    make_app, hoist_state, registry_factory
):
    """The registry answers 503 first (through a proxy); the check retries as the push would,
    and only the registry's real 401 that follows is a refusal."""
    team = registry_factory(username="ci-user")
    proxy = FaultProxy(team.address, ["503", "503"])
    config = make_app(
        {"registries": [{"kind": "generic", "name": "team", "endpoint": proxy.address,
                         "repository": "registry.example.com/team/app"}]}
    )  # fmt: skip
    env = {**hoist_state, "REGISTRY_USERNAME": "ci-user", "REGISTRY_PASSWORD": "wrong"}
    try:
        result = run_invoke("push", "--skip-smoke", "--config", str(config), env=env)
    finally:
        proxy.close()

    assert result.returncode == 1, result.stdout + result.stderr
    assert proxy.served == ["503", "503"], "a fault did not reach the check"
    assert f"[team credentials] attempt 1 failed (team: /v2/: HTTP 503 from {proxy.address})" in (
        result.stdout
    )
    assert error_lines(result.stderr) == [REFUSED]


def test_to_the_healthy_target_pushes_it_and_leaves_the_bad_one_unasked(  # type: ignore[no-untyped-def]
    two_targets,
):
    result = run_invoke(
        "ci", "--to", "healthy", "--config", str(two_targets.config), env=two_targets.env
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "[team" not in result.stdout, "the target --to left out was checked"
    report = last_report(two_targets.env)
    assert [p["target"] for p in report["pushes"]] == ["healthy"]
    assert "test" in two_targets.tags(two_targets.healthy, "acme/app")
    assert two_targets.tags(two_targets.team, "team/app") == []


def test_no_credentials_anywhere_for_a_registry_that_wants_them_is_a_refusal(  # type: ignore[no-untyped-def]
    make_app, hoist_state, registry_factory, tmp_path
):
    """A generic target with no variables and nothing in docker's store is not "missing" before
    the run (some registries take anonymous pushes); this one wants a login, and says so."""
    team = registry_factory(username="ci-user")
    config = make_app(
        {"registries": [{"kind": "generic", "name": "team", "endpoint": team.address,
                         "repository": "registry.example.com/team/app"}]}
    )  # fmt: skip
    env = {**hoist_state, "DOCKER_CONFIG": str(tmp_path / "empty-docker-config"),
           "REGISTRY_USERNAME": "", "REGISTRY_PASSWORD": ""}  # fmt: skip

    result = run_invoke("push", "--skip-smoke", "--config", str(config), env=env)

    assert result.returncode == 1, result.stdout + result.stderr
    assert error_lines(result.stderr) == [
        "hoist: error: push: refused before any target was pushed: team "
        "(registry.example.com/team/app): the registry wants a login (no credentials were found "
        "for team: set REGISTRY_USERNAME and REGISTRY_PASSWORD, or `invoke login --to team`) "
        "(correct the credentials, or leave team out with --to)"
    ]
    assert last_report(hoist_state)["pushes"] == []
