"""``engine: swarm``: the release runs as a replicated Docker Swarm service, rolled and
health-gated by swarm itself, watched by hoist.

The order of a deploy, and why:

1. **Checks, nothing changed yet**: the engine is a swarm manager; a service of that name is
   hoist's or absent (hoist never takes over one it did not create); host-mode ports leave
   room for the replicas; the manager pulls ``repository@digest`` with the push target's
   credentials (``pull.py``, the same proof as ``engine: container``: the digest exists and
   the swarm reaches the registry) and reads the image's HEALTHCHECK.
2. **The change**: env file values become new swarm secrets, then one ``create`` or
   ``update`` request carries the whole spec (``swarm_spec.py``) and the registry login for
   the nodes' pulls (``swarm_api.py``).
3. **The rollout is swarm's**: start-first where ports allow, each task gated by its
   HEALTHCHECK, ``failure_action: rollback``. hoist watches it (``rollout.py``) and ends with
   exit 0 when every task runs the new digest healthy, or exit 1 when swarm rolled back —
   which task failed, why, its last log lines. A new service that fails is removed again.
4. **Afterwards** the secrets no spec names any more are removed.

``rollback`` is swarm's own (``rollback=previous``), watched the same way; ``status`` is
``swarm_status.py``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

import docker

from pipeline.deploy.host import Server, connect
from pipeline.deploy.pull import pull_release
from pipeline.deploy.release import Release, deploy_host, short
from pipeline.deploy.rollout import (
    Baseline,
    Goal,
    Outcome,
    baseline,
    failed_task,
    judge,
    read_snapshot,
    stuck,
    watch,
    why_ended,
)
from pipeline.deploy.settings import DeployEnvironment, Deployment
from pipeline.deploy.spec import AppEnvironment, deploy_labels
from pipeline.deploy.swarm_api import (
    SwarmRefused,
    check_manager,
    create_service,
    find_service,
    ready_nodes,
    registry_auth,
    remove_service,
    task_log_tail,
    update_service,
)
from pipeline.deploy.swarm_results import SwarmDeployResult, SwarmRollbackResult
from pipeline.deploy.swarm_secrets import create_secrets, prune_secrets, remove_secrets
from pipeline.deploy.swarm_spec import (
    check_room,
    healthcheck,
    service_spec,
    swarm_of,
    update_order,
)
from pipeline.deploy.swarm_status import (
    render_swarm_status,
    service_digest,
    spec_goal,
    template_deploy,
)
from pipeline.deploy.switch import new_run_id
from pipeline.errors import DeployError
from pipeline.push.registries.kinds import Credentials
from pipeline.result import Log

SECRETS_RELEASE_SECONDS = 15.0


@dataclass(frozen=True)
class Plan:
    """What the checks found: the pulled release, the service now, its HEALTHCHECK, the order."""

    release: Release
    current: dict[str, Any] | None
    check: dict[str, Any]
    order: str
    pull_seconds: float


@dataclass
class SwarmTarget:
    server: Server
    env: DeployEnvironment

    @property
    def client(self) -> docker.DockerClient:
        return self.server.client

    def deploy(
        self,
        release: Release,
        credentials: Credentials | None,
        environment: AppEnvironment,
        log: Log,
        started: float,
    ) -> SwarmDeployResult:
        env = self.env
        plan = self._plan(release, credentials, log)
        release, current = plan.release, plan.current
        result = SwarmDeployResult(
            new_run_id(), env.name, self.server.name, env.container, release.repository,
            release.digest, release.revision, swarm_of(env).replicas, plan.order,
            service_digest(current) if current else None, plan.pull_seconds,
        )  # fmt: skip
        service_id, before = self._change(plan, result.deploy_id, credentials, environment, log)
        goal = Goal(result.deploy_id, release.digest, result.replicas, "new",
                    "completed" if current else "")  # fmt: skip
        try:
            outcome = watch(self.client, service_id, goal, before, self._timeout, log)
        except BaseException:
            log("hoist stopped watching; swarm goes on with the rollout (`invoke status` shows it)")
            raise
        self._conclude(service_id, current, goal, outcome, before, log)
        result.rollout_seconds = outcome.seconds
        result.to_healthy_seconds = time.monotonic() - started
        result.tasks = [f"{r.name} on {r.node}: running" for r in outcome.snapshot.ready(goal)]
        return result

    @property
    def _timeout(self) -> float:
        return swarm_of(self.env).update.timeout

    def _plan(self, release: Release, credentials: Credentials | None, log: Log) -> Plan:
        """Every check before anything changes: ownership, room, the pull, the HEALTHCHECK."""
        env, server = self.env, self.server
        server.check_can_pull_from(release.pull_repository)
        current = self._own_service()
        nodes = ready_nodes(self.client)
        check_room(env, len(nodes))
        order, why = update_order(env, len(nodes))
        release, image_config, pull_seconds = pull_release(server, release, credentials, log)
        check, source = healthcheck(image_config, env)
        log(f"each task is gated by {source}; update order {order} ({why})")
        return Plan(release, current, check, order, pull_seconds)

    def _change(
        self,
        plan: Plan,
        deploy_id: str,
        credentials: Credentials | None,
        environment: AppEnvironment,
        log: Log,
    ) -> tuple[str, Baseline]:
        """New secrets, then one create or update; the secrets go again if that is refused."""
        env, release = self.env, plan.release
        labels = deploy_labels(env, release, deploy_id, datetime.now(timezone.utc))
        values = {k: v for k, v in environment.from_file.items() if k not in env.env}
        secrets = create_secrets(self.client, env.container, deploy_id, values)
        spec = service_spec(env, release.reference, labels, plan.check, secrets, plan.order)
        auth = registry_auth(credentials.auth_config() if credentials else None, release.reference)
        try:
            return self._apply(plan.current, spec, auth, log)
        except BaseException:
            remove_secrets(self.client, (ref.secret_id for ref in secrets))
            raise

    def _own_service(self) -> dict[str, Any] | None:
        service = find_service(self.client, self.env.container)
        if service is not None and template_deploy(service["Spec"]) is None:
            raise DeployError(
                f"service {self.env.container} on {self.server.name} was not created by hoist "
                "(no io.hoist labels); nothing changed",
                hint=f"remove it, or set deploy.{self.env.name}.container to another name",
            )
        return service

    def _apply(
        self,
        current: dict[str, Any] | None,
        spec: dict[str, Any],
        auth: Mapping[str, str],
        log: Log,
    ) -> tuple[str, Baseline]:
        """Create or update; returns the service id and how it was before the request."""
        name = self.env.container
        try:
            if current is None:
                log(f"creating service {name} on {self.server.name}")
                return create_service(self.client, spec, auth), Baseline()
            before = baseline(self.client, current)
            log(f"updating service {name}: {short(service_digest(current))} -> new digest")
            update_service(self.client, current, spec, auth)
        except SwarmRefused as exc:
            raise DeployError(
                f"the swarm manager refused to {'update' if current else 'create'} service "
                f"{name}: {exc.message} (nothing changed)",
                hint="run the deploy again if the service changed meanwhile",
            ) from None
        return str(current["ID"]), before

    def _conclude(
        self,
        service_id: str,
        current: dict[str, Any] | None,
        goal: Goal,
        outcome: Outcome,
        before: Baseline,
        log: Log,
    ) -> None:
        """Clean up after the rollout; raise the one line that says what serves now."""
        if outcome.verdict == "done":
            self._prune(service_id)
            return
        restored = True
        if outcome.verdict == "rolled_back" and current is not None:
            restored = self._await_restored(service_id, current, before, log)
        if outcome.verdict == "timeout" and current is not None:
            log(f"the rollout did not finish in {outcome.seconds:.0f} s: asking swarm to roll back")
            _, undone = self._rollback_now(service_id, log)
            restored = undone.verdict == "done"
            outcome = replace(outcome, verdict="timed_out")
        if current is None:
            self._remove_new_service(service_id)
        else:
            self._prune(service_id)
        raise self._failure(service_id, current, goal, outcome, restored)

    def _await_restored(
        self, service_id: str, current: dict[str, Any], before: Baseline, log: Log
    ) -> bool:
        """Swarm says "rollback completed" once it replaced the tasks; with stop-first the
        previous version may not run yet, and "serves again" is only said once it does."""
        back = spec_goal(current["Spec"], "previous", "rollback_completed")
        if judge(read_snapshot(self.client, service_id, {}, before), back) == "done":
            return True  # already serving: nothing more to watch
        now = baseline(self.client, self.client.api.inspect_service(service_id))
        seen_so_far = replace(now, update_started=before.update_started)
        outcome = watch(self.client, service_id, back, seen_so_far, self._timeout, log)
        return outcome.verdict == "done"

    def _failure(
        self,
        service_id: str,
        current: dict[str, Any] | None,
        goal: Goal,
        outcome: Outcome,
        restored: bool,
    ) -> DeployError:
        name, snapshot = self.env.container, outcome.snapshot
        row = failed_task(outcome, goal)
        cause, logs = "", []
        if row is not None:
            logs = task_log_tail(self.client, service_id, row.id, 20)
            cause = f"task {row.name} on {row.node} {why_ended(row, row.id in outcome.ran)}"
        last = " | ".join(logs[-3:]) if logs else "(no log lines)"
        if current is None:
            serves = f"removed the new service, nothing runs as {name}"
        elif not restored:
            serves = "the rollback did not finish either (`invoke status` shows what runs)"
        else:
            serves = f"{short(service_digest(current))} serves again"
        what = {
            "rolled_back": f"swarm rolled back {name}",
            "failed": f"the first deploy of {name} failed",
            "timed_out": f"the rollout of {name} did not finish in {outcome.seconds:.0f} s "
            f"({stuck(snapshot, goal)}); hoist asked swarm to roll back",
            "timeout": f"{name} did not become healthy in {outcome.seconds:.0f} s "
            f"({stuck(snapshot, goal)})",
            "paused": f"swarm paused the rollout of {name}: {snapshot.update_message}",
        }[outcome.verdict]
        error = DeployError(f"{what}: {cause or 'no failed task reported'}; {serves}; "
                            f"last log lines: {last}")  # fmt: skip
        error.details = "\n".join(f"  {line}" for line in logs)
        return error

    def _rollback_now(self, service_id: str, log: Log) -> tuple[Goal, Outcome]:
        """``rollback=previous``: swarm puts the previous spec back with its rollback config
        (and the registry login that spec was deployed with)."""
        service = self.client.api.inspect_service(service_id)
        before = baseline(self.client, service)
        goal = spec_goal(service.get("PreviousSpec") or {}, "previous", "rollback_completed")
        update_service(self.client, service, service["Spec"], {}, rollback=True)
        return goal, watch(self.client, service_id, goal, before, self._timeout, log)

    def _remove_new_service(self, service_id: str) -> None:
        """Nothing half-done: the service goes, then its secrets once its tasks let go."""
        with contextlib.suppress(Exception):
            remove_service(self.client, service_id)
        deadline = time.monotonic() + SECRETS_RELEASE_SECONDS
        while prune_secrets(self.client, self.env.container, []) and time.monotonic() < deadline:
            time.sleep(0.5)

    def _prune(self, service_id: str) -> None:
        service = self.client.api.inspect_service(service_id)
        prune_secrets(
            self.client, self.env.container, [service["Spec"], service.get("PreviousSpec")]
        )

    def rollback(self, log: Log) -> SwarmRollbackResult:
        """Swarm's own rollback to the previous spec, watched like a deploy."""
        began = time.monotonic()
        name, server = self.env.container, self.server
        service = self._own_service()
        if service is None:
            raise DeployError(f"nothing to roll back: no service {name} on {server.name}")
        if not service.get("PreviousSpec"):
            why = (
                "swarm already rolled back its last update"
                if (service.get("UpdateStatus") or {}).get("State") == "rollback_completed"
                else "it was deployed once"
            )
            raise DeployError(
                f"nothing to roll back to: service {name} has no previous spec ({why}); "
                "nothing changed",
                hint="deploy the version you want with `invoke deploy --digest sha256:...`",
            )
        replaced = service_digest(service)
        log(f"rolling {name} back: {short(replaced)} -> previous spec")
        goal, outcome = self._rollback_now(service["ID"], log)
        if outcome.verdict != "done":
            raise DeployError(
                f"the rollback of {name} did not finish ({outcome.verdict}: "
                f"{stuck(outcome.snapshot, goal)})",
                hint="`invoke status` shows what runs now",
            )
        self._prune(service["ID"])
        now = self.client.api.inspect_service(service["ID"])
        return SwarmRollbackResult(
            self.env.name, server.name, name, service_digest(now), replaced,
            time.monotonic() - began,
        )  # fmt: skip

    def status(self) -> tuple[str, bool]:
        return render_swarm_status(self.client, self.env, self.server.name)


@contextlib.contextmanager
def open_swarm(
    deployment: Deployment, host: str | None, environ: Mapping[str, str]
) -> Iterator[SwarmTarget]:
    """Connect to the swarm manager's engine; the connection closes after."""
    env = deployment.environment
    server = connect(deploy_host(env, host), environ)
    try:
        check_manager(server)
        yield SwarmTarget(server, env)
    finally:
        server.close()
