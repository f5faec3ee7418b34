"""The swarm service a release runs as: the Engine API's ``ServiceSpec``, built from the
environment, as plain JSON (what ``POST /services/create`` and ``/update`` take).

Why these choices:

* **Image by digest**, as ``engine: container`` runs it: every node pulls exactly what was
  tested and pushed.
* **Swarm gates each task on a HEALTHCHECK**: a task counts as running only once its check
  passed, and the update's ``failure_action: rollback`` undoes a version whose tasks never get
  there. The image's own HEALTHCHECK is used (with ``deploy.ENV.health`` timing overrides);
  an image without one gets the deploy health section turned into one (``http_probe``).
* **Secrets stay out of the spec**: env file values are swarm secrets (``swarm_secrets.py``),
  mounted as files; the spec carries only their paths (``KEY_FILE``). ``env:`` values are
  committed in pipeline.yaml and go in as plain environment.
* **start-first where ports allow** (``update_order``): the mesh or a free node lets a new task
  start before its old one stops; host-mode ports on nodes that are all taken do not.
* **Labels say what runs**: the container engine's labels on the service and on each task's
  container; ``io.hoist.deploy`` also tells the rollout watcher which tasks are the new ones.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.deploy.settings import DeployEnvironment, HealthConfig
from pipeline.deploy.spec import LABEL
from pipeline.deploy.swarm_settings import HealthTiming, SwarmSettings
from pipeline.errors import DeployError

SECOND = 1_000_000_000  # the Engine API counts durations in nanoseconds
SECRETS_DIR = "/run/secrets"
PROBE_DEFAULTS = {"Interval": 5 * SECOND, "Timeout": 5 * SECOND, "Retries": 3}
DEPLOY_LABEL = f"{LABEL}deploy"


@dataclass(frozen=True)
class SecretRef:
    """One env file value as a swarm secret: mounted as ``/run/secrets/KEY``."""

    key: str
    secret_id: str
    secret_name: str


def nanoseconds(seconds: float) -> int:
    return round(seconds * SECOND)


def swarm_of(env: DeployEnvironment) -> SwarmSettings:
    if env.swarm is None:
        raise DeployError(f"deploy.{env.name} is not an engine: swarm environment")
    return env.swarm


def healthcheck(
    image_config: Mapping[str, Any], env: DeployEnvironment
) -> tuple[dict[str, Any], str]:
    """The service's HEALTHCHECK and where its test comes from (for the progress lines)."""
    image_check = image_config.get("Healthcheck") or {}
    test = list(image_check.get("Test") or [])
    if test and test[0] != "NONE":
        check = {"Test": test, **{k: v for k, v in image_check.items() if k != "Test"}}
        source = "the image's HEALTHCHECK"
    else:
        port = env.port.container_port
        check = {
            "Test": ["CMD-SHELL", http_probe(port, env.health)],
            **PROBE_DEFAULTS,
            "StartPeriod": nanoseconds(env.health.timeout),
        }
        source = f"deploy.{env.name}.health (GET {env.health.path} on port {port})"
    return {**check, **_timing(swarm_of(env).health)}, source


def _timing(timing: HealthTiming) -> dict[str, int]:
    overrides: dict[str, int] = {}
    for key, seconds in (
        ("Interval", timing.interval),
        ("Timeout", timing.check_timeout),
        ("StartPeriod", timing.start_period),
    ):
        if seconds is not None:
            overrides[key] = nanoseconds(seconds)
    if timing.retries is not None:
        overrides["Retries"] = timing.retries
    return overrides


def http_probe(port: int, health: HealthConfig) -> str:
    """The deploy health check as a shell command run inside the task's container.

    An image has whatever HTTP client it has: curl (the status compared exactly), wget
    (success only) or node (exact); with none of them the check fails saying so, and the
    answer is a HEALTHCHECK in the Dockerfile.
    """
    url, status = f"http://127.0.0.1:{port}{health.path}", str(health.expect_status)
    node = (
        "const [u,s]=process.argv.slice(1);require('http').get(u,r=>{if(String(r.statusCode)"
        "===s)process.exit(0);console.log('GET '+u+' answered '+r.statusCode+', expected '+s);"
        "process.exit(1)}).on('error',e=>{console.log('GET '+u+': '+e.message);process.exit(1)})"
    )
    u, s = shlex.quote(url), shlex.quote(status)
    return (
        f"if command -v curl >/dev/null 2>&1; then c=$(curl -s -o /dev/null -w '%{{http_code}}' "
        f'{u}); [ "$c" = {s} ] || {{ echo "GET {url} answered $c, expected {status}"; exit 1; }}; '
        f"elif command -v wget >/dev/null 2>&1; then wget -q -O /dev/null {u}; "
        f"elif command -v node >/dev/null 2>&1; then node -e {shlex.quote(node)} {u} {s}; "
        f'else echo "no curl, wget or node in the image to check {url}: add a HEALTHCHECK to '
        f'the Dockerfile"; exit 1; fi'
    )


