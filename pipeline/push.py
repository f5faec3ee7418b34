"""Push one built image to every target at once, with retries and digest verification.

Per target: find credentials (in memory only, passed per push as ``auth_config`` so a stale
credential helper cannot win, docker-py 3281), tag, push each tag reading docker's stream
(docker-py does not raise on registry errors, 3161: they arrive as ``{"error": ...}`` lines),
then ask the registry itself which digest it serves and compare. Transient failures (dropped
connections, timeouts, 429/5xx) are retried with exponential backoff and jitter; 401/403 and
invalid names fail at once. Targets run in parallel and one failing never stops the others.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pipeline.errors import PipelineError, RegistryError
from pipeline.registries import Credentials, Target, target_credentials
from pipeline.registry_api import RegistryClient
from pipeline.result import Log

if TYPE_CHECKING:
    import docker

ATTEMPTS = 4

_PERMANENT = re.compile(
    r"unauthori[sz]ed|authentication required|denied|forbidden|\b40[13]\b|name invalid|"
    r"invalid reference|repository name must|manifest invalid|no basic auth credentials|"
    r"does not exist locally|name unknown",
    re.IGNORECASE,
)


@dataclass
class PushResult:
    target: str
    repository: str
    references: list[str] = field(default_factory=list)
    digest: str | None = None
    attempts: int = 0
    seconds: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def classify_error(registry: str, message: str) -> RegistryError:
    """A registry error line from docker's push stream, marked transient or not."""
    message = " ".join(message.split())
    if _PERMANENT.search(message):
        hint = "check the credentials and the repository name for this target"
        return RegistryError(registry, message, transient=False, hint=hint)
    return RegistryError(registry, message, transient=True)


def read_push_stream(registry: str, stream: Iterable[Mapping[str, Any]], log: Log) -> str | None:
    """Follow docker's push stream: show per-layer progress, raise on errors, return digest."""
    digest = None
    last_status: dict[str, str] = {}
    for chunk in stream:
        if "error" in chunk or "errorDetail" in chunk:
            detail = chunk.get("errorDetail") or {}
            raise classify_error(registry, str(detail.get("message") or chunk.get("error")))
        aux = chunk.get("aux")
        if isinstance(aux, Mapping) and aux.get("Digest"):
            digest = str(aux["Digest"])
        layer, status = chunk.get("id"), chunk.get("status")
        if layer and status and last_status.get(layer) != status:
            last_status[layer] = status
            if status in ("Pushed", "Layer already exists", "Mounted from") or status.startswith(
                "Mounted"
            ):
                log(f"[{registry}] {layer}: {status}")
    return digest


def push_all(
    client: docker.DockerClient,
    image_id: str,
    targets: list[Target],
    tags: list[str],
    environ: Mapping[str, str],
    log: Log,
) -> list[PushResult]:
    """Push to every target in parallel; results come back in the order of ``targets``."""
    if not targets:
        return []
    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        futures = [
            pool.submit(_push_target, client, image_id, target, tags, environ, log)
            for target in targets
        ]
        return [future.result() for future in futures]


def _push_target(
    client: docker.DockerClient,
    image_id: str,
    target: Target,
    tags: list[str],
    environ: Mapping[str, str],
    log: Log,
) -> PushResult:
    import tenacity

    result = PushResult(target.name, target.repository)
    started = time.monotonic()
    try:
        credentials = target_credentials(target, environ)
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(ATTEMPTS),
            wait=tenacity.wait_exponential_jitter(initial=0.5, max=8),
            retry=tenacity.retry_if_exception(
                lambda exc: isinstance(exc, RegistryError) and exc.transient
            ),
            before_sleep=lambda state: log(
                f"[{target.name}] attempt {state.attempt_number} failed "
                f"({state.outcome.exception() if state.outcome else '?'}); retrying"
            ),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                result.attempts = attempt.retry_state.attempt_number
                if credentials is not None and credentials.expired():
                    credentials = target_credentials(target, environ)
                result.digest = _push_once(client, image_id, target, tags, credentials, log)
        result.references = [target.reference(tag) for tag in tags]
        log(f"[{target.name}] pushed {target.repository} {result.digest}")
    except PipelineError as exc:
        result.error = str(exc)
        log(f"[{target.name}] FAILED: {exc}")
    result.seconds = time.monotonic() - started
    return result


def _push_once(
    client: docker.DockerClient,
    image_id: str,
    target: Target,
    tags: list[str],
    credentials: Credentials | None,
    log: Log,
) -> str:
    from docker.errors import APIError
    from requests.exceptions import ConnectionError as EngineConnectionError

    image = client.images.get(image_id)
    auth = credentials.auth_config() if credentials else None
    digest = None
    for tag in tags:
        try:
            image.tag(target.push_repository, tag)
            stream = client.api.push(
                target.push_repository, tag=tag, stream=True, decode=True, auth_config=auth
            )
            pushed = read_push_stream(target.name, stream, log)
        except APIError as exc:
            raise classify_error(target.name, str(exc.explanation or exc)) from None
        except EngineConnectionError as exc:
            raise RegistryError(
                target.name, f"engine connection lost: {exc}", transient=True
            ) from None
        if pushed is None:
            raise RegistryError(target.name, f"no digest reported for tag {tag}", transient=True)
        if digest is not None and pushed != digest:
            raise RegistryError(
                target.name, f"tag {tag} got {pushed}, other tags {digest}", transient=False
            )
        digest = pushed
    assert digest is not None
    _verify(target, tags, digest, credentials)
    return digest


def _verify(target: Target, tags: list[str], digest: str, credentials: Credentials | None):
    """Ask the registry what it serves for each tag; it must be exactly what was pushed."""
    registry = RegistryClient(target.name, target.endpoint, credentials)
    for tag in tags:
        served = registry.manifest_digest(target.path, tag)
        if served != digest:
            raise RegistryError(
                target.name,
                f"registry serves {served or 'nothing'} for {target.reference(tag)}, "
                f"pushed {digest}",
                transient=True,
            )
