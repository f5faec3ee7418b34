"""Watch a swarm rollout: every task on the new template and healthy, or swarm rolled back.

Why hoist watches at all: swarm runs the rolling update by itself — start a task, wait until
its HEALTHCHECK passes, watch it for ``monitor`` seconds, go on, or undo everything on a
failure — but ``docker service update`` returns at once. A deploy must end with a verdict: exit
0 when every task runs the new digest and is healthy, exit 1 when swarm rolled back, saying
which task failed and why. Until then each task's progress is printed as swarm reports it.

Which tasks are "the new ones" is read from the ``io.hoist.deploy`` label each deploy puts on
its task template, not from the digest: a deploy that only changes the env file rolls too.
A task counts once swarm says it is *running*: with a HEALTHCHECK, swarm moves a task from
*starting* to *running* only when the check passed. The update's own state (``UpdateStatus``)
counts only when it is newer than the one seen before hoist's request.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import docker
from docker.errors import NotFound

from pipeline.deploy.release import short
from pipeline.deploy.swarm_api import ACTIVE_STATES, node_names, service_tasks
from pipeline.deploy.swarm_spec import DEPLOY_LABEL
from pipeline.errors import DeployError
from pipeline.result import Log

FAILED_STATES = frozenset(("failed", "rejected"))
ENDED_STATES = frozenset(("failed", "rejected", "complete", "orphaned"))  # not stopped by swarm
STOP_STATES = frozenset(("shutdown", "remove"))
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class Goal:
    """The template every task must run: its deploy id (or, without one, its digest)."""

    deploy_id: str
    digest: str
    replicas: int
    word: str  # "new" or "previous", for the progress lines
    done_state: str  # the UpdateStatus that ends the rollout; "" for a new service

    def matches(self, row: TaskRow) -> bool:
        return row.deploy == self.deploy_id if self.deploy_id else row.digest == self.digest


@dataclass(frozen=True)
class TaskRow:
    """One swarm task as hoist reports it."""

    id: str
    name: str  # service.slot, as `docker service ps` names it
    node: str
    deploy: str
    digest: str
    desired: str
    state: str
    error: str
    since: str
    exit_code: int | None = None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def stopping(self) -> bool:
        """Swarm told it to stop and it has not yet (``ready`` is a start-first task held
        back until its old one stopped, not a stop)."""
        return self.desired in STOP_STATES and self.active


def task_rows(tasks: list[dict[str, Any]], nodes: Mapping[str, str], service: str) -> list[TaskRow]:
    rows = []
    for task in sorted(tasks, key=lambda t: (t.get("Slot") or 0, t.get("CreatedAt", ""))):
        container = task["Spec"]["ContainerSpec"]
        status = task["Status"]
        node = task.get("NodeID", "")
        rows.append(
            TaskRow(
                id=task["ID"],
                name=f"{service}.{task.get('Slot') or task['ID'][:12]}",
                node=nodes.get(node, node[:12] or "-"),
                deploy=(container.get("Labels") or {}).get(DEPLOY_LABEL, ""),
                digest=image_digest(container["Image"]),
                desired=task["DesiredState"],
                state=status["State"],
                error=status.get("Err") or "",
                since=_timestamp(status.get("Timestamp", "")),
                exit_code=(status.get("ContainerStatus") or {}).get("ExitCode"),
            )
        )
    return rows


def image_digest(reference: str) -> str:
    return reference.rsplit("@", 1)[1] if "@" in reference else ""


def _timestamp(value: str) -> str:
    return f"{value[:19]}Z" if value and not value.startswith("0001") else "-"


@dataclass(frozen=True)
class Snapshot:
    rows: list[TaskRow]
    update_state: str  # "" when swarm reports no update newer than the one before
    update_message: str

    def ready(self, goal: Goal) -> list[TaskRow]:
        return [
            r
            for r in self.rows
            if goal.matches(r) and r.desired == "running" and r.state == "running"
        ]


def judge(snapshot: Snapshot, goal: Goal) -> str | None:
    """``done``, ``rolled_back``, ``paused``, ``failed`` (a new service's task), or None."""
    state = snapshot.update_state
    if state in ("paused", "rollback_paused"):
        return "paused"
    if goal.done_state == "completed" and state == "rollback_completed":
        return "rolled_back"
    if not goal.done_state and any(
        goal.matches(r) and r.state in FAILED_STATES for r in snapshot.rows
    ):
        return "failed"
    others_active = any(r.active and not goal.matches(r) for r in snapshot.rows)
    if len(snapshot.ready(goal)) >= goal.replicas and not others_active:
        return "done" if state == goal.done_state else None
    return None


def failed_task(outcome: Outcome, goal: Goal) -> TaskRow | None:
    """The task swarm named in its rollback message, else the goal's first task that ended."""
    by_id = {r.id: r for r in outcome.snapshot.rows}
    for message in outcome.messages:
        named = re.search(r"\btask ([a-z0-9]{25})\b", message)
        if named and named[1] in by_id:
            return by_id[named[1]]
    ended = [r for r in outcome.snapshot.rows if goal.matches(r) and r.state in ENDED_STATES]
    return min(ended, key=lambda r: r.since) if ended else None


def why_ended(row: TaskRow, ran: bool) -> str:
    """Swarm's own error when it has one; else what the task's states say.

    An app that exits 0 on SIGTERM — as it should — ends *complete* without an error when swarm
    stops it for failing its HEALTHCHECK: what tells it apart is that it never ran.
    """
    if row.error:
        return f"failed: {row.error}"
    how = row.state + (f", exit code {row.exit_code}" if row.exit_code is not None else "")
    if not ran:
        return f"stopped before its HEALTHCHECK passed ({how})"
    return f"stopped after it was running ({how})"


def stuck(snapshot: Snapshot, goal: Goal) -> str:
    """What a rollout that ran out of time was waiting for, in a few words."""
    waiting = [r for r in snapshot.rows if goal.matches(r) and r.active and r.state != "running"]
    if not waiting:
        return f"{len(snapshot.ready(goal))}/{goal.replicas} running"
    row = waiting[0]
    return f"{row.name} {row.state}" + (f": {row.error}" if row.error else "")


@dataclass(frozen=True)
class Outcome:
    verdict: str  # done, rolled_back, paused, failed or timeout
    snapshot: Snapshot
    seconds: float
    ran: frozenset[str] = frozenset()  # tasks seen running (their HEALTHCHECK passed)
    messages: tuple[str, ...] = ()  # every update message seen, in order


class Progress:
    """Prints each task's changes as they happen, and the count once it moves."""

    def __init__(self, goal: Goal, log: Log) -> None:
        self.goal, self.log = goal, log
        self.seen: dict[str, tuple[str, str]] = {}
        self.ran: set[str] = set()
        self.messages: list[str] = []
        self.ready = -1
        self.update = ""

    def show(self, snapshot: Snapshot) -> None:
        for row in snapshot.rows:
            key = (row.desired, row.state)
            first = row.id not in self.seen
            if row.state == "running":
                self.ran.add(row.id)
            if self.seen.get(row.id) == key:
                continue
            self.seen[row.id] = key
            if first and not row.active and not self.goal.matches(row):
                continue  # an old task that had stopped by the time this poll saw it
            self.log(f"  {row.name} on {row.node}: {self._describe(row)}")
        ready = len(snapshot.ready(self.goal))
        if ready != self.ready:
            self.ready = ready
            self.log(f"{ready}/{self.goal.replicas} running {self.goal.word} digest")
        if snapshot.update_message and snapshot.update_message not in self.messages:
            self.messages.append(snapshot.update_message)
        if snapshot.update_state and snapshot.update_state != self.update:
            self.update = snapshot.update_state
            self.log(f"swarm: {snapshot.update_state.replace('_', ' ')}: {snapshot.update_message}")

    def _describe(self, row: TaskRow) -> str:
        word = self.goal.word if self.goal.matches(row) else "old"
        if row.stopping:
            state = f"{row.state}, told to stop"
        elif row.state in ENDED_STATES:
            state = why_ended(row, row.id in self.ran)
        else:
            state = row.state + (f": {row.error}" if row.error else "")
        return f"{state} ({word} {short(row.digest)})"

    def outcome(self, verdict: str, snapshot: Snapshot, seconds: float) -> Outcome:
        return Outcome(verdict, snapshot, seconds, frozenset(self.ran), tuple(self.messages))


@dataclass(frozen=True)
class Baseline:
    """The service just before hoist's request: its last update's start and the tasks that had
    already finished — history the watcher must not mistake for news of this rollout."""

    update_started: str = ""
    finished: frozenset[str] = frozenset()


def baseline(client: docker.DockerClient, service: Mapping[str, Any]) -> Baseline:
    finished = [t["ID"] for t in service_tasks(client, service["ID"])
                if t["Status"]["State"] not in ACTIVE_STATES]  # fmt: skip
    started = str((service.get("UpdateStatus") or {}).get("StartedAt") or "")
    return Baseline(started, frozenset(finished))


def read_snapshot(
    client: docker.DockerClient, service_id: str, nodes: dict[str, str], before: Baseline
) -> Snapshot:
    try:
        service = client.api.inspect_service(service_id)
    except NotFound:
        raise DeployError(
            f"the service {service_id[:12]} was removed while hoist watched it"
        ) from None
    tasks = [t for t in service_tasks(client, service_id) if t["ID"] not in before.finished]
    if any(t.get("NodeID") and t["NodeID"] not in nodes for t in tasks):
        nodes.update(node_names(client))
    status = service.get("UpdateStatus") or {}
    fresh = str(status.get("StartedAt") or "") != before.update_started
    return Snapshot(
        task_rows(tasks, nodes, service["Spec"]["Name"]),
        str(status.get("State") or "") if fresh else "",
        str(status.get("Message") or "") if fresh else "",
    )


def watch(
    client: docker.DockerClient,
    service_id: str,
    goal: Goal,
    before: Baseline,
    timeout: float,
    log: Log,
) -> Outcome:
    """Poll the manager until ``judge`` has a verdict, or ``timeout`` seconds passed."""
    began = time.monotonic()
    nodes = node_names(client)
    progress = Progress(goal, log)
    while True:
        snapshot = read_snapshot(client, service_id, nodes, before)
        progress.show(snapshot)
        verdict = judge(snapshot, goal)
        elapsed = time.monotonic() - began
        if verdict is not None or elapsed > timeout:
            return progress.outcome(verdict or "timeout", snapshot, elapsed)
        time.sleep(POLL_SECONDS)
