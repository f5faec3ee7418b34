"""How a release reaches its servers: one ``DeployTarget`` per ``engine:`` of an environment.

Why an interface: ``invoke deploy | rollback | status`` ask the same three things whatever runs
the app — run this digest, go back one step, say what runs — so the entry points in
``stage.py`` pick a target by ``deploy.ENV.engine`` and never look inside it. ``container``
(one server's engine: ``container.py``) and ``swarm`` (a Docker Swarm manager: ``swarm.py``)
implement it. A Kubernetes engine would be one more module with an opener listed in
``OPENERS`` (and its settings next to ``swarm_settings.py``); nothing else changes.

The division of work: ``stage.py`` checks everything local before a target is opened (the
release — digest, push target, credentials — and the env file). A target contacts its
servers, makes the checks every engine makes before anything changes (``pull.py``: the digest
is in the registry and the server can pull it), changes them, and says what runs now. A
failure is one ``DeployError`` line saying what serves afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol

from pipeline.deploy.container import open_container
from pipeline.deploy.release import Release
from pipeline.deploy.settings import Deployment
from pipeline.deploy.spec import AppEnvironment
from pipeline.deploy.swarm import open_swarm
from pipeline.push.registries.kinds import Credentials
from pipeline.result import Log


class Deployed(Protocol):
    """What a deploy did: printed after its progress lines, and kept as deploy-<id>.json."""

    deploy_id: str

    def render(self) -> str: ...

    def record(self) -> dict[str, Any]: ...


class RolledBack(Protocol):
    def summary(self) -> str: ...


class DeployTarget(Protocol):
    def deploy(
        self,
        release: Release,
        credentials: Credentials | None,
        environment: AppEnvironment,
        log: Log,
        started: float,
    ) -> Deployed: ...

    def rollback(self, log: Log) -> RolledBack: ...

    def status(self) -> tuple[str, bool]:
        """The rendered state and whether everything that should serve does."""
        ...


Opener = Callable[[Deployment, str | None, Mapping[str, str]], AbstractContextManager[Any]]
OPENERS: dict[str, Opener] = {"container": open_container, "swarm": open_swarm}


def open_target(
    deployment: Deployment, host: str | None, environ: Mapping[str, str]
) -> AbstractContextManager[DeployTarget]:
    """Connect to the environment's servers; the connection closes when the block ends."""
    opened: AbstractContextManager[DeployTarget] = OPENERS[deployment.environment.engine](
        deployment, host, environ
    )
    return opened
