"""Run the pushed digest on a server: pull by digest, prove it, switch, keep the way back.

Why it works this way:

* **By digest, never by tag.** What runs must be exactly what the pipeline tested and pushed:
  the server pulls ``repository@sha256:…`` (from the last run report, or ``--digest``), and a
  tag moved in between cannot change that.
* **Credentials per pull.** The registry login is passed to the server's engine with the pull
  request itself (``auth_config``, the ``X-Registry-Auth`` header): the engine uses it for that
  pull and keeps nothing — no ``docker login`` on the server, no config.json written, nothing
  to remove afterwards. They are the push target's own credentials (short-lived where the
  registry issues tokens: ECR's 12-hour token, a workflow's ``GITHUB_TOKEN``).
* **Prove before touching the live one.** The new version first runs as ``NAME-candidate`` on a
  temporary port (a random 127.0.0.1 port; ``probe_port`` with ``network: host``) and must pass
  smoke's readiness wait and HTTP checks (``pipeline.smoke.service``: the health path, then smoke's
  read-only checks). If it fails, it is removed and the live container was never touched.
* **Then switch, with the old one kept.** The old container is renamed ``NAME-previous``, its
  restart policy set to ``no`` (so it cannot come back on its own and take the port), stopped
  gracefully (SIGTERM, ``stop_timeout``), and the new one — created beforehand — starts on the
  live port with the configured restart policy, limits and environment, and is checked again.
  If that fails, the new one is removed and the old one renamed back and restarted. The time
  from the old one's stop to the new one answering is the outage, measured and printed.
* **Labels say what runs.** Digest, repository, git revision, deploy time and hoist run id are
  labels on the container, so ``status`` reads the truth from the server, not from a local file.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from docker.errors import APIError
from docker.models.containers import Container
from requests import RequestException

from pipeline.deploy.pull import pull_release
from pipeline.deploy.release import Release, short
from pipeline.deploy.site import Site, Unhealthy, digest_of, published_port
from pipeline.deploy.spec import container_kwargs, deploy_labels
from pipeline.errors import DeployError
from pipeline.push.registries.kinds import Credentials
from pipeline.result import Log


@dataclass
class DeployResult:
    """What one deploy did and how long each part took (seconds), for the summary and JSON."""

    deploy_id: str
    environment: str
    host: str
    container: str
    repository: str
    digest: str
    revision: str
    previous_digest: str | None = None
    pull_seconds: float = 0.0
    candidate_seconds: float = 0.0
    stop_seconds: float = 0.0
    outage_seconds: float | None = None  # None on a first deploy: nothing was serving
    to_healthy_seconds: float = 0.0
    checks: list[str] = field(default_factory=list)

    def render(self) -> str:
        outage = (
            f"{self.outage_seconds:.2f} s"
            if self.outage_seconds is not None
            else "none (first deploy)"
        )
        return "\n".join(
            [
                f"deployed {self.environment} on {self.host}: {self.container} runs "
                f"{self.repository}@{self.digest}",
                f"  revision {self.revision or 'unknown'}; previous {short(self.previous_digest)}",
                f"  pull {self.pull_seconds:.1f} s, new version proven in "
                f"{self.candidate_seconds:.2f} s, old stopped in {self.stop_seconds:.2f} s",
                f"  time to healthy new version: {self.to_healthy_seconds:.1f} s; "
                f"outage during switch: {outage}",
            ]
        )

    def record(self) -> dict[str, Any]:
        return asdict(self)


def new_run_id() -> str:
    return f"{datetime.now(timezone.utc):%Y%m%d%H%M%S}-{secrets.token_hex(3)}"


def deploy(
    site: Site,
    release: Release,
    credentials: Credentials | None,
    environment: Mapping[str, str],
    log: Log,
    *,
    started: float | None = None,
) -> DeployResult:
    """Pull, prove on a temporary port, switch; on any failure the old version keeps serving."""
    started = time.monotonic() if started is None else started
    server, env = site.server, site.env
    server.check_reachable("" if env.host_network else env.port.host_ip)
    server.check_can_pull_from(release.pull_repository)
    result = DeployResult(
        new_run_id(), env.name, server.name, env.container, release.repository,
        release.digest, release.revision,
    )  # fmt: skip
    release, _, result.pull_seconds = pull_release(server, release, credentials, log)
    result.revision = release.revision
    current = site.find()
    result.previous_digest = digest_of(current)
    if current is None:
        log(f"{site.name}: first deploy on {server.name}")
    else:
        what = short(result.previous_digest) if result.previous_digest else "not deployed by hoist"
        log(f"{site.name} now: {current.status}, {what}")
    labels = deploy_labels(env, release, result.deploy_id, datetime.now(timezone.utc))
    result.candidate_seconds, checks = _prove_candidate(site, release, environment, labels, log)
    log(f"new version healthy on a temporary port after {result.candidate_seconds:.2f} s")
    for check in checks:
        log(f"  ok: {check}")
    live = container_kwargs(env, release, role="live", environment=environment, labels=labels)
    _switch(site, current, live, result, log)
    result.to_healthy_seconds = time.monotonic() - started
    return result


def _prove_candidate(
    site: Site,
    release: Release,
    environment: Mapping[str, str],
    labels: Mapping[str, str],
    log: Log,
) -> tuple[float, list[str]]:
    """Run the new version on a temporary port and check it; it is always removed afterwards."""
    server, env = site.server, site.env
    leftover = site.find("-candidate")
    if leftover is not None:
        log(f"removing {leftover.name}, left by an interrupted deploy")
        leftover.remove(force=True)
    bind = server.probe_bind(env.port.host_ip)
    kwargs = container_kwargs(
        env, release, role="candidate", environment=environment, labels=labels, probe_bind=bind
    )
    try:
        candidate = server.client.containers.run(**kwargs)
    except APIError as exc:
        raise DeployError(
            f"the engine on {server.name} refused to start the new version: "
            f"{exc.explanation or exc}; {_untouched(site)}"
        ) from None
    try:
        if env.host_network:
            assert env.probe_port is not None
            base = f"http://{server.address('', env.probe_port)}"
        else:
            port = published_port(candidate, env.port.container_port)
            base = f"http://{server.address(bind, port)}"
        log(f"checking the new version on a temporary port ({env.health.timeout:g} s at most)")
        return site.prove(candidate, base)
    except Unhealthy as exc:
        error = DeployError(
            f"the new version {short(release.digest)} failed its checks: {exc.message}; "
            f"removed it, {_untouched(site)}"
        )
        error.details = exc.logs
        raise error from None
    finally:
        with contextlib.suppress(Exception):
            candidate.remove(force=True)


def _untouched(site: Site) -> str:
    current = site.find()
    if current is None:
        return f"nothing was deployed as {site.name} on {site.server.name} before"
    return f"{site.name} was not touched ({current.status}, {short(digest_of(current))})"


def _switch(
    site: Site,
    current: Container | None,
    live_kwargs: dict[str, Any],
    result: DeployResult,
    log: Log,
) -> None:
    """Replace ``current`` by a new container on the live port; undo everything on failure."""
    server, env = site.server, site.env
    previous_name = f"{site.name}-previous"
    older = site.find("-previous") if current is not None else None
    was_running = current is not None and current.status in ("running", "restarting")
    old_policy = current.attrs["HostConfig"].get("RestartPolicy") if current is not None else None
    new: Container | None = None
    done: list[str] = []
    try:
        base = site.live_base()
        if older is not None:  # the version before last: kept until the switch succeeded
            older.rename(f"{previous_name}-{result.deploy_id}")
            done.append("older")
        if current is not None:
            current.rename(previous_name)
            done.append("renamed")
        new = server.client.containers.create(**live_kwargs)
        switch_began = time.monotonic()
        if current is not None and was_running:
            current.update(restart_policy={"Name": "no"})  # it must not come back by itself
            done += ["policy", "stopped"]  # before the call: a stop that fails half-way is undone
            current.stop(timeout=env.stop_timeout)
        result.stop_seconds = time.monotonic() - switch_began
        new.start()
        _, result.checks = site.prove(new, base)
        if current is not None:
            result.outage_seconds = time.monotonic() - switch_began
    except BaseException as exc:
        restored = _undo_switch(site, current, new, older, old_policy, done, log)
        raise switch_error(exc, f"the new version {short(result.digest)}", restored) from None
    if older is not None:
        older.remove(force=True)
    if current is None:
        log(f"{site.name} started on port {env.port}")
    else:
        log(
            f"switched {site.name}: old one stopped in {result.stop_seconds:.2f} s, new one "
            f"healthy {result.outage_seconds or 0:.2f} s after the stop began; old one kept as "
            f"{previous_name}"
        )
    for check in result.checks:
        log(f"  ok: {check}")


def switch_error(exc: BaseException, what: str, restored: str) -> BaseException:
    """The error to raise once a switch was undone: one line saying what serves now."""
    if isinstance(exc, Unhealthy):
        error = DeployError(f"{what} failed on the live port: {exc.message}; {restored}")
        error.details = exc.logs
        return error
    if isinstance(exc, APIError):
        return DeployError(f"the server's engine refused: {exc.explanation or exc}; {restored}")
    if isinstance(exc, RequestException):
        return DeployError(f"connection to the server lost: {type(exc).__name__}; {restored}")
    return exc  # an interrupt (already a one-line PipelineError) or a bug: re-raised as is


def _undo_switch(
    site: Site,
    current: Container | None,
    new: Container | None,
    older: Container | None,
    old_policy: dict[str, Any] | None,
    done: list[str],
    log: Log,
) -> str:
    """Put the server back as it was; returns what serves now, for the error message."""
    if new is not None:
        with contextlib.suppress(Exception):
            new.remove(force=True)
    outcome = f"removed it; nothing runs as {site.name} now (first deploy)"
    if current is not None:
        try:
            if "renamed" in done:
                current.rename(site.name)
            if "policy" in done and old_policy:
                current.update(restart_policy=old_policy)
            if "stopped" in done:
                current.start()
                site.prove(current, site.live_base())
                outcome = (
                    f"removed it and restarted the previous one ({short(digest_of(current))}), "
                    "which serves again"
                )
            else:
                outcome = f"removed it; {site.name} was not touched"
        except Exception as exc:  # say so, and do not hide the original failure
            outcome = f"removed it, but COULD NOT restore {site.name}: {exc}"
    if older is not None and "older" in done:
        with contextlib.suppress(Exception):
            older.rename(f"{site.name}-previous")
    log(f"undone: {outcome}")
    return outcome