def update_order(env: DeployEnvironment, ready_nodes: int) -> tuple[str, str]:
    """``start-first`` where the ports allow a new task beside its old one, and why."""
    swarm = swarm_of(env)
    policy, replicas = swarm.update, swarm.replicas
    host_ports = swarm.publish == "host" and bool(env.ports)
    fits = ready_nodes >= replicas + policy.parallelism
    if policy.order == "start-first" and host_ports and not fits:
        raise DeployError(
            f"deploy.{env.name}.update.order: start-first with host-mode port "
            f"{env.port.host_port} needs {replicas + policy.parallelism} ready nodes "
            f"({replicas} replicas + parallelism {policy.parallelism}); the swarm has "
            f"{ready_nodes} (nothing changed)",
            hint="add nodes, or use order: auto or stop-first",
        )
    if policy.order != "auto":
        return policy.order, "as configured"
    if not host_ports:
        return "start-first", "no host-mode port to share"
    if fits:
        return "start-first", f"{ready_nodes} nodes leave a free node for each new task"
    return "stop-first", (
        f"host-mode port {env.port.host_port} is taken on every node a new task could use"
    )


def check_room(env: DeployEnvironment, ready_nodes: int) -> None:
    """Host-mode ports put at most one task on a node: more replicas would wait forever."""
    swarm = swarm_of(env)
    if swarm.publish == "host" and env.ports and swarm.replicas > ready_nodes:
        raise DeployError(
            f"deploy.{env.name}: {swarm.replicas} replicas with host-mode port "
            f"{env.port.host_port} need {swarm.replicas} ready nodes; the swarm has "
            f"{ready_nodes} (nothing changed)",
            hint="lower replicas, add nodes, or publish: ingress",
        )


def service_spec(
    env: DeployEnvironment,
    reference: str,
    labels: Mapping[str, str],
    check: Mapping[str, Any],
    secrets: Sequence[SecretRef],
    order: str,
) -> dict[str, Any]:
    swarm = swarm_of(env)
    container: dict[str, Any] = {
        "Image": reference,
        "Labels": dict(labels),
        "Env": _environment(env, secrets),
        "StopGracePeriod": nanoseconds(env.stop_timeout),
        "Healthcheck": dict(check),
        "Secrets": [_secret_mount(ref) for ref in secrets],
    }
    task: dict[str, Any] = {
        "ContainerSpec": container,
        "RestartPolicy": restart_condition(env.restart),
        "Resources": {"Limits": _limits(env)},
    }
    if env.network != "bridge":
        task["Networks"] = [{"Target": env.network}]
    update = {
        "Parallelism": swarm.update.parallelism,
        "Monitor": nanoseconds(swarm.update.monitor),
        "MaxFailureRatio": 0,
        "Order": order,
    }
    return {
        "Name": env.container,
        "Labels": dict(labels),
        "TaskTemplate": task,
        "Mode": {"Replicated": {"Replicas": swarm.replicas}},
        "UpdateConfig": {**update, "FailureAction": "rollback"},
        "RollbackConfig": {**update, "FailureAction": "pause"},
        "EndpointSpec": _endpoint(env, swarm),
    }


def _environment(env: DeployEnvironment, secrets: Sequence[SecretRef]) -> list[str]:
    values = {ref.key + "_FILE": f"{SECRETS_DIR}/{ref.key}" for ref in secrets}
    if env.port_env:
        values[env.port_env] = str(env.port.container_port)
    values.update(env.env)
    return [f"{key}={value}" for key, value in values.items()]


def _secret_mount(ref: SecretRef) -> dict[str, Any]:
    file = {"Name": ref.key, "UID": "0", "GID": "0", "Mode": 0o444}
    return {"File": file, "SecretID": ref.secret_id, "SecretName": ref.secret_name}


def restart_condition(restart: str) -> dict[str, Any]:
    """``docker run --restart`` words in swarm's terms (swarm has no unless-stopped)."""
    name, _, count = restart.partition(":")
    condition = {"no": "none", "on-failure": "on-failure"}.get(name, "any")
    policy: dict[str, Any] = {"Condition": condition}
    if count:
        policy["MaxAttempts"] = int(count)
    return policy


def _limits(env: DeployEnvironment) -> dict[str, int]:
    limits = {}
    if env.memory:
        limits["MemoryBytes"] = env.memory
    if env.cpus:
        limits["NanoCPUs"] = round(env.cpus * 1e9)
    return limits


def _endpoint(env: DeployEnvironment, swarm: SwarmSettings) -> dict[str, Any]:
    ports = [
        {
            "Protocol": "tcp",
            "TargetPort": mapping.container_port,
            "PublishedPort": mapping.host_port,
            "PublishMode": swarm.publish,
        }
        for mapping in env.ports
    ]
    return {"Mode": swarm.endpoint_mode, "Ports": ports}
