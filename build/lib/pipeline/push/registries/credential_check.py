"""Ask each push target's registry, beside lint and build, whether it takes the credentials.

Why: a wrong token used to cost a lint, a build and a smoke test before the push found it,
and with several targets the healthy ones were pushed while the wrong one failed — a release
half out. The check starts with the run, a thread per target: it fetches the credentials as
the push will (a cloud token exchange included) and asks the registry's ``/v2/`` with them.
The runner waits for it before smoke and, if any registry refused, stops the run with
nothing pushed anywhere. Nothing is written and no program is run; the secrets stay in memory.

Each target gets one of three verdicts:

* accepted — ``/v2/`` answered 2xx with the credentials (or anonymously, where allowed);
* refused — ``/v2/`` or its token endpoint answered 401/403, or the kind's credential source
  failed in a way no retry changes (no identity in a cloud chain, a key AWS rejects): the
  push would fail the same way;
* unchecked — the registry could not tell: transient failures (connection refused, timeouts,
  5xx) retried as the push retries them and still failing, or an answer that is not a
  registry's. A registry that cannot be reached cannot tell a wrong password from a right
  one, and stopping the release for it would trade one unreachable mirror for nothing pushed
  anywhere; so the push decides, with its own retries, as it did before this check existed.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pipeline.errors import PipelineError, RegistryError
from pipeline.push.registries import Target, target_credentials
from pipeline.push.registries.generic import anonymous_hint
from pipeline.push.registries.retry import RetryPolicy, Stopped, retrying
from pipeline.push.registry_api import RegistryClient
from pipeline.result import Log
from pipeline.secrets import redact


class Verdict(enum.Enum):
    ACCEPTED = "accepted"
    REFUSED = "refused"
    UNCHECKED = "unchecked"


@dataclass(frozen=True)
class TargetVerdict:
    target: str
    verdict: Verdict
    reason: str = ""
    """One line naming the target (refused, unchecked); known secrets are replaced by ***."""
    attempts: int = 0


class CredentialCheck:
    """The check of every target, running from the moment it is made; ``wait`` for verdicts.

    The threads are daemons: a run that stops at lint must not wait, on its way out, for a
    registry that is slow to answer; ``cancel`` ends their backoff at once.
    """

    def __init__(
        self,
        targets: Sequence[Target],
        environ: Mapping[str, str],
        log: Log,
        policy: RetryPolicy | None = None,
    ) -> None:
        self._stop = threading.Event()
        self._names = [target.name for target in targets]
        self._verdicts: dict[str, TargetVerdict] = {}
        self._threads = [
            threading.Thread(
                target=self._run,
                args=(target, environ, log, policy or RetryPolicy()),
                name=f"credential-check-{target.name}",
                daemon=True,
            )
            for target in targets
        ]
        for thread in self._threads:
            thread.start()

    def _run(
        self, target: Target, environ: Mapping[str, str], log: Log, policy: RetryPolicy
    ) -> None:
        self._verdicts[target.name] = check_target(target, environ, log, policy, self._stop)

    def pending(self) -> list[str]:
        """The targets whose registries have not answered yet."""
        return [name for name in self._names if name not in self._verdicts]

    def wait(self) -> list[TargetVerdict]:
        """Every target's verdict, in the order of the targets."""
        for thread in self._threads:
            thread.join()
        return [self._verdicts[name] for name in self._names]

    def cancel(self) -> None:
        self._stop.set()


def check_target(
    target: Target,
    environ: Mapping[str, str],
    log: Log,
    policy: RetryPolicy,
    stop: threading.Event,
) -> TargetVerdict:
    """One target's verdict, transient failures retried as the push retries them. It never
    raises: whatever it cannot judge (a bug, an SDK surprise) is unchecked, for the push."""
    attempts = 0
    try:
        for attempt in retrying(policy, f"{target.name} credentials", log, stop):
            with attempt:
                attempts = attempt.retry_state.attempt_number
                verdict, reason = _ask(target, environ)
    except Stopped:
        verdict, reason = Verdict.UNCHECKED, f"{target.name}: the run was interrupted"
    except RegistryError as exc:  # transient: retried until the policy gave up
        verdict, reason = Verdict.UNCHECKED, f"{exc} (gave up after {attempts} attempts)"
    except Exception as exc:
        verdict, reason = Verdict.UNCHECKED, f"{target.name}: {type(exc).__name__}: {exc}"
    return TargetVerdict(target.name, verdict, redact(reason), attempts)


def _ask(target: Target, environ: Mapping[str, str]) -> tuple[Verdict, str]:
    """One attempt; a transient ``RegistryError`` is raised, to be retried."""
    label = f"{target.name} ({target.repository})"
    try:
        credentials = target_credentials(target, environ)
    except PipelineError as exc:
        if isinstance(exc, RegistryError) and exc.transient:
            raise
        return Verdict.REFUSED, str(exc)  # no identity, a key the cloud rejects: push fails so
    try:
        accepted = RegistryClient(target.name, target.endpoint, credentials).credentials_accepted(
            target.path
        )
    except RegistryError as exc:
        if exc.transient:
            raise
        return Verdict.UNCHECKED, f"{exc}: not a registry's answer"
    if accepted:
        return Verdict.ACCEPTED, ""
    if credentials is None:
        return (
            Verdict.REFUSED,
            f"{label}: the registry wants a login ({anonymous_hint(target.name)})",
        )
    return (
        Verdict.REFUSED,
        f"{label}: the registry refused the credentials from {credentials.source}",
    )
