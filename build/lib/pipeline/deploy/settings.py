"""``deploy:`` of pipeline.yaml: named server environments and how the app runs there.

Health rules default to smoke's (the new version must pass what the pushed one passed), and
``registry`` must name a push target, so this section is parsed after those two.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.config.fields import Fields
from pipeline.errors import ConfigError
from pipeline.push.registries.base import TargetConfig
from pipeline.smoke.http_checks import HttpCheck
from pipeline.smoke.settings import SmokeConfig

DEPLOY_KEYS = (
    "host", "container", "registry", "network", "ports", "port_env", "probe_port", "env_file",
    "env", "restart", "memory", "cpus", "stop_timeout", "health",
)  # fmt: skip
_ENV_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_CONTAINER_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,49}$")
_VARIABLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RESTART_RE = re.compile(r"^(no|always|unless-stopped|on-failure(:[1-9][0-9]{0,2})?)$")
_MEMORY_RE = re.compile(r"^([0-9]+)([bkmg]?)$", re.IGNORECASE)
_PORT_RE = re.compile(
    r"^(?:(?P<ip>[0-9]{1,3}(?:\.[0-9]{1,3}){3}):)?(?:(?P<host>[0-9]+):)?(?P<container>[0-9]+)$"
)
HOST_SCHEMES = ("ssh://", "unix://", "tcp://")
MIN_MEMORY = 6 * 1024 * 1024  # the engine refuses less


@dataclass(frozen=True)
class PortMapping:
    """One ``[IP:]HOST:CONTAINER`` rule, written as ``docker run -p`` writes it.

    ``host_ip`` empty means every interface of the server, as with ``-p 8080:3000``.
    """

    host_port: int
    container_port: int
    host_ip: str = ""

    def __str__(self) -> str:
        ip = f"{self.host_ip}:" if self.host_ip else ""
        return f"{ip}{self.host_port}:{self.container_port}"


@dataclass(frozen=True)
class HealthConfig:
    """The HTTP check a new version must pass, before and after the switch (smoke's rules)."""

    path: str = "/healthz"
    expect_status: int = 200
    expect_body: str | None = None
    timeout: float = 30.0


@dataclass(frozen=True)
class DeployEnvironment:
    """One named environment under ``deploy:`` (``invoke deploy --env NAME``).

    ``network: host`` runs the app in the server's network namespace: nothing is published,
    the app is told its port through ``port_env`` (``PORT``) and the new version is first
    checked on ``probe_port``. Any other network publishes ``ports`` and checks the new version
    on a random 127.0.0.1 port the engine picks.
    """

    name: str
    container: str
    health: HealthConfig
    ports: tuple[PortMapping, ...]
    host: str | None = None
    registry: str | None = None
    network: str = "bridge"
    port_env: str | None = None
    probe_port: int | None = None
    env_file: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    restart: str = "unless-stopped"
    memory: int | None = None
    cpus: float | None = None
    stop_timeout: int = 10

    @property
    def port(self) -> PortMapping:
        """The published port the health check is aimed at (the first one)."""
        return self.ports[0]

    @property
    def host_network(self) -> bool:
        return self.network == "host"


@dataclass(frozen=True)
class Deployment:
    """What a deploy needs: the environment, and of the rest of pipeline.yaml the image's name,
    the push targets it can be pulled from, smoke's checks and the file it all came from."""

    environment: DeployEnvironment
    image: str
    targets: tuple[TargetConfig, ...]
    checks: tuple[HttpCheck, ...]
    source: Path


def select_environment(
    environments: Mapping[str, DeployEnvironment],
    name: str | None,
    default: DeployEnvironment,
    source: str,
) -> DeployEnvironment:
    """``--env NAME``; without it the only configured environment (or ``default`` when the
    file has no ``deploy:`` section)."""
    if name:
        if name in environments:
            return environments[name]
        if not environments and name == default.name:
            return default
        known = ", ".join(environments) or "none (the defaults are called 'default')"
        raise ConfigError(
            source, f"deploy.{name}", "no such environment", hint=f"configured: {known}"
        )
    if not environments:
        return default
    if len(environments) == 1:
        return next(iter(environments.values()))
    raise ConfigError(
        source,
        "deploy",
        f"{len(environments)} environments ({', '.join(environments)})",
        hint="pass --env NAME",
    )


def parse_deploy(
    top: Fields, root: Path, image: str, smoke: SmokeConfig, registries: list[TargetConfig]
) -> dict[str, DeployEnvironment]:
    """The named environments; none when the file has no ``deploy:`` (see
    ``default_environment``)."""
    raw = top.data.get("deploy")
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or not raw:
        raise top.error("deploy", "expected a mapping of environment names to settings")
    environments: dict[str, DeployEnvironment] = {}
    for name, settings in raw.items():
        if not isinstance(name, str) or not _ENV_NAME_RE.match(name):
            raise top.error("deploy", f"{name!r} is not a valid environment name")
        section = Fields(top.source, f"deploy.{name}", settings, DEPLOY_KEYS)
        environments[name] = _environment(section, name, root, image, smoke, registries)
    return environments


def default_environment(image: str, smoke: SmokeConfig) -> DeployEnvironment:
    """The environment ``invoke deploy`` uses when pipeline.yaml has no ``deploy:`` section:
    the container named after the image, smoke's port published as is, smoke's health rules."""
    return DeployEnvironment(
        name="default",
        container=image.rsplit("/", 1)[-1],
        health=HealthConfig(smoke.path, smoke.expect_status, smoke.expect_body, smoke.timeout),
        ports=(PortMapping(smoke.port, smoke.port),),
    )


def _environment(
    section: Fields,
    name: str,
    root: Path,
    image: str,
    smoke: SmokeConfig,
    registries: list[TargetConfig],
) -> DeployEnvironment:
    network = section.text("network", "bridge") or "bridge"
    ports = _deploy_ports(section, smoke.port)
    probe_port = _probe_port(section, network, ports)
    port_env = section.text("port_env", "PORT" if network == "host" else None)
    if port_env is not None and not _VARIABLE_RE.match(port_env):
        raise section.error("port_env", f"{port_env!r} is not a variable name")
    env_file = section.text("env_file")
    return DeployEnvironment(
        name=name,
        container=_container(section, image),
        health=_health(section.section("health", tuple(HealthConfig.__dataclass_fields__)), smoke),
        ports=ports,
        host=_host(section),
        registry=_registry(section, registries),
        network=network,
        port_env=port_env,
        probe_port=probe_port,
        env_file=(root / env_file) if env_file else None,
        env=section.str_map("env"),
        restart=_restart(section),
        memory=_memory(section),
        cpus=section.number("cpus", 1.0, low=0.01, high=1024) if "cpus" in section.data else None,
        stop_timeout=section.integer("stop_timeout", 10, low=0, high=3600),
    )


def _host(section: Fields) -> str | None:
    host = section.text("host")
    if host is not None and not host.startswith(HOST_SCHEMES):
        raise section.error(
            "host",
            f"{host!r} is not a Docker host",
            hint="ssh://user@host, tcp://host:2376, unix://",
        )
    return host


def _container(section: Fields, image: str) -> str:
    container = section.text("container", image.rsplit("/", 1)[-1]) or ""
    if not _CONTAINER_NAME_RE.match(container):
        raise section.error(
            "container", f"{container!r} is not a valid container name (letters, digits, _ . -)"
        )
    return container


def _registry(section: Fields, registries: list[TargetConfig]) -> str | None:
    """A push target's name (none listed: the run's default targets, checked in the run)."""
    registry = section.text("registry")
    if registry is not None and registries and registry not in {t.name for t in registries}:
        raise section.error(
            "registry",
            f"no push target named {registry!r}",
            hint=f"one of: {', '.join(t.name for t in registries)}",
        )
    return registry


def _probe_port(section: Fields, network: str, ports: tuple[PortMapping, ...]) -> int | None:
    """Where a new version is checked first; required with ``network: host``, where the live
    version holds the app's own port."""
    probe_port = None
    if "probe_port" in section.data:
        probe_port = section.integer("probe_port", 0, low=1, high=65535)
    if network == "host":
        if len(ports) != 1 or ports[0].host_ip or ports[0].host_port != ports[0].container_port:
            raise section.error(
                "ports",
                "with network: host the app listens on the server's port itself",
                hint="give exactly one port, e.g. ports: ['8080']",
            )
        if probe_port is None or probe_port == ports[0].host_port:
            raise section.error(
                "probe_port",
                "network: host needs a probe_port, free on the server, other than the live port",
                hint="the new version is checked there before it replaces the live one",
            )
    return probe_port


def _deploy_ports(section: Fields, default_port: int) -> tuple[PortMapping, ...]:
    raw = section.data.get("ports")
    if raw is None:
        return (PortMapping(default_port, default_port),)
    if not isinstance(raw, list) or not raw:
        raise section.error("ports", "expected a list such as ['8080:3000']")
    ports = []
    for i, item in enumerate(raw):
        match = None
        if isinstance(item, (str, int)) and not isinstance(item, bool):
            match = _PORT_RE.match(str(item).strip())
        if match is None:
            raise section.error(
                f"ports[{i}]", f"{item!r} is not [IP:]HOST:CONTAINER", hint="e.g. '8080:3000'"
            )
        container = int(match["container"])
        host = int(match["host"]) if match["host"] else container
        if not (1 <= host <= 65535 and 1 <= container <= 65535):
            raise section.error(f"ports[{i}]", f"{item!r}: ports are 1 to 65535")
        ports.append(PortMapping(host, container, match["ip"] or ""))
    return tuple(ports)


def _health(section: Fields, smoke: SmokeConfig) -> HealthConfig:
    """Health rules default to smoke's: the new version must pass what the pushed one passed."""
    path = section.text("path", smoke.path) or smoke.path
    if not path.startswith("/"):
        raise section.error("path", f"{path!r} must start with /")
    expect_body = section.regex("expect_body", smoke.expect_body)
    return HealthConfig(
        path=path,
        expect_status=section.integer("expect_status", smoke.expect_status, low=100, high=599),
        expect_body=expect_body,
        timeout=section.number("timeout", smoke.timeout, low=1, high=3600),
    )


def _restart(section: Fields) -> str:
    restart = section.text("restart", "unless-stopped") or "unless-stopped"
    if not _RESTART_RE.match(restart):
        raise section.error(
            "restart",
            f"{restart!r} is not a restart policy",
            hint="no, always, unless-stopped, on-failure or on-failure:N",
        )
    return restart


def _memory(section: Fields) -> int | None:
    """``256m`` / ``1g`` / bytes, as ``docker run --memory`` takes it, in bytes."""
    raw = section.data.get("memory")
    if raw is None:
        return None
    match = _MEMORY_RE.match(str(raw).strip()) if not isinstance(raw, bool) else None
    if match is None:
        raise section.error("memory", f"{raw!r} is not a size", hint="e.g. 256m or 1g")
    scale = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[match[2].lower()]
    size = int(match[1]) * scale
    if size < MIN_MEMORY:
        raise section.error("memory", f"{raw!r} is below the engine's minimum of 6m")
    return size
