"""The container a release runs as: ``docker run``'s options from the environment, its env file read
the way ``--env-file`` reads one, and the labels that say what runs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pipeline.deploy.release import Release
from pipeline.deploy.settings import DeployEnvironment
from pipeline.errors import ConfigError

LABEL = "io.hoist."


@dataclass(frozen=True)
class AppEnvironment:
    """The app's environment, kept in two parts because engines treat them differently: what
    the env file holds is often secret (a swarm gets it as secrets, never in its service spec),
    ``env:`` in pipeline.yaml is not (it is committed with the file)."""

    from_file: Mapping[str, str] = field(default_factory=dict)
    plain: Mapping[str, str] = field(default_factory=dict)

    def merged(self) -> dict[str, str]:
        """Both as one environment, ``env:`` winning as it does over ``--env-file``."""
        return {**self.from_file, **self.plain}


def read_env_file(
    env: DeployEnvironment, source: str, environ: Mapping[str, str]
) -> dict[str, str]:
    """``docker run --env-file`` rules: ``KEY=VALUE`` lines, ``#`` comments, bare ``KEY`` taken
    from this process's environment (so a CI secret can be passed by name). Values are never
    printed: they are often secrets."""
    if env.env_file is None:
        return {}
    where = f"deploy.{env.name}.env_file"
    try:
        text = env.env_file.read_text()
    except OSError as exc:
        raise ConfigError(source, where, f"cannot read {env.env_file}: {exc.strerror}") from None
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        key, has_value, value = stripped.partition("=")
        if not key or not re.match(r"^[A-Za-z_][A-Za-z0-9_.]*$", key):
            raise ConfigError(
                source, where, f"{env.env_file.name} line {number}: expected KEY=VALUE"
            )
        if has_value:
            values[key] = value
        elif key in environ:
            values[key] = environ[key]
    return values


def restart_policy(restart: str) -> dict[str, Any]:
    name, _, count = restart.partition(":")
    policy: dict[str, Any] = {"Name": name}
    if count:
        policy["MaximumRetryCount"] = int(count)
    return policy


def container_kwargs(
    env: DeployEnvironment,
    release: Release,
    *,
    role: str,
    environment: Mapping[str, str],
    labels: Mapping[str, str],
    probe_bind: str = "127.0.0.1",
) -> dict[str, Any]:
    """``containers.create`` arguments for the live container or the candidate.

    The candidate differs only where it must: its name, a temporary port, no restart policy
    (a failing candidate must not come back).
    """
    candidate = role == "candidate"
    values = dict(environment)
    kwargs: dict[str, Any] = {
        "image": release.reference,
        "name": f"{env.container}-candidate" if candidate else env.container,
        "labels": {**labels, f"{LABEL}role": role},
        "network_mode": env.network,
        "detach": True,
    }
    if env.host_network:
        assert env.port_env is not None and env.probe_port is not None
        values[env.port_env] = str(env.probe_port if candidate else env.port.host_port)
    else:
        if env.port_env:
            values[env.port_env] = str(env.port.container_port)
        if candidate:
            kwargs["ports"] = {
                f"{env.port.container_port}/tcp": (probe_bind, None) if probe_bind else None
            }
        else:  # docker-py: one binding, or a list of them for a port published twice
            bindings: dict[str, list[Any]] = {}
            for mapping in env.ports:
                binding = (
                    (mapping.host_ip, mapping.host_port) if mapping.host_ip else mapping.host_port
                )
                bindings.setdefault(f"{mapping.container_port}/tcp", []).append(binding)
            kwargs["ports"] = {k: v[0] if len(v) == 1 else v for k, v in bindings.items()}
    if not candidate:
        kwargs["restart_policy"] = restart_policy(env.restart)
    if env.memory:
        kwargs["mem_limit"] = env.memory
    if env.cpus:
        kwargs["nano_cpus"] = round(env.cpus * 1e9)
    kwargs["environment"] = values
    return kwargs


def deploy_labels(
    env: DeployEnvironment, release: Release, deploy_id: str, now: datetime
) -> dict[str, str]:
    return {
        f"{LABEL}env": env.name,
        f"{LABEL}digest": release.digest,
        f"{LABEL}repository": release.repository,
        f"{LABEL}revision": release.revision or "unknown",
        f"{LABEL}deployed-at": now.isoformat(timespec="seconds"),
        f"{LABEL}run": release.run_id,
        f"{LABEL}deploy": deploy_id,
    }
