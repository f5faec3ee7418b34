"""``engine: swarm`` settings of a ``deploy:`` environment: replicas, how ports are published,
the rolling update and the HEALTHCHECK timing swarm gates each task with.

Why apart from ``settings.py``: they mean nothing to ``engine: container`` (and a future
Kubernetes engine would bring its own), so the generic parser asks this module which keys
belong to which engine and refuses a key given to the other one, naming it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.config.fields import Fields

ENGINES = ("container", "swarm")
SWARM_KEYS = ("replicas", "publish", "update")
SWARM_HEALTH_KEYS = ("interval", "retries", "start_period", "check_timeout")
CONTAINER_ONLY_KEYS = ("probe_port",)
UPDATE_KEYS = ("parallelism", "monitor", "order", "timeout")
PUBLISH_MODES = ("ingress", "host")
ORDERS = ("auto", "start-first", "stop-first")
_SERVICE_NAME_RE = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")


@dataclass(frozen=True)
class UpdatePolicy:
    """Swarm's update (and rollback) config. ``order: auto`` starts each new task before its
    old one stops wherever the ports allow it (see ``swarm_spec.update_order``)."""

    parallelism: int = 1
    monitor: float = 5.0  # seconds swarm watches each new task for a failure
    order: str = "auto"
    timeout: float = 600.0  # seconds hoist waits for a rollout before it asks for a rollback


@dataclass(frozen=True)
class HealthTiming:
    """Overrides of the HEALTHCHECK's timing; ``None`` keeps the image's own value."""

    interval: float | None = None
    retries: int | None = None
    start_period: float | None = None
    check_timeout: float | None = None


@dataclass(frozen=True)
class SwarmSettings:
    replicas: int = 1
    publish: str = "ingress"  # the routing mesh; "host" publishes on the task's node only
    update: UpdatePolicy = UpdatePolicy()
    health: HealthTiming = HealthTiming()

    @property
    def endpoint_mode(self) -> str:
        """The mesh balances over a virtual IP; host-mode ports go with DNS round robin."""
        return "vip" if self.publish == "ingress" else "dnsrr"


def parse_engine(section: Fields) -> str:
    engine = section.text("engine", "container") or "container"
    if engine not in ENGINES:
        raise section.error(
            "engine", f"{engine!r} is not a deploy engine", hint=f"one of: {', '.join(ENGINES)}"
        )
    return engine


def refuse_other_engines_keys(section: Fields, health: Fields, engine: str) -> None:
    """A key of the other engine is a mistake worth one line, not something silently ignored."""
    if engine == "swarm":
        for key in CONTAINER_ONLY_KEYS:
            if key in section.data:
                raise section.error(key, "only with engine: container")
        return
    for key in SWARM_KEYS:
        if key in section.data:
            raise section.error(key, "only with engine: swarm")
    for key in SWARM_HEALTH_KEYS:
        if key in health.data:
            raise health.error(key, "only with engine: swarm (the image's HEALTHCHECK timing)")


def parse_swarm(
    section: Fields, health: Fields, service: str, network: str, bound_ports: list[str]
) -> SwarmSettings:
    """``replicas``, ``publish``, ``update`` and the HEALTHCHECK timing under ``health``."""
    if not _SERVICE_NAME_RE.match(service):
        raise section.error(
            "container",
            f"{service!r} is not a swarm service name (letters, digits and inner -)",
            hint="set deploy.ENV.container to a name such as node-app",
        )
    if network == "host":
        raise section.error(
            "network",
            "network: host is for engine: container",
            hint="a swarm service publishes its ports (publish: ingress or host)",
        )
    if bound_ports:
        raise section.error(
            "ports",
            f"{bound_ports[0]!r}: swarm publishes a port on every interface of a node",
            hint="give HOST:CONTAINER and keep the port private with the node's firewall",
        )
    publish = section.text("publish", "ingress") or "ingress"
    if publish not in PUBLISH_MODES:
        raise section.error(
            "publish", f"{publish!r} is not a publish mode", hint="ingress (the mesh) or host"
        )
    return SwarmSettings(
        replicas=section.integer("replicas", 1, low=1, high=1000),
        publish=publish,
        update=_update(section.section("update", UPDATE_KEYS)),
        health=_timing(health),
    )


def _update(section: Fields) -> UpdatePolicy:
    order = section.text("order", "auto") or "auto"
    if order not in ORDERS:
        raise section.error("order", f"{order!r} is not an update order", hint=", ".join(ORDERS))
    return UpdatePolicy(
        parallelism=section.integer("parallelism", 1, low=1, high=1000),
        monitor=section.number("monitor", 5.0, low=0, high=3600),
        order=order,
        timeout=section.number("timeout", 600.0, low=10, high=86400),
    )


def _timing(health: Fields) -> HealthTiming:
    def seconds(key: str, low: float) -> float | None:
        return health.number(key, 0, low=low, high=3600) if key in health.data else None

    retries = health.integer("retries", 3, low=1, high=100) if "retries" in health.data else None
    return HealthTiming(
        interval=seconds("interval", 0.5),
        retries=retries,
        start_period=seconds("start_period", 0),
        check_timeout=seconds("check_timeout", 0.5),
    )
