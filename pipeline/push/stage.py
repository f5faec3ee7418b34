"""Push one built image to every target at once, with retries and digest verification.

Per target: find credentials (in memory only, passed per push as ``auth_config`` so a stale
credential helper cannot win, docker-py 3281, and nothing is written to the docker config),
let the kind prepare the registry (ECR: create the repository), tag, push each tag reading
docker's stream (docker-py does not raise on registry errors, 3161: they arrive as
``{"error": ...}`` lines), then ask the registry itself which digest it serves and compare.
Transient failures (dropped connections, timeouts, 429/5xx) are retried with exponential
backoff and jitter; 401/403, invalid names and TLS trust problems fail at once. Short-lived
tokens are fetched again when they expire between attempts. One failing target never stops
the others, and every result says how many attempts and seconds it took. Ctrl-C or SIGTERM
stops every target's push at its next progress line (or backoff), not after the upload.

Fan-out: docker compresses every layer again for each registry it pushes to, so with two or
more targets the first is pushed with docker and the others receive a ``skopeo copy`` of what
that registry now serves (compressed once, same digest), in parallel; the digest check is the
same. Without skopeo, or when the first target fails, every target gets its own docker push,
all in parallel.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pipeline.errors import Interrupted, PipelineError, RegistryError
from pipeline.push.registries import Credentials, Target, prepare_target, skopeo, target_credentials
from pipeline.push.registries.generic import anonymous_hint
from pipeline.push.registries.retry import RetryPolicy, Stopped, retrying
from pipeline.push.registry_api import RegistryClient
from pipeline.result import Log

if TYPE_CHECKING:
    import docker

PROGRESS_EVERY = 2.0  # seconds between per-target upload progress lines

_PERMANENT = re.compile(
    r"unauthori[sz]ed|authentication required|denied|forbidden|\b40[13]\b|name invalid|"
    r"invalid reference|repository name must|manifest invalid|no basic auth credentials|"
    r"does not exist locally|name unknown",
    re.IGNORECASE,
)
_UNAUTHORIZED = re.compile(
    r"unauthori[sz]ed|authentication required|no basic auth credentials", re.IGNORECASE
)
_TLS = re.compile(r"x509|certificate|server gave HTTP response to HTTPS client", re.IGNORECASE)


@dataclass
class PushResult:
    target: str
    repository: str
    references: list[str] = field(default_factory=list)
    digest: str | None = None
    attempts: int = 0
    seconds: float = 0.0
    error: str | None = None
    kind: str = ""
    endpoint: str = ""
    credentials: str = ""
    """Where the credentials came from (variable names or "anonymous"), never their value."""
    copied_from: str | None = None
    """The target whose registry this one was copied from (fan-out), if not pushed itself."""

    @property
    def ok(self) -> bool:
        return self.error is None


def classify_error(registry: str, message: str) -> RegistryError:
    """A registry error line from docker's push stream, marked transient or not."""
    message = " ".join(message.split())
    if _PERMANENT.search(message):
        hint = "check the credentials and the repository name for this target"
        return RegistryError(registry, message, transient=False, hint=hint)
    if _TLS.search(message):
        hint = "trust the registry's CA in /etc/docker/certs.d/HOST:PORT/ca.crt"
        return RegistryError(registry, message, transient=False, hint=hint)
    return RegistryError(registry, message, transient=True)


class _Progress:
    """Per-layer push progress for one target, condensed to a line every few seconds."""

    def __init__(self, registry: str, log: Log) -> None:
        self.registry = registry
        self.log = log
        self.status: dict[str, str] = {}
        self.bytes: dict[str, tuple[int, int]] = {}
        self.last = time.monotonic()

    def update(self, chunk: Mapping[str, Any]) -> None:
        layer, status = chunk.get("id"), chunk.get("status")
        if not layer or not status:
            return
        detail = chunk.get("progressDetail") or {}
        if status == "Pushing" and detail.get("total"):
            self.bytes[layer] = (int(detail.get("current") or 0), int(detail["total"]))
        if self.status.get(layer) != status:
            self.status[layer] = status
            if status in ("Pushed", "Layer already exists") or status.startswith("Mounted"):
                self.bytes.pop(layer, None)
                self.log(f"[{self.registry}] {layer}: {status}")
        now = time.monotonic()
        if self.bytes and now - self.last >= PROGRESS_EVERY:
            self.last = now
            done = sum(c for c, _ in self.bytes.values()) / 1e6
            total = sum(t for _, t in self.bytes.values()) / 1e6
            self.log(
                f"[{self.registry}] uploading {len(self.bytes)} layer(s): {done:.1f}/{total:.1f} MB"
            )


