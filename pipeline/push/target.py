"""One target's push: find credentials (in memory only, passed per push as ``auth_config``
so a stale credential helper cannot win, docker-py 3281, and nothing is written to the docker
config),
let the kind prepare the registry (ECR: create the repository), tag, push each tag reading
docker's stream (docker-py does not raise on registry errors, 3161: they arrive as
``{"error": ...}`` lines), then ask the registry itself which digest it serves and compare.
Transient failures (dropped connections, timeouts, 429/5xx) are retried with exponential
backoff and jitter; 401/403, invalid names and TLS trust problems fail at once. Short-lived
tokens are fetched again when they expire between attempts. One failing target never stops
the others, and every result says how many attempts and seconds it took. Ctrl-C or SIGTERM
stops every target's push at its next progress line (or backoff), not after the upload.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import docker
from docker.errors import APIError
from requests.exceptions import RequestException

from pipeline.errors import Interrupted, PipelineError, RegistryError
from pipeline.paths import state_dir
from pipeline.push.registries import skopeo
from pipeline.push.registries.generic import anonymous_hint
from pipeline.push.registries.kinds import Credentials, Target, prepare_target, target_credentials
from pipeline.push.registries.retry import RetryPolicy, Stopped, retrying
from pipeline.push.registry_api import RegistryClient, TlsRefused
from pipeline.push.registry_copy import copy_small_image
from pipeline.push.stream import TLS, UNAUTHORIZED, classify_error, read_push_stream
from pipeline.result import Log
from pipeline.secrets import redact


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


@dataclass(frozen=True)
class Source:
    """Where fan-out copies come from: the first target, as pushed and verified."""

    target: Target
    credentials: Credentials | None
    digest: str


class TargetPush:
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

    def run(self, image_id: str, tags: list[str], source: Source | None = None) -> PushResult:
        target = self.target
        result = PushResult(
            target.name, target.repository, kind=target.kind, endpoint=target.endpoint
        )
        started = time.monotonic()
        try:
            for attempt in retrying(self.policy, target.name, self.log, self.stop):
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
            result.error = redact(str(exc))
            if isinstance(exc, RegistryError) and exc.transient:
                result.error += f" (gave up after {result.attempts} attempts)"
        except Exception as exc:  # a bug or an SDK surprise must not sink the other targets
            result.error = redact(f"{target.name}: {type(exc).__name__}: {exc}")
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
        return self.credentials

    def _recheck_unauthorized(
        self, error: RegistryError, credentials: Credentials | None
    ) -> RegistryError:
        """Docker says "unauthorized" both for a wrong password and for a registry whose
        ``/v2/`` ping failed (docker then goes on without credentials): ask the registry."""
        if error.transient or not UNAUTHORIZED.search(error.message):
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
        source: Source,
        tags: list[str],
        credentials: Credentials | None,
    ) -> str:
        """Copy the first target's image here (``_copy_here``); docker push if TLS stands in
        the way (an endpoint the engine trusts through daemon.json, which skopeo does not read)."""
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
                written = self._copy_here(registry, source, credentials, tag)
            except skopeo.CopyFailed as exc:
                error = classify_error(self.target.name, str(exc))
                if TLS.search(error.message):
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

    def _copy_here(
        self, registry: RegistryClient, source: Source, credentials: Credentials | None, tag: str
    ) -> str | None:
        """The source's image under ``tag`` here: over the API when it is a small copy (see
        ``registry_copy``), else (or when TLS stands in the way) by skopeo."""
        origin = RegistryClient(source.target.name, source.target.endpoint, source.credentials)
        with contextlib.suppress(TlsRefused):
            written = copy_small_image(
                origin, source.target.path, source.digest, registry, self.target.path, tag
            )
            if written is not None:
                return written
        return skopeo.copy(
            source.target, source.credentials, source.digest, self.target, credentials, tag
        )

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
