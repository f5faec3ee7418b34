"""Pull ``repository@digest`` on a server's engine with the push target's credentials.

Why its own module: this is the check every deploy engine makes before anything changes on
the server — the digest exists in the registry, the server reaches that registry, the
credentials are accepted — and the pulled image's own configuration (its revision label, its
HEALTHCHECK) is read from there. ``engine: container`` runs what it pulled; ``engine: swarm``
pulls on the manager first for the same proof, then lets every node pull for itself.

The credentials go with the pull request only (``auth_config``, the ``X-Registry-Auth``
header): the engine uses them for that pull and keeps nothing.
"""

from __future__ import annotations

import re
import time
from typing import Any

from docker.errors import APIError
from requests import RequestException

from pipeline.deploy.host import Server
from pipeline.deploy.release import REVISION_LABEL, Release, short
from pipeline.errors import DeployError
from pipeline.push.registries.kinds import Credentials
from pipeline.result import Log


def pull_release(
    server: Server, release: Release, credentials: Credentials | None, log: Log
) -> tuple[Release, dict[str, Any], float]:
    """Pull the release; returns it with the image's revision, the image's ``Config`` and the
    seconds the pull took. Any failure is one ``DeployError`` saying nothing changed."""
    log(f"pulling {release.reference} on {server.name}")
    began = time.monotonic()
    auth = credentials.auth_config() if credentials else None
    done: set[str] = set()
    try:
        for chunk in server.client.api.pull(
            release.pull_repository, tag=release.digest, stream=True, decode=True, auth_config=auth
        ):
            if "error" in chunk or "errorDetail" in chunk:
                detail = chunk.get("errorDetail") or {}
                raise pull_error(server, release, str(detail.get("message") or chunk["error"]))
            layer, state = chunk.get("id"), str(chunk.get("status", ""))
            if layer and state in ("Pull complete", "Already exists") and layer not in done:
                done.add(layer)
                log(f"  {layer}: {state}")
    except APIError as exc:  # NotFound included: the registry has no such manifest
        raise pull_error(server, release, str(exc.explanation or exc)) from None
    except RequestException as exc:
        raise DeployError(
            f"connection to {server.name} lost while pulling: {type(exc).__name__} "
            "(nothing changed on the server)"
        ) from None
    seconds = time.monotonic() - began
    config = server.client.images.get(release.reference).attrs.get("Config") or {}
    revision = (config.get("Labels") or {}).get(REVISION_LABEL) or release.revision
    log(f"pulled {short(release.digest)} in {seconds:.1f} s")
    pulled = Release(
        release.repository, release.pull_repository, release.digest, release.target,
        release.run_id, revision,
    )  # fmt: skip
    return pulled, config, seconds


def pull_error(server: Server, release: Release, message: str) -> DeployError:
    message = " ".join(message.split())
    if re.search(r"manifest unknown|not found|name unknown|\b404\b", message, re.IGNORECASE):
        return DeployError(
            f"{release.digest} is not in {release.repository} (nothing changed on the server)",
            hint="push it first (`invoke push`), or check --digest",
        )
    if re.search(r"unauthori[sz]ed|denied|forbidden|authentication", message, re.IGNORECASE):
        return DeployError(
            f"{release.repository} refused the pull from {server.name}: {message[:160]} "
            "(nothing changed on the server)",
            hint=f"check the credentials of push target {release.target}",
        )
    return DeployError(
        f"pulling {release.reference} on {server.name} failed: {message[:200]} "
        "(nothing changed on the server)"
    )
