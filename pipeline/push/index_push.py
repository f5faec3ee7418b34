"""Push several platforms' images as one image index: children by digest, then the index.

The order is what makes a release all-or-nothing: the children go to the first target by
digest with no tag (``skopeo.push_from_engine``), so until the index is put no tag has moved
and a failure leaves only unreferenced manifests; then the index (``push.index``) is put
under every tag there and verified — each tag serving the index digest, the index listing
exactly the children, each child there. The other targets receive a ``skopeo copy --all`` of
that index (the blobs as compressed once, the same digests), its other tags put from the
same bytes, and the same verification. ``invoke merge`` is the second half alone: the
children were pushed by the matrix jobs.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Mapping
from typing import TypeVar

from pipeline.build.platforms import Platform
from pipeline.engine import engine_host
from pipeline.errors import PipelineError, RegistryError
from pipeline.push import index
from pipeline.push.children import known_child, remember_child
from pipeline.push.index import Child
from pipeline.push.registries import skopeo
from pipeline.push.registries.kinds import Credentials, Target, prepare_target, target_credentials
from pipeline.push.registries.retry import RetryPolicy, retrying
from pipeline.push.registry_api import RegistryClient
from pipeline.push.target import PushResult
from pipeline.result import Log
from pipeline.secrets import redact

T = TypeVar("T")


def push_children(
    images: list[tuple[Platform, str]], target: Target, environ: Mapping[str, str], log: Log
) -> list[Child]:
    """Push each ``(platform, image id)`` to ``target`` by digest; the registry's children,
    each checked to be the platform it was built for. A child the registry already serves
    for that very image (``push.children``) is not exported and uploaded again."""
    credentials = target_credentials(target, environ)
    prepare_target(target, environ, log)
    registry = RegistryClient(target.name, target.endpoint, credentials)
    children = []
    for platform, image_id in images:
        there = known_child(registry, target, image_id, platform)
        if there is not None:
            log(f"[{target.name}] {platform}: already there: {target.repository}@{there.digest} "
                "(nothing to upload)")  # fmt: skip
            children.append(there)
            continue
        push = functools.partial(_push_one, engine_host(), image_id, target, credentials)
        digest, _ = _retried(target, log, push)
        found = index.child(registry, target.path, digest)
        if not found.platform.matches(platform):
            raise RegistryError(
                target.name, f"{digest} is {found.platform}, built for {platform}", transient=False
            )
        remember_child(target, image_id, digest)
        log(f"[{target.name}] {platform}: {target.repository}@{digest} (by digest, no tag)")
        children.append(found)
    return children


def publish_index(
    children: list[Child],
    targets: list[Target],
    tags: list[str],
    environ: Mapping[str, str],
    log: Log,
) -> list[PushResult]:
    """Put the index of ``children`` (already in the first target) under every tag, then
    copy it to the other targets; one result per target, in order."""
    body = index.index_json(children)
    first = targets[0]
    first_credentials = target_credentials(first, environ)
    results = [_put_here(first, first_credentials, children, body, tags, log)]
    if not results[0].ok:
        return results + [
            PushResult(t.name, t.repository, error=f"{t.name}: not copied, {first.name} failed")
            for t in targets[1:]
        ]
    digest = index.digest_of(body)
    for target in targets[1:]:
        credentials = target_credentials(target, environ)
        prepare_target(target, environ, log)
        copy = functools.partial(
            _copy_index, first, first_credentials, digest, target, credentials, tags[0]
        )
        result = _put_here(target, credentials, children, body, tags, log, before=copy)
        result.copied_from = first.name if result.ok else None
        results.append(result)
    return results


def _push_one(engine: str, image_id: str, target: Target, credentials: Credentials | None) -> str:
    try:
        return skopeo.push_from_engine(engine, image_id, target, credentials)
    except skopeo.CopyFailed as exc:
        raise RegistryError(target.name, str(exc), transient=True) from None


def _copy_index(
    source: Target,
    source_credentials: Credentials | None,
    digest: str,
    target: Target,
    credentials: Credentials | None,
    tag: str,
) -> None:
    """The index and every image it lists, copied as they are (``skopeo copy --all``)."""
    try:
        skopeo.copy(source, source_credentials, digest, target, credentials, tag, everything=True)
    except skopeo.CopyFailed as exc:
        raise RegistryError(target.name, str(exc), transient=True) from None


def _put_here(
    target: Target,
    credentials: Credentials | None,
    children: list[Child],
    body: bytes,
    tags: list[str],
    log: Log,
    before: Callable[[], None] | None = None,
) -> PushResult:
    """``before`` (the copy), then the index under every tag and its verification."""
    result = PushResult(target.name, target.repository, kind=target.kind, endpoint=target.endpoint)
    registry = RegistryClient(target.name, target.endpoint, credentials)
    started = time.monotonic()

    def put() -> str:
        if before is not None:
            before()
        digest = index.put_index(registry, target.path, body, tags)
        index.verify_index(registry, target.path, tags, children, digest)
        return digest

    try:
        result.digest, result.attempts = _retried(target, log, put)
        result.references = [target.reference(tag) for tag in tags]
        log(
            f"[{target.name}] index {result.digest} ({len(children)} platforms) under "
            f"{', '.join(tags)}"
        )
    except PipelineError as exc:
        result.error = redact(str(exc))
        log(f"[{target.name}] FAILED: {result.error}")
    result.seconds = time.monotonic() - started
    return result


def _retried(target: Target, log: Log, step: Callable[[], T]) -> tuple[T, int]:
    """``step``'s value, retried as every push is (transient registry errors); the attempts."""
    for attempt in retrying(RetryPolicy(), target.name, log, threading.Event()):
        with attempt:
            return step(), attempt.retry_state.attempt_number
    raise AssertionError("tenacity reraises the last error")  # pragma: no cover