def read_push_stream(
    registry: str,
    stream: Iterable[Mapping[str, Any]],
    log: Log,
    stop: threading.Event | None = None,
) -> str | None:
    """Follow docker's push stream: show per-layer progress, raise on errors, return digest.

    ``stop`` set (the run was interrupted) ends the push at its next progress line; leaving
    the stream makes the engine abandon the upload.
    """
    digest = None
    progress = _Progress(registry, log)
    for chunk in stream:
        if stop is not None and stop.is_set():
            raise Stopped(registry)
        if "error" in chunk or "errorDetail" in chunk:
            detail = chunk.get("errorDetail") or {}
            raise classify_error(registry, str(detail.get("message") or chunk.get("error")))
        aux = chunk.get("aux")
        if isinstance(aux, Mapping) and aux.get("Digest"):
            digest = str(aux["Digest"])
        progress.update(chunk)
    return digest


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
    pushes = [_TargetPush(client, target, environ, log, policy, stop) for target in targets]
    if not fan_out or len(pushes) == 1 or not skopeo.available():
        return _in_parallel(pushes, image_id, tags, None)
    seed = pushes[0]
    first = seed.run(image_id, tags)
    source = None
    if first.ok and first.digest:
        source = _Source(seed.target, seed.credentials, first.digest)
        log(f"[{seed.target.name}] copying from here to the other targets (no recompression)")
    return [first, *_in_parallel(pushes[1:], image_id, tags, source)]


@dataclass(frozen=True)
class _Source:
    """Where fan-out copies come from: the first target, as pushed and verified."""

    target: Target
    credentials: Credentials | None
    digest: str


def _in_parallel(
    pushes: list[_TargetPush], image_id: str, tags: list[str], source: _Source | None
) -> list[PushResult]:
    with ThreadPoolExecutor(max_workers=len(pushes)) as pool:
        futures = [pool.submit(push.run, image_id, tags, source) for push in pushes]
        try:
            return [future.result() for future in futures]
        except BaseException:  # Ctrl-C, SIGTERM: stop the threads, or leaving here waits
            for push in pushes:  # for every push to finish
                push.stop.set()
            raise


