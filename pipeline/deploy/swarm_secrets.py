"""Env file values as swarm secrets: one secret per key, mounted as ``/run/secrets/KEY``.

Why: a service's environment is part of its spec, which anyone with API access reads back
(``docker service inspect``), and an env file is where a deploy's secrets live. A swarm secret
is stored encrypted in the managers' raft log and reaches only the containers of the
services it is given to, as a file on a tmpfs. The spec names it and sets ``KEY_FILE`` to its
path — the convention of the official images (``POSTGRES_PASSWORD_FILE``) — so an app reads
the value from the file.

Secrets cannot be changed in place, so each deploy creates its own (``NAME-KEY-<deploy>``).
The ones neither the current nor the previous spec names are removed after a rollout, so a
swarm rollback (``rollback=previous``) still finds the previous version's secrets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import docker
from docker.errors import APIError, NotFound

from pipeline.deploy.spec import LABEL
from pipeline.deploy.swarm_spec import SecretRef

SERVICE_LABEL = f"{LABEL}service"
MAX_NAME = 64  # swarm's limit on object names


def create_secrets(
    client: docker.DockerClient, service: str, deploy_id: str, values: Mapping[str, str]
) -> list[SecretRef]:
    """One new secret per key; on a failure, those already made are removed again."""
    refs: list[SecretRef] = []
    suffix = f"-{deploy_id}"
    try:
        for key, value in values.items():
            name = f"{service}-{key}"[: MAX_NAME - len(suffix)] + suffix
            labels = {SERVICE_LABEL: service, f"{LABEL}env-key": key, f"{LABEL}deploy": deploy_id}
            created = client.api.create_secret(name, value.encode(), labels=labels)
            refs.append(SecretRef(key, str(created["ID"]), name))
    except BaseException:
        remove_secrets(client, (ref.secret_id for ref in refs))
        raise
    return refs


def remove_secrets(client: docker.DockerClient, secret_ids: Iterable[str]) -> int:
    """Remove each; returns how many are left (gone already counts as removed)."""
    left = 0
    for secret_id in secret_ids:
        try:
            client.api.remove_secret(secret_id)
        except NotFound:
            pass
        except APIError:  # still in use by a task that is going away
            left += 1
    return left


def prune_secrets(client: docker.DockerClient, service: str, specs: Iterable[Any]) -> int:
    """Remove this service's hoist secrets that none of ``specs`` (current, previous) names;
    returns how many could not be removed yet."""
    kept = {
        ref.get("SecretID")
        for spec in specs
        if spec
        for ref in spec["TaskTemplate"]["ContainerSpec"].get("Secrets") or []
    }
    ours = client.api.secrets(filters={"label": f"{SERVICE_LABEL}={service}"})
    return remove_secrets(client, (s["ID"] for s in ours if s["ID"] not in kept))
