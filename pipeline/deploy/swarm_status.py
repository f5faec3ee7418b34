"""What a swarm environment runs, read from the manager: the service's labels and, per task,
its node, the node's platform (what an index resolves to there), digest, state, health and
since when.

Health comes from swarm's task states: with a HEALTHCHECK in the spec (hoist always sets one)
a task is *starting* until its check passes, *running* after, and is replaced once the check
fails. So *running* means healthy now; the node's engine need not be asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import docker

from pipeline.deploy.release import short
from pipeline.deploy.rollout import Goal, TaskRow, image_digest, task_rows
from pipeline.deploy.settings import DeployEnvironment
from pipeline.deploy.spec import LABEL
from pipeline.deploy.swarm_api import find_service, node_names, node_platforms, service_tasks
from pipeline.deploy.swarm_spec import DEPLOY_LABEL

HEALTH_OF_STATE = {"running": "healthy", "starting": "starting (check not passed yet)"}


def _container_spec(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    return ((spec.get("TaskTemplate") or {}).get("ContainerSpec")) or {}


def spec_digest(spec: Mapping[str, Any]) -> str:
    return image_digest(str(_container_spec(spec).get("Image") or ""))


def service_digest(service: Mapping[str, Any]) -> str:
    return spec_digest(service["Spec"])


def template_deploy(spec: Mapping[str, Any]) -> str | None:
    """The ``io.hoist.deploy`` label of a spec's tasks; None when hoist did not write it."""
    return (_container_spec(spec).get("Labels") or {}).get(DEPLOY_LABEL)


def replicas_of(spec: Mapping[str, Any]) -> int:
    return int(((spec.get("Mode") or {}).get("Replicated") or {}).get("Replicas") or 1)


def spec_goal(spec: Mapping[str, Any], word: str, done_state: str) -> Goal:
    """The rollout goal of a spec: its tasks' deploy id, digest and replicas."""
    return Goal(template_deploy(spec) or "", spec_digest(spec), replicas_of(spec), word, done_state)


def health(row: TaskRow, checked: bool) -> str:
    if not checked:
        return "no HEALTHCHECK" if row.state == "running" else "-"
    return HEALTH_OF_STATE.get(row.state, "-")


def render_swarm_status(
    client: docker.DockerClient, env: DeployEnvironment, server: str
) -> tuple[str, bool]:
    """The status text and whether every replica runs the service's current spec."""
    lines = [f"{env.name} on {server}:"]
    service = find_service(client, env.container)
    if service is None:
        return "\n".join([*lines, f"  service {env.container}: not deployed"]), False
    spec = service["Spec"]
    goal = spec_goal(spec, "current", "")
    rows = [
        r
        for r in task_rows(service_tasks(client, service["ID"]), node_names(client), spec["Name"])
        if r.desired == "running" or r.active
    ]
    ready = [r for r in rows if goal.matches(r) and r.state == "running" and r.desired == "running"]
    labels = spec.get("Labels") or {}
    update = service.get("UpdateStatus") or {}
    lines += [
        f"  service {spec['Name']} (swarm): {len(ready)}/{goal.replicas} tasks running "
        f"{short(goal.digest)}",
        f"    digest     {goal.digest or '-'}",
        f"    repository {labels.get(f'{LABEL}repository', '-')}  revision "
        f"{labels.get(f'{LABEL}revision', '-')}",
        f"    deployed   {labels.get(f'{LABEL}deployed-at', '-')}  hoist run "
        f"{labels.get(f'{LABEL}run') or '-'}",
        f"    last update {update.get('State', 'none')}: {update.get('Message', '-')}",
        f"    {'task':<16} {'node':<16} {'platform':<14} {'digest':<22} {'state':<10} "
        f"{'health':<12} since",
    ]
    checked = (_container_spec(spec).get("Healthcheck") or {}).get("Test", ["NONE"]) != ["NONE"]
    platforms = node_platforms(client)
    for row in rows:
        lines.append(
            f"    {row.name:<16} {row.node:<16} {platforms.get(row.node, '-'):<14} "
            f"{short(row.digest):<22} {row.state:<10} {health(row, checked):<12} {row.since}"
        )
    stale = [r for r in rows if not goal.matches(r)]
    return "\n".join(lines), len(ready) >= goal.replicas and not stale
