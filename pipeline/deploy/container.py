"""``engine: container``: the release runs as one container on one server's engine.

The adapter between the ``DeployTarget`` interface (``engines.py``) and the container
engine's own modules: ``switch.py`` (prove on a temporary port, then switch), ``rollback.py``
(swap with ``NAME-previous``) and ``status.py`` (labels and a live HTTP check).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from pipeline.deploy.host import connect
from pipeline.deploy.release import Release, deploy_host
from pipeline.deploy.rollback import RollbackResult, rollback
from pipeline.deploy.settings import Deployment
from pipeline.deploy.site import Site, http_checks
from pipeline.deploy.spec import AppEnvironment
from pipeline.deploy.status import render_status, status
from pipeline.deploy.switch import DeployResult, deploy
from pipeline.push.registries.kinds import Credentials
from pipeline.result import Log


@dataclass
class ContainerTarget:
    site: Site

    def deploy(
        self,
        release: Release,
        credentials: Credentials | None,
        environment: AppEnvironment,
        log: Log,
        started: float,
    ) -> DeployResult:
        merged = environment.merged()
        return deploy(self.site, release, credentials, merged, log, started=started)

    def rollback(self, log: Log) -> RollbackResult:
        return rollback(self.site, log)

    def status(self) -> tuple[str, bool]:
        rows = status(self.site)
        return render_status(self.site, rows), bool(rows and rows[0].healthy)


@contextlib.contextmanager
def open_container(
    deployment: Deployment, host: str | None, environ: Mapping[str, str]
) -> Iterator[ContainerTarget]:
    """Connect to the environment's server; the connection (and any tunnel) closes after."""
    env = deployment.environment
    server = connect(deploy_host(env, host), environ)
    try:
        yield ContainerTarget(Site(server, env, http_checks(env, deployment.checks)))
    finally:
        server.close()
