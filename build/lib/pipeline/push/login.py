"""``invoke login`` / ``logout``: a target's credentials verified by the engine with its
registry, as ``docker login`` does, then kept in (or erased from) docker's own store."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import docker
from docker.errors import APIError

from pipeline.errors import PipelineError, RegistryError
from pipeline.push.registries import Target, target_credentials
from pipeline.push.registries.credstore import config_path, erase, server_key, write
from pipeline.secrets import redact


@dataclass
class LoginResult:
    target: str
    server: str
    username: str = ""
    stored_in: str = ""
    error: str | None = None


def login(
    client: docker.DockerClient, targets: list[Target], environ: Mapping[str, str]
) -> list[LoginResult]:
    """For each target: find its credentials, have the engine verify them with the registry
    (as ``docker login`` does), then store them. One failing target does not stop the rest."""

    results = []
    for target in targets:
        result = LoginResult(target.name, server_key(target.endpoint))
        try:
            credentials = target_credentials(target, environ)
            if credentials is None:
                raise PipelineError(f"{target.name}: no credentials found to log in with")
            result.username = credentials.username
            try:
                client.login(
                    credentials.username,
                    credentials.password,
                    registry=result.server,
                    reauth=True,
                )
            except APIError as exc:
                message = redact(str(exc.explanation or exc))
                raise RegistryError(
                    target.name, f"login refused: {message}", transient=False
                ) from None
            result.stored_in = write(target, credentials, environ)
        except PipelineError as exc:
            result.error = str(exc)
        results.append(result)
    return results


def logout(targets: list[Target], environ: Mapping[str, str]) -> list[LoginResult]:
    """Erase each target's stored credentials; ``stored_in`` is empty when there were none."""
    return [
        LoginResult(t.name, server_key(t.endpoint), stored_in=str(config_path(environ)))
        if erase(t, environ)
        else LoginResult(t.name, server_key(t.endpoint))
        for t in targets
    ]
