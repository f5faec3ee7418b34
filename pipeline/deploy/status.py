"""What runs in an environment, read from the server's own container labels, not a local file."""

from __future__ import annotations

from dataclasses import dataclass

from docker.errors import APIError
from docker.models.containers import Container

from pipeline.build.platforms import image_platform
from pipeline.deploy.site import Site, Unhealthy
from pipeline.deploy.spec import LABEL

STATUS_CHECK_TIMEOUT = 5.0


@dataclass
class ContainerStatus:
    name: str
    role: str
    state: str
    digest: str | None = None
    repository: str | None = None
    revision: str | None = None
    deployed_at: str | None = None
    started_at: str | None = None
    run_id: str | None = None
    engine_health: str | None = None  # the image's HEALTHCHECK as the engine sees it, if any
    check: str | None = None  # the live HTTP checks, run now
    healthy: bool | None = None
    platform: str | None = None  # the image's: of an index, the one this engine pulled


def status(site: Site) -> list[ContainerStatus]:
    """What runs as ``NAME`` (checked now, over HTTP) and what ``NAME-previous`` holds."""
    rows = []
    for role, suffix in (("live", ""), ("previous", "-previous"), ("candidate", "-candidate")):
        container = site.find(suffix)
        if container is None:
            if role == "live":
                rows.append(ContainerStatus(site.name, role, "absent", healthy=False))
            continue
        labels = container.labels or {}
        state = container.attrs["State"]
        started = str(state.get("StartedAt") or "")
        row = ContainerStatus(
            name=container.name or site.name + suffix,
            role=role,
            state=container.status,
            digest=labels.get(f"{LABEL}digest"),
            repository=labels.get(f"{LABEL}repository"),
            revision=labels.get(f"{LABEL}revision"),
            deployed_at=labels.get(f"{LABEL}deployed-at"),
            started_at=f"{started[:19]}Z" if started and not started.startswith("0001") else None,
            run_id=labels.get(f"{LABEL}run") or None,
            engine_health=(state.get("Health") or {}).get("Status"),
            platform=_platform(container),
        )
        if role == "live":
            row.healthy, row.check = _live_check(site, container)
        rows.append(row)
    return rows


def _platform(container: Container) -> str | None:
    try:
        return str(image_platform(container.image.attrs)) if container.image else None
    except APIError:  # the image was removed under the container
        return None


def _live_check(site: Site, container: Container) -> tuple[bool, str]:
    if container.status != "running":
        return False, f"not running ({container.status})"
    try:
        _, checks = site.prove(container, site.live_base(), STATUS_CHECK_TIMEOUT)
    except Unhealthy as exc:
        return False, exc.message
    return True, "; ".join(checks)


def render_status(site: Site, rows: list[ContainerStatus]) -> str:
    lines = [f"{site.env.name} on {site.server.name}:"]
    for row in rows:
        if row.state == "absent":
            lines.append(f"  {row.name}: not deployed")
            continue
        lines.append(f"  {row.name} ({row.role}): {row.state} since {row.started_at or '-'}")
        lines.append(f"    digest     {row.digest or '- (not deployed by hoist)'}")
        lines.append(f"    platform   {row.platform or '-'}")
        lines.append(f"    repository {row.repository or '-'}  revision {row.revision or '-'}")
        lines.append(f"    deployed   {row.deployed_at or '-'}  hoist run {row.run_id or '-'}")
        if row.role == "live":
            health = "healthy" if row.healthy else "UNHEALTHY"
            engine = f" (engine healthcheck: {row.engine_health})" if row.engine_health else ""
            lines.append(f"    health     {health}: {row.check}{engine}")
    return "\n".join(lines)