class _TargetPush:
    """One target's push: credentials, retries, and a result that never raises."""

    def __init__(
        self,
        client: docker.DockerClient,
        target: Target,
        environ: Mapping[str, str],
        log: Log,
        policy: RetryPolicy,
        stop: threading.Event | None = None,
    ) -> None:
        self.client = client
        self.target = target
        self.environ = environ
        self.log = log
        self.policy = policy
        self.stop = stop or threading.Event()
        self.credentials: Credentials | None = None
        self.fetched = False
        self.prepared = False
        self.copied = False
        self.secrets: list[str] = []

    def run(self, image_id: str, tags: list[str], source: _Source | None = None) -> PushResult:
        target = self.target
        result = PushResult(
            target.name, target.repository, kind=target.kind, endpoint=target.endpoint
        )
        started = time.monotonic()
        try:
            for attempt in retrying(self.policy, target.name, self.log, self.stop, self._scrub):
                with attempt:
                    result.attempts = attempt.retry_state.attempt_number
                    credentials = self._current_credentials()
                    result.credentials = credentials.source if credentials else "anonymous"
                    if not self.prepared:
                        prepare_target(target, self.environ, self.log)
                        self.prepared = True
                    if source is not None:
                        result.digest = self._copy_once(image_id, source, tags, credentials)
                        result.copied_from = source.target.name if self.copied else None
                    else:
                        result.digest = self._push_once(image_id, tags, credentials)
            result.references = [target.reference(tag) for tag in tags]
            self.log(f"[{target.name}] pushed {target.repository} {result.digest}")
        except Interrupted:  # SIGTERM in the thread that runs this push: the run stops
            raise
        except Stopped:
            result.error = f"{target.name}: stopped, the run was interrupted"
        except PipelineError as exc:
            result.error = self._scrub(str(exc))
            if isinstance(exc, RegistryError) and exc.transient:
                result.error += f" (gave up after {result.attempts} attempts)"
        except Exception as exc:  # a bug or an SDK surprise must not sink the other targets
            result.error = self._scrub(f"{target.name}: {type(exc).__name__}: {exc}")
        if result.error:
            self.log(f"[{target.name}] FAILED: {result.error}")
        result.seconds = time.monotonic() - started
        return result

    def _current_credentials(self) -> Credentials | None:
        """The kind's credentials, fetched once and again whenever a short-lived one expired."""
        if not self.fetched or (self.credentials is not None and self.credentials.expired()):
            if self.fetched:
                self.log(f"[{self.target.name}] credentials expired; fetching new ones")
            # Masked (GitHub: ::add-mask::) before any line of this push could print it.
            self.credentials = target_credentials(self.target, self.environ)
            self.fetched = True
            if self.credentials is not None:
                self.secrets.append(self.credentials.password)
        return self.credentials

    def _scrub(self, text: str) -> str:
        """Belt and braces: no secret value survives into a log line or the report."""
        for secret in self.secrets:
            if len(secret) >= 4:
                text = text.replace(secret, "***")
        return text

    def _recheck_unauthorized(
        self, error: RegistryError, credentials: Credentials | None
    ) -> RegistryError:
        """Docker says "unauthorized" both for a wrong password and for a registry whose
        ``/v2/`` ping failed (docker then goes on without credentials): ask the registry."""
        if error.transient or not _UNAUTHORIZED.search(error.message):
            return error
        if credentials is None:  # only a generic target finds none
            return RegistryError(
                self.target.name,
                error.message.split(": ", 1)[-1],
                transient=False,
                hint=anonymous_hint(self.target.name),
            )
        registry = RegistryClient(self.target.name, self.target.endpoint, credentials)
        if registry.credentials_accepted(self.target.path):
            return RegistryError(
                self.target.name,
                f"{error.message.split(': ', 1)[-1]} although the registry accepts the "
                "credentials (a failed ping or a transient registry fault)",
                transient=True,
            )
        return error

    def _copy_once(
        self,
        image_id: str,
        source: _Source,
        tags: list[str],
        credentials: Credentials | None,
    ) -> str:
        """Copy the first target's image here with skopeo; docker push if TLS stands in the way
        (an endpoint the engine trusts through daemon.json, which skopeo does not read)."""
        registry = RegistryClient(self.target.name, self.target.endpoint, credentials)
        copies = 0
        missing = []
        for tag in tags:
            with contextlib.suppress(PipelineError):  # cannot tell: copy, and let that say
                if registry.manifest_digest(self.target.path, tag) == source.digest:
                    continue  # a re-push: this tag already serves the very image
            missing.append(tag)
        present = len(missing) < len(tags)  # the manifest is here already, under another tag
        for tag in missing:
            copies += 1
            if present and self._tag_here(registry, source.digest, tag):
                continue  # one copy brought every blob and the manifest: the rest is a tag
            present = True
            try:
                written = skopeo.copy(
                    source.target, source.credentials, source.digest, self.target, credentials, tag
                )
            except skopeo.CopyFailed as exc:
                error = classify_error(self.target.name, str(exc))
                if _TLS.search(error.message):
                    self.log(f"[{self.target.name}] copy failed ({error.message}); docker push")
                    self.copied = False
                    return self._push_once(image_id, tags, credentials)
                raise self._recheck_unauthorized(error, credentials) from None
            if written != source.digest:
                raise RegistryError(
                    self.target.name,
                    f"copy of {source.digest} wrote {written}",
                    transient=False,
                    hint="the destination registry converted the manifest",
                )
        if copies:  # else each tag was just seen serving the digest: that is the verification
            _verify(self.target, tags, source.digest, credentials, registry)
        self.copied = True
        if copies:
            self.log(f"[{self.target.name}] copied from {source.target.name}: "
                     f"{self.target.repository}")  # fmt: skip
        else:
            self.log(f"[{self.target.name}] already there: {source.digest} (nothing to copy)")
        return source.digest

    def _tag_here(self, registry: RegistryClient, digest: str, tag: str) -> bool:
        """Put ``tag`` on the manifest this registry already holds; False: copy it instead."""
        try:
            return registry.tag_manifest(self.target.path, digest, tag) == digest
        except PipelineError:
            return False

    def _push_once(self, image_id: str, tags: list[str], credentials: Credentials | None) -> str:
        """Tag, push and verify every tag, holding this checkout's lock on the repository:
        docker pushes NAME:TAG, so a concurrent run of the same project re-tagging NAME:TAG
        to its own image between our tag and our push would make us push its image."""
        with self._repository_lock():
            there = self._already_there(image_id, tags, credentials)
            if there is not None:
                return there
            return self._push_tags(image_id, tags, credentials)

    def _already_there(
        self, image_id: str, tags: list[str], credentials: Credentials | None
    ) -> str | None:
        """A re-push: the engine pushed this image to this repository before (RepoDigests)
        and the registry serves that very digest for every tag. Then the push would upload
        nothing; the image is tagged here as a push would, and the registry's answer is the
        verification. None means push."""
        target = self.target
        inspected = self.client.api.inspect_image(image_id)
        known = {
            entry.split("@", 1)[1]
            for entry in inspected.get("RepoDigests") or []
            if entry.split("@", 1)[0] == target.push_repository
        }
        if not known:
            return None
        registry = RegistryClient(target.name, target.endpoint, credentials)
        try:
            served = {registry.manifest_digest(target.path, tag) for tag in tags}
        except PipelineError:
            return None  # the push itself will say what is wrong, with its retries
        digest = served.pop() if len(served) == 1 else None
        if digest is None or digest not in known:
            return None
        for tag in tags:
            self.client.api.tag(image_id, target.push_repository, tag)
        self.log(f"[{target.name}] already there: {digest} (nothing to upload)")
        return digest

    @contextlib.contextmanager
    def _repository_lock(self) -> Iterator[None]:
        from pipeline.paths import state_dir

        key = hashlib.sha256(self.target.push_repository.encode()).hexdigest()[:16]
        path = state_dir() / "locks" / f"push-{key}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as lock:
            waiting = False
            while True:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if not waiting:
                        self.log(f"[{self.target.name}] waiting for another run's push to "
                                 f"{self.target.push_repository}")  # fmt: skip
                        waiting = True
                    if self.stop.wait(0.2):  # interrupted while waiting
                        raise Stopped(self.target.name) from None
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _push_tags(self, image_id: str, tags: list[str], credentials: Credentials | None) -> str:
        from docker.errors import APIError
        from requests.exceptions import RequestException

        target = self.target
        image = self.client.images.get(image_id)
        auth = credentials.auth_config() if credentials else None
        digest = None
        for tag in tags:
            try:
                image.tag(target.push_repository, tag)
                stream = self.client.api.push(
                    target.push_repository, tag=tag, stream=True, decode=True, auth_config=auth
                )
                pushed = read_push_stream(target.name, stream, self.log, self.stop)
            except APIError as exc:
                error = classify_error(target.name, str(exc.explanation or exc))
                raise self._recheck_unauthorized(error, credentials) from None
            except RegistryError as exc:
                raise self._recheck_unauthorized(exc, credentials) from None
            except RequestException as exc:
                raise RegistryError(
                    target.name, f"engine connection lost: {type(exc).__name__}", transient=True
                ) from None
            if pushed is None:
                raise RegistryError(
                    target.name, f"no digest reported for tag {tag}", transient=True
                )
            # The engine records each manifest it pushed of an image as a RepoDigest (under a
            # normalised name: docker.io/library/x is x): compare digests, which name content.
            image.reload()
            if not any(d.endswith(f"@{pushed}") for d in image.attrs.get("RepoDigests") or []):
                raise RegistryError(
                    target.name,
                    f"tag {tag} was moved to another image during the push (a concurrent run "
                    f"on this engine?): pushed {pushed} is not this run's image",
                    transient=True,
                )
            if digest is not None and pushed != digest:
                raise RegistryError(
                    target.name, f"tag {tag} got {pushed}, other tags {digest}", transient=False
                )
            digest = pushed
        assert digest is not None
        _verify(target, tags, digest, credentials)
        return digest


def _verify(
    target: Target,
    tags: list[str],
    digest: str,
    credentials: Credentials | None,
    registry: RegistryClient | None = None,
) -> None:
    """Ask the registry what it serves for each tag; it must be exactly what was pushed."""
    registry = registry or RegistryClient(target.name, target.endpoint, credentials)
    for tag in tags:
        served = registry.manifest_digest(target.path, tag)
        if served != digest:
            raise RegistryError(
                target.name,
                f"registry serves {served or 'nothing'} for {target.reference(tag)}, "
                f"pushed {digest}",
                transient=True,
            )
