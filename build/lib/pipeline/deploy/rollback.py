"""``rollback`` swaps ``NAME`` and ``NAME-previous`` the same careful way a deploy switches
(a second rollback goes forward again). Only one previous version is kept: enough to undo a
deploy in one step without images piling up on the server."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from docker.models.containers import Container

from pipeline.deploy.release import short
from pipeline.deploy.site import Site, digest_of
from pipeline.deploy.spec import restart_policy
from pipeline.deploy.switch import switch_error
from pipeline.errors import DeployError
from pipeline.result import Log


@dataclass
class RollbackResult:
    environment: str
    host: str
    container: str
    digest: str | None
    replaced_digest: str | None
    outage_seconds: float
    checks: list[str]


def rollback(site: Site, log: Log) -> RollbackResult:
    """Swap ``NAME`` and ``NAME-previous``: the previous version serves again, checked."""
    server, env = site.server, site.env
    server.check_reachable("" if env.host_network else env.port.host_ip)
    previous = site.find("-previous")
    if previous is None:
        raise DeployError(
            f"nothing to roll back to: no {site.name}-previous on {server.name} (nothing changed)",
            hint="a rollback target exists from the second deploy on",
        )
    current = site.find()
    log(f"rolling {site.name} back: {short(digest_of(current))} -> {short(digest_of(previous))}")
    current_policy = current.attrs["HostConfig"].get("RestartPolicy") if current else None
    was_running = current is not None and current.status in ("running", "restarting")
    done: list[str] = []
    try:
        base = site.live_base()
        began = time.monotonic()
        if current is not None:
            current.rename(f"{site.name}-rollback")
            done.append("parked")
            if was_running:
                current.update(restart_policy={"Name": "no"})
                began = time.monotonic()
                done.append("stopped")
                current.stop(timeout=env.stop_timeout)
        previous.rename(site.name)
        done.append("renamed")
        previous.update(restart_policy=restart_policy(env.restart))
        previous.start()
        _, checks = site.prove(previous, base)
        outage = time.monotonic() - began
    except BaseException as exc:
        restored = _undo_rollback(site, current, previous, current_policy, done)
        what = f"the previous version {short(digest_of(previous))}"
        raise switch_error(exc, what, restored) from None
    if current is not None:
        current.rename(f"{site.name}-previous")
    log(f"{site.name} serves {short(digest_of(previous))} again (outage {outage:.2f} s)")
    for check in checks:
        log(f"  ok: {check}")
    return RollbackResult(
        env.name, server.name, site.name, digest_of(previous), digest_of(current), outage, checks
    )


def _undo_rollback(
    site: Site,
    current: Container | None,
    previous: Container,
    current_policy: dict[str, Any] | None,
    done: list[str],
) -> str:
    try:
        if "renamed" in done:
            previous.stop(timeout=site.env.stop_timeout)
            previous.update(restart_policy={"Name": "no"})
            previous.rename(f"{site.name}-previous")
        if current is None:
            return f"nothing runs as {site.name}"
        if "parked" in done:
            current.rename(site.name)
        if "stopped" in done:
            if current_policy:
                current.update(restart_policy=current_policy)
            current.start()
            site.prove(current, site.live_base())
        return f"{site.name} ({short(digest_of(current))}) serves again"
    except Exception as exc:
        return f"COULD NOT restore {site.name}: {exc}"
