"""`invoke deploy | rollback | status` with ``engine: swarm`` against a real three-node swarm.

Nothing is mocked: three dockerds, each in a network namespace of its own joined by veth
pairs to a "lan" namespace (tests/support/swarm_cluster.py), form one swarm; node-app's own
Dockerfile (its HEALTHCHECK is what swarm gates each task on) is built, versions on top of
it, pushed to a real htpasswd registry, and every node pulls by digest with the credentials
hoist passes for that update only. Ports are published in host mode with dnsrr: the kernel
here has no IPVS, so swarm's routing mesh cannot run (the docs say the mesh is the default
for real clusters).

Two replicas on three nodes: a new task always finds a free node, so updates are start-first.
The client that polls during an upgrade finds the service the way dnsrr's DNS answers do —
the nodes of the tasks swarm reports running — and asks one of them every 50 ms; every failed
request is counted and printed with the other figures.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import pytest
import requests
import yaml

from pipeline.push.registry_server import RegistryServer
from pipeline.push.target import PushResult
from pipeline.report import RunReport
from tests.conftest import run_invoke
from tests.support.deploy_images import build_and_push_service_images
from tests.support.deploy_runs import one_error_line, reported, write_push_report
from tests.support.swarm_cluster import (
    SwarmCluster,
    in_netns,
    start_swarm_cluster,
    stop_swarm_cluster,
)

pytestmark = pytest.mark.integration

REPOSITORY_PATH = "hoist-swarm/app"
REVISION = "89abcdef0123456789abcdef0123456789abcdef"
SECRET_VALUE = "hello from the env file"
POLL_INTERVAL = 0.05
POLL_LIMIT = 300.0  # the poller stops by itself even if a test forgets it


@pytest.fixture(scope="module")
def digests(registry: RegistryServer, docker_client, node_base: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    auth = {"username": registry.username, "password": registry.password}
    repository = f"{registry.address}/{REPOSITORY_PATH}"
    return build_and_push_service_images(docker_client, node_base, repository, auth, REVISION)


@pytest.fixture(scope="module")
def cluster(registry: RegistryServer) -> Iterator[SwarmCluster]:
    started = time.monotonic()
    swarm = start_swarm_cluster(3, int(registry.address.rsplit(":", 1)[1]))
    print(f"FIGURE swarm of 3 engines in namespaces up in {time.monotonic() - started:.1f} s")
    yield swarm
    stop_swarm_cluster(swarm)


@dataclass
class Project:
    """A pipeline.yaml whose `staging` environment is a swarm service, and ways to drive it."""

    config: Path
    service: str
    port: int
    registry: RegistryServer
    cluster: SwarmCluster
    client: docker.DockerClient
    env: dict[str, str] = field(default_factory=dict)

    @property
    def repository(self) -> str:
        return f"{self.registry.address}/{REPOSITORY_PATH}"

    def invoke(
        self, task: str, *args: str, host: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = run_invoke(
            task, "--config", str(self.config), "--env", "staging",
            "--host", host or self.cluster.manager.host, *args, env=self.env, timeout=420,
        )  # fmt: skip
        print(f"$ invoke {task} {' '.join(args)} -> {result.returncode}")
        print(result.stdout + result.stderr)
        return result

    def deploy(self, digest: str) -> subprocess.CompletedProcess[str]:
        return self.invoke("deploy", "--digest", digest)

    def inspect(self) -> dict[str, Any]:
        service: dict[str, Any] = self.client.api.inspect_service(self.service)
        return service

    def running(self) -> list[dict[str, Any]]:
        tasks = self.client.api.tasks(filters={"service": self.service, "desired-state": "running"})
        return [t for t in tasks if t["Status"]["State"] == "running"]

    def running_digests(self) -> list[str]:
        return sorted(t["Spec"]["ContainerSpec"]["Image"].rsplit("@", 1)[1] for t in self.running())

    def addresses(self) -> dict[str, str]:
        """Node ID -> the address the test gave that node."""
        by_name = {node.name: node.address for node in self.cluster.nodes}
        return {n["ID"]: by_name[n["Description"]["Hostname"]] for n in self.client.api.nodes()}

    def versions(self) -> set[str]:
        """What each running task answers, asked from the lan namespace."""
        with in_netns(self.cluster.lan):
            return {str(self.get(address).json()["version"]) for address in self._task_nodes()}

    def _task_nodes(self) -> list[str]:
        addresses = self.addresses()
        return [addresses[t["NodeID"]] for t in self.running()]

    def get(self, address: str) -> requests.Response:
        return requests.get(f"http://{address}:{self.port}/", timeout=2)

    def hoist_secrets(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.client.api.secrets(
            filters={"label": f"io.hoist.service={self.service}"}
        )
        return found


@pytest.fixture
def project(
    tmp_path: Path, registry: RegistryServer, cluster: SwarmCluster, digests: dict[str, str]
) -> Iterator[Project]:
    root = tmp_path / "project"
    (root / "app").mkdir(parents=True)
    (root / "app" / "Dockerfile").write_text("FROM scratch\n")  # deploy builds nothing
    (root / "staging.env").write_text(f"# a secret\nGREETING={SECRET_VALUE}\n")
    service = f"app-{secrets.token_hex(3)}"
    port = 8000 + secrets.randbelow(1000)  # inside the nodes' namespaces: nothing else there
    config = {
        "image": REPOSITORY_PATH,
        "build": {"context": "app"},
        "registries": [
            {"kind": "generic", "name": "swarm-registry",
             "repository": f"{registry.address}/{REPOSITORY_PATH}"},
        ],
        "deploy": {
            "staging": {
                "engine": "swarm",
                "container": service,
                "replicas": 2,
                "publish": "host",
                "ports": [f"{port}:3000"],
                "env_file": "staging.env",
                "env": {"SHUTDOWN_TIMEOUT_MS": "2000"},
                "restart": "on-failure:3",
                "memory": "128m",
                "cpus": 0.5,
                "stop_timeout": 5,
                # node -e checks are slow on two shared cores: generous timeout, quick interval
                "health": {"interval": 2, "retries": 3, "start_period": 8, "check_timeout": 10},
                "update": {"parallelism": 1, "monitor": 2, "timeout": 300},
            }
        },
    }  # fmt: skip
    path = root / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {
        "HOIST_STATE_DIR": str(tmp_path / "state"),
        "REGISTRY_USERNAME": registry.username,
        "REGISTRY_PASSWORD": registry.password,
    }
    made = Project(path, service, port, registry, cluster, cluster.client(), env)
    yield made
    _remove_service_and_secrets(made)


def _remove_service_and_secrets(project: Project) -> None:
    """By id: the service this test deployed, then the secrets hoist made for it."""
    for service in project.client.api.services(filters={"name": project.service}):
        if service["Spec"]["Name"] == project.service:
            project.client.api.remove_service(service["ID"])
    deadline = time.monotonic() + 60
    while project.hoist_secrets() and time.monotonic() < deadline:
        for secret in project.hoist_secrets():
            try:
                project.client.api.remove_secret(secret["ID"])
            except docker.errors.APIError:
                time.sleep(0.5)  # its tasks are still going away


def write_last_report(project: Project, digest: str) -> RunReport:
    push = PushResult("swarm-registry", project.repository, [], digest)
    return write_push_report(
        project.config, project.env["HOIST_STATE_DIR"], REPOSITORY_PATH, REVISION, push
    )


class Poller:
    """A client in the lan namespace that finds the service as dnsrr's DNS would — the nodes of
    the tasks swarm reports running — and asks the next of them every 50 ms."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.samples: list[tuple[float, str | None, str]] = []  # (time, version or None, why)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Poller:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)

    def _run(self) -> None:
        addresses = self.project.addresses()
        deadline, turn = time.monotonic() + POLL_LIMIT, 0
        with in_netns(self.project.cluster.lan):
            while not self.stop.is_set() and time.monotonic() < deadline:
                nodes = [addresses[t["NodeID"]] for t in self.project.running()]
                turn += 1
                self.samples.append((time.monotonic(), *self._ask(nodes, turn)))
                time.sleep(POLL_INTERVAL)

    def _ask(self, nodes: list[str], turn: int) -> tuple[str | None, str]:
        if not nodes:
            return None, "no running task"
        address = nodes[turn % len(nodes)]
        try:
            response = self.project.get(address)
            if response.ok:
                return str(response.json()["version"]), address
            return None, f"{address} answered {response.status_code}"
        except (requests.RequestException, ValueError) as exc:
            return None, f"{address}: {type(exc).__name__}"

    @property
    def failures(self) -> list[str]:
        return [why for _, version, why in self.samples if version is None]

    def versions(self) -> set[str]:
        return {version for _, version, _ in self.samples if version}

    def last_versions(self, count: int = 5) -> set[str]:
        return {version or "failed" for _, version, _ in self.samples[-count:]}


