"""The few Engine API calls of a swarm manager that deploy makes, and their errors as one line.

Why not docker-py's ``create_service``/``update_service``: they compute the registry login
themselves from ``~/.docker/config.json`` (credential helpers included), where a stale entry
wins — the trap docker-py 3281 describes for pushes. Here the push target's credentials go in
the ``X-Registry-Auth`` header of that one create or update request, as ``docker service
update --with-registry-auth`` sends them: the manager hands them to the nodes for their pulls,
nothing is written anywhere, and ``docker service inspect`` does not show them. The spec is
plain Engine API JSON (``swarm_spec.py``). Reads use docker-py's own calls.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import docker
from docker.auth import encode_header
from docker.errors import APIError, NotFound
from requests import RequestException

from pipeline.build.platforms import machine_platform
from pipeline.deploy.host import Server
from pipeline.errors import DeployError

ACTIVE_STATES = frozenset(
    ("new", "pending", "assigned", "accepted", "preparing", "ready", "starting", "running")
)


def check_manager(server: Server) -> None:
    """``engine: swarm`` talks to a manager: a worker or a lone engine cannot run services."""
    try:
        swarm = server.client.info().get("Swarm") or {}
    except (APIError, RequestException) as exc:
        raise DeployError(f"cannot read {server.name}'s swarm state: {exc}") from None
    if swarm.get("LocalNodeState") != "active":
        raise DeployError(
            f"{server.name} is not part of a swarm (nothing changed)",
            hint="deploy.ENV.host names a swarm manager's engine (`docker swarm init` makes one)",
        )
    if not swarm.get("ControlAvailable"):
        raise DeployError(
            f"{server.name} is a swarm worker; services are managed on a manager (nothing changed)",
            hint="point deploy.ENV.host at a manager (`docker node ls` there lists them)",
        )


def find_service(client: docker.DockerClient, name: str) -> dict[str, Any] | None:
    """The service named exactly ``name`` (the API also matches ID prefixes: refuse those)."""
    try:
        service: dict[str, Any] = client.api.inspect_service(name)
    except NotFound:
        return None
    return service if service["Spec"]["Name"] == name else None


def ready_nodes(client: docker.DockerClient) -> dict[str, str]:
    """Node ID -> hostname of every node that takes tasks (ready and active)."""
    return {
        node["ID"]: node["Description"]["Hostname"]
        for node in client.api.nodes()
        if node["Status"]["State"] == "ready" and node["Spec"].get("Availability") == "active"
    }


def node_names(client: docker.DockerClient) -> dict[str, str]:
    return {node["ID"]: node["Description"]["Hostname"] for node in client.api.nodes()}


def node_platforms(client: docker.DockerClient) -> dict[str, str]:
    """Each node's hostname and its engine's platform (``linux/arm64``): the platform its
    tasks run, the node's engine having pulled that image of an index."""
    platforms = {}
    for node in client.api.nodes():
        described = node.get("Description") or {}
        found = described.get("Platform") or {}
        arch = str(found.get("Architecture") or "")
        platform = machine_platform(str(found.get("OS") or "linux"), arch)
        platforms[str(described.get("Hostname", ""))] = str(platform) if arch else "-"
    return platforms


def service_tasks(client: docker.DockerClient, service_id: str) -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = client.api.tasks(filters={"service": service_id})
    return tasks


def registry_auth(auth: Mapping[str, str] | None, reference: str) -> dict[str, str]:
    """The ``X-Registry-Auth`` header for the registry of ``reference`` (none without login)."""
    if not auth:
        return {}
    registry = reference.split("/", 1)[0]
    return {"X-Registry-Auth": encode_header({**auth, "serveraddress": registry}).decode()}


def create_service(
    client: docker.DockerClient, spec: Mapping[str, Any], headers: Mapping[str, str]
) -> str:
    answer = _post(client, "/services/create", spec, {}, headers)
    return str(answer["ID"])


def update_service(
    client: docker.DockerClient,
    service: Mapping[str, Any],
    spec: Mapping[str, Any],
    headers: Mapping[str, str],
    *,
    rollback: bool = False,
) -> None:
    """Replace the service's spec (``rollback``: swarm's own return to its previous spec)."""
    params: dict[str, Any] = {"version": service["Version"]["Index"]}
    if rollback:
        params["rollback"] = "previous"
    _post(client, f"/services/{service['ID']}/update", spec, params, headers)


def remove_service(client: docker.DockerClient, service_id: str) -> None:
    client.api.remove_service(service_id)


def task_log_tail(
    client: docker.DockerClient, service_id: str, task_id: str, lines: int = 5
) -> list[str]:
    """The last lines a task wrote (the service's logs, each line tagged with its task)."""
    try:
        stream = client.api.service_logs(
            service_id, details=True, stdout=True, stderr=True, tail=200, is_tty=False
        )
        text = b"".join(stream).decode(errors="replace")
    except (APIError, RequestException):
        return []
    tag = f"com.docker.swarm.task.id={task_id}"
    found = []
    for line in text.splitlines():
        attributes, _, message = line.partition(" ")
        if tag in attributes.split(","):
            found.append(message.rstrip())
    return found[-lines:]


def _post(
    client: docker.DockerClient,
    path: str,
    body: Mapping[str, Any],
    params: Mapping[str, Any],
    headers: Mapping[str, str],
) -> dict[str, Any]:
    url = f"{client.api.base_url}/v{client.api.api_version}{path}"
    try:
        response = client.api.post(url, json=dict(body), params=dict(params), headers=dict(headers))
    except RequestException as exc:
        raise DeployError(
            f"connection to the swarm manager lost: {type(exc).__name__}",
            hint="`invoke status` shows what the swarm runs now",
        ) from None
    if response.status_code >= 400:
        raise SwarmRefused(_message(response))
    answer: dict[str, Any] = response.json() if response.content else {}
    return answer


def _message(response: Any) -> str:
    try:
        message = str(response.json().get("message") or response.text)
    except ValueError:
        message = response.text
    message = re.sub(r"^rpc error: code = \w+ desc = ", "", " ".join(message.split()))
    return message[:240] or f"HTTP {response.status_code}"


class SwarmRefused(DeployError):
    """The manager refused a create or update; its own words are the message."""
