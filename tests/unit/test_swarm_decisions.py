"""``engine: swarm`` decisions that need no engine: the settings and their one-line mistakes, the
service spec hoist sends, the update order, the registry login header, and how the rollout
watcher reads swarm's task states.

The rollout itself (tasks started, gated by their HEALTHCHECK, rolled back) is only tested
against a real swarm, in tests/integration/test_swarm_deploy.py. The task dicts below are in
the shape the Engine API returns them (``GET /tasks``), as that test saw them.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from pipeline.deploy.engines import OPENERS
from pipeline.deploy.release import Release
from pipeline.deploy.rollout import (
    Goal,
    Outcome,
    Progress,
    Snapshot,
    failed_task,
    judge,
    stuck,
    task_rows,
    why_ended,
)
from pipeline.deploy.settings import DeployEnvironment
from pipeline.deploy.spec import AppEnvironment, deploy_labels
from pipeline.deploy.swarm_api import registry_auth
from pipeline.deploy.swarm_settings import ENGINES
from pipeline.deploy.swarm_spec import (
    SecretRef,
    check_room,
    healthcheck,
    restart_condition,
    service_spec,
    update_order,
)
from pipeline.errors import ConfigError, DeployError
from pipeline.project import load_config

DIGEST = "sha256:" + "ab" * 32
OLD = "sha256:" + "cd" * 32
BASE = """\
image: team/node-app
build: {context: app}
smoke: {port: 3000, path: /healthz, timeout: 20}
registries:
  - {kind: generic, name: main, repository: registry.example.com/team/app}
"""
SWARM = (
    BASE
    + """\
deploy:
  production:
    engine: swarm
    host: ssh://deploy@manager.example.com
    container: web
    replicas: 3
    publish: host
    ports: ["8080:3000"]
    port_env: PORT
    env_file: production.env
    env: {LOG_LEVEL: info}
    restart: unless-stopped
    memory: 256m
    cpus: 0.5
    stop_timeout: 20
    health: {path: /healthz, interval: 2, retries: 4, start_period: 15, check_timeout: 6}
    update: {parallelism: 1, monitor: 8, timeout: 300}
  mesh:
    engine: swarm
    container: mesh
