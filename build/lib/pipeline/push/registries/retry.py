"""How hoist retries what a registry got wrong for a moment: one policy for every caller.

Why one place: the push of each target and the credential check that runs before it must
agree on what is transient (a ``RegistryError`` marked so: dropped connections, timeouts,
429/5xx) and on how patiently it is retried, or a registry would be given up on by one and
trusted by the other. Each retry is a line, and an interrupted run stops the backoff at once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import tenacity

from pipeline.errors import RegistryError
from pipeline.result import Log
from pipeline.secrets import redact

if TYPE_CHECKING:
    import tenacity


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a transient failure is retried (tenacity's terms)."""

    attempts: int = 4
    initial: float = 0.5
    max_wait: float = 8.0


class Stopped(Exception):
    """The run is being interrupted (Ctrl-C, SIGTERM): a registry thread stops where it is."""


def retrying(
    policy: RetryPolicy,
    label: str,
    log: Log,
    stop: threading.Event,
) -> tenacity.Retrying:
    """A tenacity loop retrying transient ``RegistryError``s with exponential backoff and
    jitter; each retry logs ``[label] attempt N failed (...); retrying`` (every known secret
    redacted), and ``stop`` set during a backoff raises ``Stopped(label)``."""

    def sleep(seconds: float) -> None:
        if stop.wait(seconds):
            raise Stopped(label)

    return tenacity.Retrying(
        stop=tenacity.stop_after_attempt(policy.attempts),
        wait=tenacity.wait_exponential_jitter(
            multiplier=policy.initial, jitter=policy.initial, max=policy.max_wait
        ),
        retry=tenacity.retry_if_exception(
            lambda exc: isinstance(exc, RegistryError) and exc.transient
        ),
        before_sleep=lambda state: log(
            f"[{label}] attempt {state.attempt_number} failed "
            f"({redact(str(state.outcome.exception() if state.outcome else '?'))}); retrying"
        ),
        sleep=sleep,
        reraise=True,
    )
