"""The one exception family of the pipeline.

Modelled on invoke's ``Failure`` (a failure carries what failed) and python-on-whales'
``DockerException`` (the message says what was attempted): every error has a one-line
``message`` a user can act on, an optional ``hint`` saying what to do, and the exit code the
task should end with. Tasks print ``str(error)`` in red and exit; no traceback for a user
mistake.
"""

from __future__ import annotations

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_SIGINT = 130
EXIT_SIGTERM = 143


class PipelineError(Exception):
    """Base of every error the pipeline raises on purpose."""

    exit_code = EXIT_FAILURE
    details = ""
    """Multi-line context shown before the message (e.g. a failing container's last logs)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(PipelineError):
    """Bad user input: pipeline.yaml, a flag, a tag rule, an image name. Exit code 2."""

    exit_code = EXIT_USAGE

    def __init__(self, source: str, field: str | None, problem: str, hint: str | None = None):
        where = f"{source}: {field}" if field else source
        super().__init__(f"{where}: {problem}", hint)
        self.source = source
        self.field = field
        self.problem = problem


class NotARepository(PipelineError):
    """The path has no git repository: callers may fall back to a context without git facts."""


class DeployError(PipelineError):
    """Deploy, rollback or status failed; the message says what the server runs now."""


class EngineUnavailable(PipelineError):
    """No Docker Engine answers."""


class StageFailed(PipelineError):
    """A pipeline stage ran and failed (lint findings, build error, smoke check, push)."""

    def __init__(self, stage: str, message: str, hint: str | None = None) -> None:
        super().__init__(f"{stage}: {message}", hint)
        self.stage = stage
        self.reason = message


class RegistryError(PipelineError):
    """A registry refused or failed a request.

    ``transient`` tells the push engine whether retrying may help (5xx, 429, dropped
    connections) or not (401/403, invalid name).
    """

    def __init__(
        self, registry: str, message: str, *, transient: bool, hint: str | None = None
    ) -> None:
        super().__init__(f"{registry}: {message}", hint)
        self.registry = registry
        self.transient = transient


class Interrupted(PipelineError):
    """The run was stopped by SIGINT or SIGTERM; cleanup has run."""

    def __init__(self, signal_name: str, exit_code: int) -> None:
        super().__init__(f"interrupted by {signal_name}; cleaned up")
        self.exit_code = exit_code
