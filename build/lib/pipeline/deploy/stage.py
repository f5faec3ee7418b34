"""The deploy stage's entry points (``invoke deploy``, ``rollback``, ``status``): a ``Deployment``
in (pipeline.yaml's environment and what it needs of the other sections), the server
contacted only after everything was checked locally, a typed result out."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict
from pathlib import Path

from pipeline.deploy.host import connect
from pipeline.deploy.release import deploy_host, find_release, short
from pipeline.deploy.rollback import RollbackResult, rollback
from pipeline.deploy.settings import Deployment
from pipeline.deploy.site import Site, http_checks
from pipeline.deploy.spec import read_env_file
from pipeline.deploy.status import render_status, status
from pipeline.deploy.switch import DeployResult, deploy
from pipeline.paths import state_dir
from pipeline.result import Log


def render_deploy(result: DeployResult) -> str:
    outage = (
        f"{result.outage_seconds:.2f} s"
        if result.outage_seconds is not None
        else "none (first deploy)"
    )
    return "\n".join(
        [
            f"deployed {result.environment} on {result.host}: {result.container} runs "
            f"{result.repository}@{result.digest}",
            f"  revision {result.revision or 'unknown'}; previous {short(result.previous_digest)}",
            f"  pull {result.pull_seconds:.1f} s, new version proven in "
            f"{result.candidate_seconds:.2f} s, old stopped in {result.stop_seconds:.2f} s",
            f"  time to healthy new version: {result.to_healthy_seconds:.1f} s; "
            f"outage during switch: {outage}",
        ]
    )


def write_deploy_record(result: DeployResult, directory: Path) -> Path:
    """``deploy-<id>.json`` and ``deploy-last.json`` next to the run reports (no secrets)."""
    directory.mkdir(parents=True, exist_ok=True)
    text = json.dumps(asdict(result), indent=2)
    path = directory / f"deploy-{result.deploy_id}.json"
    path.write_text(text)
    (directory / "deploy-last.json").write_text(text)
    return path


@contextlib.contextmanager
def open_site(
    deployment: Deployment, host: str | None, environ: Mapping[str, str]
) -> Iterator[Site]:
    """Connect to the environment's server; the connection (and any tunnel) closes after."""
    env = deployment.environment
    server = connect(deploy_host(env, host), environ)
    try:
        yield Site(server, env, http_checks(env, deployment.checks))
    finally:
        server.close()


def run_deploy(
    deployment: Deployment,
    *,
    host: str | None,
    digest: str | None,
    environ: Mapping[str, str],
    log: Log,
) -> DeployResult:
    """``invoke deploy``: everything is checked locally before the server is contacted."""
    started = time.monotonic()
    env = deployment.environment
    reports = state_dir() / "reports"
    release, credentials = find_release(deployment, digest, reports / "last.json", environ)
    environment = {**read_env_file(env, deployment.source.name, environ), **env.env}
    with open_site(deployment, host, environ) as site:
        result = deploy(site, release, credentials, environment, log, started=started)
    write_deploy_record(result, reports)
    _step_summary(environ, render_deploy(result))
    return result


def run_rollback(
    deployment: Deployment, *, host: str | None, environ: Mapping[str, str], log: Log
) -> RollbackResult:
    """``invoke rollback``."""
    with open_site(deployment, host, environ) as site:
        result = rollback(site, log)
    _step_summary(
        environ,
        f"rolled {result.container} back on {result.host}: {short(result.replaced_digest)} -> "
        f"{short(result.digest)} (outage {result.outage_seconds:.2f} s)",
    )
    return result


def run_status(
    deployment: Deployment, *, host: str | None, environ: Mapping[str, str]
) -> tuple[str, bool]:
    """``invoke status``: the rendered table and whether the live container is healthy."""
    with open_site(deployment, host, environ) as site:
        rows = status(site)
        return render_status(site, rows), bool(rows and rows[0].healthy)


def _step_summary(environ: Mapping[str, str], text: str) -> None:
    """In GitHub Actions, the deploy summary goes to the job page too."""
    path = environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as summary:
            summary.write(f"### hoist deploy\n\n```\n{text}\n```\n")