def secret_file_in_a_task(project: Project) -> str:
    """``/run/secrets/GREETING`` as a running task's container sees it (asked on its node)."""
    task = project.running()[0]
    addresses = project.addresses()
    node = next(n for n in project.cluster.nodes if n.address == addresses[task["NodeID"]])
    container_id = task["Status"]["ContainerStatus"]["ContainerID"]
    engine = docker.DockerClient(base_url=node.host, timeout=30)
    code, output = engine.containers.get(container_id).exec_run(["cat", "/run/secrets/GREETING"])
    assert code == 0, output
    return output.decode()


# --- the cases ----------------------------------------------------------------------------------


def test_first_deploy_then_an_upgrade_while_a_client_polls(
    project: Project, digests: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    report = write_last_report(project, digests["v1"])

    started = time.monotonic()
    first = project.invoke("deploy")  # the digest from the last run report
    first_wall = time.monotonic() - started

    assert first.returncode == 0, first.stderr
    assert "creating service" in first.stdout
    assert "2/2 running new digest" in first.stdout
    assert "gated by the image's HEALTHCHECK" in first.stdout
    assert "update order start-first" in first.stdout
    assert project.registry.password not in first.stdout + first.stderr
    service = project.inspect()
    spec = service["Spec"]
    container = spec["TaskTemplate"]["ContainerSpec"]
    assert container["Image"] == f"{project.repository}@{digests['v1']}"
    assert spec["Mode"]["Replicated"]["Replicas"] == 2
    assert spec["Labels"]["io.hoist.run"] == report.run_id
    assert spec["Labels"]["io.hoist.revision"] == REVISION
    # the env file is a secret: its value is nowhere in the spec, the app gets a file
    assert SECRET_VALUE not in json.dumps(service)
    assert project.registry.password not in json.dumps(service)
    assert "GREETING_FILE=/run/secrets/GREETING" in container["Env"]
    assert "SHUTDOWN_TIMEOUT_MS=2000" in container["Env"]
    assert [s["File"]["Name"] for s in container["Secrets"]] == ["GREETING"]
    assert secret_file_in_a_task(project) == SECRET_VALUE
    # the image's own HEALTHCHECK, with the environment's timing
    check = container["Healthcheck"]
    assert check["Test"][0] == "CMD" and "/healthz" in check["Test"][-1]
    assert (check["Interval"], check["Retries"], check["Timeout"]) == (2 * 10**9, 3, 10 * 10**9)
    limits = spec["TaskTemplate"]["Resources"]["Limits"]
    assert limits == {"MemoryBytes": 128 * 1024**2, "NanoCPUs": 500_000_000}
    assert spec["TaskTemplate"]["RestartPolicy"] == {"Condition": "on-failure", "MaxAttempts": 3}
    update = spec["UpdateConfig"]
    assert (update["Order"], update["FailureAction"], update["Parallelism"]) == (
        "start-first", "rollback", 1,
    )  # fmt: skip
    assert update["Monitor"] == 2 * 10**9
    assert spec["EndpointSpec"]["Mode"] == "dnsrr"
    assert spec["EndpointSpec"]["Ports"][0]["PublishMode"] == "host"
    assert project.versions() == {"1.0.0"}
    to_healthy = reported(r"time to all tasks healthy: ([\d.]+) s", first.stdout)

    with Poller(project) as poller:
        time.sleep(1)
        began = time.monotonic()
        upgrade = project.deploy(digests["v2"])
        upgrade_wall = time.monotonic() - began
        time.sleep(1)

    assert upgrade.returncode == 0, upgrade.stderr
    assert "2/2 running new digest" in upgrade.stdout
    assert project.running_digests() == [digests["v2"]] * 2
    assert project.versions() == {"2.0.0"}
    assert poller.versions() == {"1.0.0", "2.0.0"} and poller.last_versions() == {"2.0.0"}
    upgrade_healthy = reported(r"time to all tasks healthy: ([\d.]+) s", upgrade.stdout)
    with capsys.disabled():
        print(
            f"\nFIGURE swarm first deploy: {to_healthy:.1f} s from `invoke deploy` to all tasks "
            f"healthy ({first_wall:.1f} s wall, 3 nodes pulling)\n"
            f"FIGURE swarm upgrade (start-first, 2 replicas): {len(poller.failures)} failed of "
            f"{len(poller.samples)} requests; {upgrade_healthy:.1f} s to all tasks healthy "
            f"({upgrade_wall:.1f} s wall); failures: {poller.failures[:5]}"
        )
    assert poller.failures == []
    assert len(project.hoist_secrets()) == 2  # this spec's and the previous one's

    state = project.invoke("status")
    assert state.returncode == 0, state.stderr
    assert "2/2 tasks running" in state.stdout
    task_lines = [line for line in state.stdout.splitlines() if f"{project.service}." in line]
    assert len(task_lines) == 2, state.stdout
    for line in task_lines:
        assert "node-" in line and "running" in line and "healthy" in line
        assert digests["v2"][:19] in line and " linux/amd64 " in line  # the node's platform


def test_a_version_failing_its_health_check_is_rolled_back_by_swarm(
    project: Project, digests: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert project.deploy(digests["v1"]).returncode == 0
    secrets_before = {s["ID"] for s in project.hoist_secrets()}

    with Poller(project) as poller:
        began = time.monotonic()
        result = project.deploy(digests["broken"])
        wall = time.monotonic() - began

    assert result.returncode == 1
    error = one_error_line(result)
    assert f"swarm rolled back {project.service}" in error
    assert f"task {project.service}." in error and " on node-" in error
    assert "before its HEALTHCHECK passed" in error or "unhealthy container" in error
    assert f"{digests['v1'][:19]}… serves again" in error
    assert "broken build: answering 500 to every request" in error  # its last log lines
    assert "swarm: rollback completed" in result.stdout
    assert project.inspect()["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"].endswith(
        digests["v1"]
    )
    assert project.running_digests() == [digests["v1"]] * 2
    assert project.versions() == {"1.0.0"}
    assert poller.versions() == {"1.0.0"}
    assert {s["ID"] for s in project.hoist_secrets()} == secrets_before  # the new ones removed
    with capsys.disabled():
        print(
            f"\nFIGURE swarm bad version: detected and rolled back in {wall:.1f} s from "
            f"`invoke deploy` (health: start_period 8 s, 3 retries every 2 s); the client saw "
            f"{len(poller.failures)} failed of {len(poller.samples)} requests"
        )
    assert poller.failures == []


def test_rollback_status_and_refusals(project: Project, digests: dict[str, str]) -> None:
    worker = project.invoke("status", host=project.cluster.nodes[1].host)
    assert worker.returncode == 1
    assert "is a swarm worker" in one_error_line(worker)
    foreign = project.client.api.create_service(
        {"ContainerSpec": {"Image": f"{project.repository}@{digests['v1']}"}},
        name=project.service,
        mode={"Replicated": {"Replicas": 0}},  # nothing runs: only the name is taken
    )
    taken = project.deploy(digests["v1"])
    assert taken.returncode == 1
    assert "was not created by hoist" in one_error_line(taken)
    project.client.api.remove_service(foreign["ID"])

    assert project.deploy(digests["v1"]).returncode == 0
    once = project.invoke("rollback")
    assert once.returncode == 1
    assert "nothing to roll back to" in one_error_line(once)
    assert project.deploy(digests["v2"]).returncode == 0
    version = project.inspect()["Version"]["Index"]

    missing = "sha256:" + "0" * 64
    absent = project.deploy(missing)
    assert absent.returncode == 1
    assert f"{missing} is not in {project.repository}" in one_error_line(absent)
    assert project.inspect()["Version"]["Index"] == version  # nothing changed

    back = project.invoke("rollback")

    assert back.returncode == 0, back.stderr
    assert "2/2 running previous digest" in back.stdout
    assert project.running_digests() == [digests["v1"]] * 2
    assert project.versions() == {"1.0.0"}
    state = project.invoke("status")
    assert state.returncode == 0
    assert f"2/2 tasks running {digests['v1'][:19]}" in state.stdout
    assert "last update rollback_completed" in state.stdout
