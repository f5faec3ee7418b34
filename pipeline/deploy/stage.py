"""The deploy stage's entry points (``invoke deploy``, ``rollback``, ``status``): a ``Deployment``
in (pipeline.yaml's environment and what it needs of the other sections), the servers
contacted only after everything was checked locally, a typed result out. Which engine runs
the release (``deploy.ENV.engine``) is the target's business (``engines.py``)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path

from pipeline.attest.check import verify_release
from pipeline.deploy.engines import Deployed, RolledBack, open_target
from pipeline.deploy.release import find_release
from pipeline.deploy.settings import Deployment
from pipeline.deploy.spec import AppEnvironment, read_env_file
from pipeline.paths import state_dir
from pipeline.result import Log


def render_deploy(result: Deployed) -> str:
    return result.render()


def write_deploy_record(result: Deployed, directory: Path) -> Path:
    """``deploy-<id>.json`` and ``deploy-last.json`` next to the run reports (no secrets)."""
    directory.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result.record(), indent=2)
    path = directory / f"deploy-{result.deploy_id}.json"
    path.write_text(text)
    (directory / "deploy-last.json").write_text(text)
    return path


def run_deploy(
    deployment: Deployment,
    *,
    host: str | None,
    digest: str | None,
    environ: Mapping[str, str],
    log: Log,
) -> Deployed:
    """``invoke deploy``: everything is checked locally before the server is contacted."""
    started = time.monotonic()
    env = deployment.environment
    reports = state_dir() / "reports"
    release, credentials = find_release(deployment, digest, reports / "last.json", environ)
    signing = deployment.signing
    if signing is not None and signing.public_key is not None:  # before the server is contacted
        verify_release(signing, release.target, release.pull_repository, release.digest,
                       credentials, environ, deployment.source.name, log)  # fmt: skip
    environment = AppEnvironment(read_env_file(env, deployment.source.name, environ), env.env)
    with open_target(deployment, host, environ) as target:
        result = target.deploy(release, credentials, environment, log, started)
    write_deploy_record(result, reports)
    _step_summary(environ, result.render())
    return result


def run_rollback(
    deployment: Deployment, *, host: str | None, environ: Mapping[str, str], log: Log
) -> RolledBack:
    """``invoke rollback``."""
    with open_target(deployment, host, environ) as target:
        result = target.rollback(log)
    _step_summary(environ, result.summary())
    return result


def run_status(
    deployment: Deployment, *, host: str | None, environ: Mapping[str, str]
) -> tuple[str, bool]:
    """``invoke status``: the rendered state and whether everything that should serve does."""
    with open_target(deployment, host, environ) as target:
        return target.status()


def _step_summary(environ: Mapping[str, str], text: str) -> None:
    """In GitHub Actions, the deploy summary goes to the job page too."""
    path = environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as summary:
            summary.write(f"### hoist deploy\n\n```\n{text}\n```\n")
