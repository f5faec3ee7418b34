"""The push stage: one built image to every target at once, each retried and verified on its own
(``push.target``).

Fan-out: docker compresses every layer again for each registry it pushes to, so with two or
more targets the first is pushed with docker and the others receive a copy of what that
registry now serves (compressed once, same digest), in parallel: over the registry API when
only small blobs are missing there (``push.registry_copy``), else by ``skopeo copy``; the digest
check is the same. Without skopeo, or when the first target fails, every target gets its own
docker push, all in parallel.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import docker

from pipeline.errors import PipelineError
from pipeline.push.registries import skopeo
from pipeline.push.registries.kinds import Target
from pipeline.push.registries.retry import RetryPolicy
from pipeline.push.target import PushResult, Source, TargetPush
from pipeline.result import Log


def push_all(
    client: docker.DockerClient,
    image_id: str,
    targets: list[Target],
    tags: list[str],
    environ: Mapping[str, str],
    log: Log,
    retry: RetryPolicy | None = None,
    fan_out: bool = True,
) -> list[PushResult]:
    """Push to every target; results come back in the order of ``targets``.

    ``fan_out`` (the default) pushes the first target with docker and copies it to the
    others; ``False`` gives every target its own docker push, all in parallel.
    """
    if not targets:
        return []
    if not tags:
        raise PipelineError("nothing to push: the image has no tags")
    seen: dict[str, str] = {}
    for target in targets:
        other = seen.setdefault(target.push_repository, target.name)
        if other != target.name:
            raise PipelineError(
                f"targets {other} and {target.name} both push to {target.push_repository}",
                hint="give them different repositories or endpoints",
            )
    policy = retry or RetryPolicy()
    stop = threading.Event()
    pushes = [TargetPush(client, target, environ, log, policy, stop) for target in targets]
    if not fan_out or len(pushes) == 1 or not skopeo.available():
        return _in_parallel(pushes, image_id, tags, None)
    seed = pushes[0]
    first = seed.run(image_id, tags)
    source = None
    if first.ok and first.digest:
        source = Source(seed.target, seed.credentials, first.digest)
        log(f"[{seed.target.name}] copying from here to the other targets (no recompression)")
    return [first, *_in_parallel(pushes[1:], image_id, tags, source)]


def _in_parallel(
    pushes: list[TargetPush], image_id: str, tags: list[str], source: Source | None
) -> list[PushResult]:
    with ThreadPoolExecutor(max_workers=len(pushes)) as pool:
        futures = [pool.submit(push.run, image_id, tags, source) for push in pushes]
        try:
            return [future.result() for future in futures]
        except BaseException:  # Ctrl-C, SIGTERM: stop the threads, or leaving here waits
            for push in pushes:  # for every push to finish
                push.stop.set()
            raise