"""
)
IMAGE_CHECK = {
    "Test": ["CMD", "node", "-e", "check()"],
    "Interval": 5 * 10**9,
    "Timeout": 3 * 10**9,
    "StartPeriod": 5 * 10**9,
    "Retries": 3,
}


def load(tmp_path: Path, text: str) -> dict[str, DeployEnvironment]:
    (tmp_path / "app").mkdir(exist_ok=True)
    (tmp_path / "app" / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "pipeline.yaml").write_text(text)
    return load_config(tmp_path / "pipeline.yaml").deploy


@pytest.fixture
def production(tmp_path: Path) -> DeployEnvironment:
    return load(tmp_path, SWARM)["production"]


@pytest.fixture
def mesh(tmp_path: Path) -> DeployEnvironment:
    return load(tmp_path, SWARM)["mesh"]


# --- settings ---------------------------------------------------------------------------------


def test_every_engine_name_has_a_target() -> None:
    assert set(OPENERS) == set(ENGINES)


def test_a_swarm_environment_loads(production: DeployEnvironment) -> None:
    assert production.engine == "swarm"
    swarm = production.swarm
    assert swarm is not None
    assert (swarm.replicas, swarm.publish, swarm.endpoint_mode) == (3, "host", "dnsrr")
    assert (swarm.update.parallelism, swarm.update.monitor, swarm.update.order) == (1, 8.0, "auto")
    assert swarm.update.timeout == 300.0
    assert (swarm.health.interval, swarm.health.retries) == (2.0, 4)
    assert (swarm.health.start_period, swarm.health.check_timeout) == (15.0, 6.0)


def test_swarm_defaults_are_the_mesh_one_replica_and_the_image_timing(
    mesh: DeployEnvironment,
) -> None:
    swarm = mesh.swarm
    assert swarm is not None
    assert (swarm.replicas, swarm.publish, swarm.endpoint_mode) == (1, "ingress", "vip")
    assert swarm.health.interval is None and swarm.health.retries is None


def test_the_default_engine_is_a_container(tmp_path: Path) -> None:
    environment = load(tmp_path, BASE + "deploy: {prod: {ports: ['80:3000']}}\n")["prod"]
    assert (environment.engine, environment.swarm) == ("container", None)


@pytest.mark.parametrize(
    ("deploy", "message"),
    [
        ("{prod: {engine: nomad}}", "deploy.prod.engine: 'nomad' is not a deploy engine"),
        ("{prod: {replicas: 2}}", "deploy.prod.replicas: only with engine: swarm"),
        ("{prod: {update: {monitor: 5}}}", "deploy.prod.update: only with engine: swarm"),
        ("{prod: {health: {retries: 2}}}", "deploy.prod.health.retries: only with engine: swarm"),
        ("{prod: {engine: swarm, probe_port: 81}}",
         "deploy.prod.probe_port: only with engine: container"),
        ("{prod: {engine: swarm, network: host}}",
         "deploy.prod.network: network: host is for engine: container"),
        ("{prod: {engine: swarm, ports: ['127.0.0.1:80:3000']}}",
         "deploy.prod.ports: '127.0.0.1:80:3000': swarm publishes a port on every interface"),
        ("{prod: {engine: swarm, container: my_app}}",
         "deploy.prod.container: 'my_app' is not a swarm service name"),
        ("{prod: {engine: swarm, publish: mesh}}", "deploy.prod.publish: 'mesh' is not a publish"),
        ("{prod: {engine: swarm, replicas: 0}}", "deploy.prod.replicas: must be between 1 and"),
        ("{prod: {engine: swarm, update: {order: rolling}}}",
         "deploy.prod.update.order: 'rolling' is not an update order"),
        ("{prod: {engine: swarm, update: {pause: 1}}}", "deploy.prod.update.pause: unknown key"),
        ("{prod: {engine: swarm, health: {interval: 0}}}",
         "deploy.prod.health.interval: must be between 0.5"),
    ],
)  # fmt: skip
def test_each_swarm_mistake_is_one_line_naming_the_field(
    tmp_path: Path, deploy: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, BASE + f"deploy: {deploy}\n")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


# --- the service spec -------------------------------------------------------------------------


def spec_of(env: DeployEnvironment, check: dict[str, Any] | None = None) -> dict[str, Any]:
    release = Release("registry.example.com/team/app", "registry.example.com/team/app", DIGEST,
                      "main", "run-1", "f" * 40)  # fmt: skip
    labels = deploy_labels(env, release, "deploy-1", datetime(2026, 1, 1, tzinfo=timezone.utc))
    secrets = [SecretRef("DB_PASSWORD", "s1", "web-DB_PASSWORD-deploy-1")]
    return service_spec(env, release.reference, labels, check or {}, secrets, "start-first")


def test_the_spec_runs_the_digest_with_secrets_as_files(production: DeployEnvironment) -> None:
    spec = spec_of(production)
    container = spec["TaskTemplate"]["ContainerSpec"]
    assert container["Image"] == f"registry.example.com/team/app@{DIGEST}"
    assert container["Env"] == [
        "DB_PASSWORD_FILE=/run/secrets/DB_PASSWORD", "PORT=3000", "LOG_LEVEL=info",
    ]  # fmt: skip
    assert container["Secrets"] == [
        {"File": {"Name": "DB_PASSWORD", "UID": "0", "GID": "0", "Mode": 0o444},
         "SecretID": "s1", "SecretName": "web-DB_PASSWORD-deploy-1"},
    ]  # fmt: skip
    assert container["StopGracePeriod"] == 20 * 10**9
    assert container["Labels"]["io.hoist.deploy"] == "deploy-1"
    assert spec["Labels"]["io.hoist.digest"] == DIGEST
    assert spec["Name"] == "web"
    assert spec["Mode"] == {"Replicated": {"Replicas": 3}}
    assert spec["TaskTemplate"]["RestartPolicy"] == {"Condition": "any"}
    assert spec["TaskTemplate"]["Resources"]["Limits"] == {
        "MemoryBytes": 256 * 1024**2, "NanoCPUs": 500_000_000,
    }  # fmt: skip
    assert "Networks" not in spec["TaskTemplate"]


def test_updates_roll_back_on_failure_and_rollbacks_pause(production: DeployEnvironment) -> None:
    spec = spec_of(production)
    assert spec["UpdateConfig"] == {
        "Parallelism": 1, "Monitor": 8 * 10**9, "MaxFailureRatio": 0, "Order": "start-first",
        "FailureAction": "rollback",
    }  # fmt: skip
    assert spec["RollbackConfig"]["FailureAction"] == "pause"
    assert spec["RollbackConfig"]["Order"] == "start-first"


def test_ports_follow_the_publish_mode(
    production: DeployEnvironment, mesh: DeployEnvironment
) -> None:
    assert spec_of(production)["EndpointSpec"] == {
        "Mode": "dnsrr",
        "Ports": [{"Protocol": "tcp", "TargetPort": 3000, "PublishedPort": 8080,
                   "PublishMode": "host"}],
    }  # fmt: skip
    endpoint = spec_of(mesh)["EndpointSpec"]
    assert endpoint["Mode"] == "vip" and endpoint["Ports"][0]["PublishMode"] == "ingress"


@pytest.mark.parametrize(
    ("restart", "policy"),
    [("no", {"Condition": "none"}), ("always", {"Condition": "any"}),
     ("unless-stopped", {"Condition": "any"}), ("on-failure", {"Condition": "on-failure"}),
     ("on-failure:5", {"Condition": "on-failure", "MaxAttempts": 5})],
)  # fmt: skip
def test_restart_policies_in_swarm_terms(restart: str, policy: dict[str, Any]) -> None:
    assert restart_condition(restart) == policy


def test_the_images_healthcheck_with_the_environments_timing(
    production: DeployEnvironment, mesh: DeployEnvironment
) -> None:
    check, source = healthcheck({"Healthcheck": IMAGE_CHECK}, production)
    assert source == "the image's HEALTHCHECK"
    assert check == {
        "Test": IMAGE_CHECK["Test"], "Interval": 2 * 10**9, "Timeout": 6 * 10**9,
        "StartPeriod": 15 * 10**9, "Retries": 4,
    }  # fmt: skip
    assert healthcheck({"Healthcheck": IMAGE_CHECK}, mesh)[0] == IMAGE_CHECK  # nothing overridden


@pytest.mark.parametrize("image_check", [None, {"Test": ["NONE"]}])
def test_without_one_the_health_section_becomes_the_healthcheck(
    mesh: DeployEnvironment, image_check: dict[str, Any] | None
) -> None:
    check, source = healthcheck({"Healthcheck": image_check}, mesh)
    assert source == "deploy.mesh.health (GET /healthz on port 3000)"
    assert check["Test"][0] == "CMD-SHELL"
    probe = check["Test"][1]
    assert "http://127.0.0.1:3000/healthz" in probe and "curl" in probe and "node -e" in probe
    assert check["StartPeriod"] == 20 * 10**9  # the health timeout: time allowed to get healthy
    assert (check["Interval"], check["Retries"]) == (5 * 10**9, 3)


# --- the order and the room for tasks ---------------------------------------------------------


def test_start_first_when_a_free_node_is_left(production: DeployEnvironment) -> None:
    assert update_order(production, 4)[0] == "start-first"  # 3 replicas + 1 at a time


def test_stop_first_when_host_ports_are_taken_on_every_node(production: DeployEnvironment) -> None:
    order, why = update_order(production, 3)
    assert order == "stop-first"
    assert "host-mode port 8080 is taken" in why


def test_the_mesh_always_starts_first(mesh: DeployEnvironment) -> None:
    assert update_order(mesh, 1)[0] == "start-first"


def test_start_first_that_cannot_fit_is_refused(tmp_path: Path) -> None:
    text = SWARM.replace("update: {parallelism: 1,", "update: {order: start-first, parallelism: 1,")
    production = load(tmp_path, text)["production"]
    with pytest.raises(DeployError, match="start-first with host-mode port 8080 needs 4 ready"):
        update_order(production, 3)


def test_more_host_mode_replicas_than_nodes_are_refused(production: DeployEnvironment) -> None:
    check_room(production, 3)
    with pytest.raises(DeployError, match="3 replicas with host-mode port 8080 need 3 ready"):
        check_room(production, 2)


def test_the_registry_login_goes_in_one_header_for_that_registry() -> None:
    headers = registry_auth(
        {"username": "ci", "password": "s3cret"}, f"r.example.com:5000/app@{DIGEST}"
    )
    decoded = json.loads(base64.urlsafe_b64decode(headers["X-Registry-Auth"]))
    assert decoded == {
        "username": "ci",
        "password": "s3cret",
        "serveraddress": "r.example.com:5000",
    }
    assert registry_auth(None, "r.example.com/app") == {}


def test_env_file_values_and_env_are_kept_apart() -> None:
    environment = AppEnvironment({"A": "from file", "B": "file"}, {"B": "plain"})
    assert environment.merged() == {"A": "from file", "B": "plain"}


# --- the rollout watcher ----------------------------------------------------------------------


def task(
    slot: int, state: str, deploy: str, *, desired: str = "running", node: str = "n1",
    err: str = "", exit_code: int | None = None, task_id: str = "",
) -> dict[str, Any]:  # fmt: skip
    status: dict[str, Any] = {"State": state, "Timestamp": f"2026-01-01T00:00:0{slot}.5Z"}
    if err:
        status["Err"] = err
    if exit_code is not None:
        status["ContainerStatus"] = {"ExitCode": exit_code}
    digest = DIGEST if deploy == "new" else OLD
    return {
        "ID": task_id or f"{deploy}{slot}{state}".ljust(25, "x")[:25],
        "Slot": slot,
        "NodeID": node,
        "DesiredState": desired,
        "Spec": {"ContainerSpec": {"Image": f"r/app@{digest}",
                                   "Labels": {"io.hoist.deploy": deploy}}},
        "Status": status,
    }  # fmt: skip


NEW = Goal("new", DIGEST, 2, "new", "completed")
FIRST = Goal("new", DIGEST, 2, "new", "")


def snapshot(tasks: list[dict[str, Any]], state: str = "", message: str = "") -> Snapshot:
    return Snapshot(task_rows(tasks, {"n1": "node-1", "n2": "node-2"}, "web"), state, message)


def test_done_only_when_every_task_runs_new_and_swarm_completed() -> None:
    both_new = [task(1, "running", "new"), task(2, "running", "new")]
    assert judge(snapshot(both_new, "updating"), NEW) is None  # swarm still monitors
    assert judge(snapshot(both_new, "completed"), NEW) == "done"
    stopping_old = [*both_new, task(2, "running", "old", desired="shutdown")]
    assert judge(snapshot(stopping_old, "completed"), NEW) is None  # the old one still serves
    assert judge(snapshot(both_new), FIRST) == "done"  # a new service: no update status


def test_swarm_rolling_back_is_watched_to_its_end() -> None:
    tasks = [task(1, "running", "old"), task(2, "starting", "new", desired="shutdown")]
    assert judge(snapshot(tasks, "rollback_started"), NEW) is None
    assert judge(snapshot(tasks, "rollback_completed"), NEW) == "rolled_back"
    assert judge(snapshot(tasks, "rollback_paused"), NEW) == "paused"


def test_a_new_services_failed_task_ends_the_first_deploy() -> None:
    tasks = [task(1, "running", "new"), task(2, "failed", "new", err="task: non-zero exit (1)")]
    assert judge(snapshot(tasks), FIRST) == "failed"


def test_the_failed_task_is_the_one_swarm_names() -> None:
    named = task(2, "complete", "new", exit_code=0, task_id="q" * 25)
    tasks = [task(1, "failed", "new", err="task: non-zero exit (137)"), named]
    message = f"update rolled back due to failure or early termination of task {'q' * 25}"
    outcome = Outcome("rolled_back", snapshot(tasks), 1.0, messages=("update in progress", message))
    row = failed_task(outcome, NEW)
    assert row is not None and row.name == "web.2"
    earliest = failed_task(Outcome("rolled_back", snapshot(tasks), 1.0), NEW)
    assert earliest is not None and earliest.name == "web.1"


def test_why_a_task_ended() -> None:
    unhealthy = task_rows([task(1, "complete", "new", exit_code=0)], {}, "web")[0]
    assert (
        why_ended(unhealthy, ran=False)
        == "stopped before its HEALTHCHECK passed (complete, exit code 0)"
    )
    assert why_ended(unhealthy, ran=True) == "stopped after it was running (complete, exit code 0)"
    failed = task_rows([task(1, "failed", "new", err="No such image: r/app")], {}, "web")[0]
    assert why_ended(failed, ran=False) == "failed: No such image: r/app"


def test_what_a_stuck_rollout_waits_for() -> None:
    pending = task(2, "pending", "new", err="no suitable node (host-mode port already in use)")
    assert stuck(snapshot([task(1, "running", "new"), pending]), NEW) == (
        "web.2 pending: no suitable node (host-mode port already in use)"
    )


def test_progress_prints_each_task_change_and_the_count() -> None:
    lines: list[str] = []
    progress = Progress(NEW, lines.append)
    progress.show(snapshot([task(1, "running", "old"), task(1, "starting", "new", node="n2")]))
    moved = [task(1, "running", "old", desired="shutdown"), task(1, "running", "new", node="n2")]
    progress.show(snapshot(moved, "updating", "update in progress"))
    assert lines == [
        f"  web.1 on node-1: running (old {OLD[:19]}…)",
        f"  web.1 on node-2: starting (new {DIGEST[:19]}…)",
        "0/2 running new digest",
        f"  web.1 on node-1: running, told to stop (old {OLD[:19]}…)",
        f"  web.1 on node-2: running (new {DIGEST[:19]}…)",
        "1/2 running new digest",
        "swarm: updating: update in progress",
    ]


def test_a_start_first_task_held_back_is_not_told_to_stop() -> None:
    held = task_rows([task(1, "pending", "new", desired="ready")], {}, "web")[0]
    going = task_rows([task(1, "running", "old", desired="shutdown")], {}, "web")[0]
    assert (held.stopping, going.stopping) == (False, True)
