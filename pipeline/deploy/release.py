"""What to deploy and where: the exact digest (from the last run report, or ``--digest``), the
push target whose credentials the server pulls with, and the server (``--host`` or the
environment's)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.deploy.settings import DeployEnvironment, Deployment
from pipeline.errors import DeployError
from pipeline.push.registries.kinds import Credentials, Target, resolve_target, target_credentials
from pipeline.push.target import PushResult
from pipeline.report import RunReport, read_report
from pipeline.tags.oci_labels import REVISION_LABEL

DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class Release:
    """The exact image to run: a digest in a repository, and where it came from."""

    repository: str  # canonical name, for labels and people (ghcr.io/acme/app)
    pull_repository: str  # where the server pulls from (the push target's endpoint)
    digest: str
    target: str  # the push target whose credentials the server pulls with
    run_id: str = ""  # the hoist run that pushed it; empty when given by --digest alone
    revision: str = ""

    @property
    def reference(self) -> str:
        return f"{self.pull_repository}@{self.digest}"


def short(digest: str | None) -> str:
    return f"{digest[:19]}…" if digest else "-"


def deploy_host(env: DeployEnvironment, host: str | None) -> str:
    """``--host`` wins over ``deploy.ENV.host``; one of them is required (no silent default)."""
    chosen = host or env.host
    if not chosen:
        raise DeployError(
            f"no server to deploy {env.name} to",
            hint=f"pass --host ssh://user@server, or set deploy.{env.name}.host in pipeline.yaml",
        )
    return chosen


def find_release(
    deployment: Deployment,
    digest: str | None,
    report_path: Path,
    environ: Mapping[str, str],
) -> tuple[Release, Credentials | None]:
    """The release to deploy and the credentials to pull it with.

    With ``--digest`` the repository is the environment's push target (``deploy.ENV.registry``,
    else the first configured); without it, the last run report says what was pushed where.
    """
    env = deployment.environment
    report = _this_apps_report(read_report(report_path), deployment.source, digest)
    pushes = [p for p in (report.pushes if report else []) if p.digest and p.ok]
    if env.registry:
        pushes = [p for p in pushes if p.target == env.registry]
    if digest is not None:
        if not DIGEST_RE.match(digest):
            raise DeployError(f"--digest {digest!r} is not sha256: and 64 hex digits")
        pushes = [p for p in pushes if p.digest == digest]
        target_name = pushes[0].target if pushes else env.registry or deployment.targets[0].name
    else:
        found = _last_push(pushes, report, report_path, env.registry)
        digest, target_name = found.digest or "", found.target
    target = _target(deployment, target_name, environ)
    from_report = bool(pushes) and report is not None
    release = Release(
        repository=target.repository,
        pull_repository=target.push_repository,
        digest=digest,
        target=target.name,
        run_id=report.run_id if from_report and report else "",
        revision=report.labels.get(REVISION_LABEL, "") if from_report and report else "",
    )
    return release, target_credentials(target, environ)


def _this_apps_report(
    report: RunReport | None, config_path: Path, digest: str | None
) -> RunReport | None:
    """The report, if it is this app's run: another app's says nothing about this digest."""
    if report is None or not report.config or _same_file(report.config, config_path):
        return report
    if digest is None:
        raise DeployError(
            f"no digest to deploy: the last run report is for {report.config}, not {config_path}",
            hint=f"run `invoke push --config {config_path}` first, or pass --digest",
        )
    return None


def _last_push(
    pushes: list[PushResult], report: RunReport | None, report_path: Path, registry: str | None
) -> PushResult:
    """What the last run pushed (to the environment's registry, when it names one)."""
    if not report_path.is_file():
        raise DeployError(
            f"no digest to deploy: no run report at {report_path} and no --digest",
            hint="run `invoke push` first, or pass --digest sha256:...",
        )
    if not pushes:
        where = f" to {registry}" if registry else ""
        raise DeployError(
            f"no digest to deploy: the last run ({report.run_id if report else '?'}) "
            f"pushed nothing{where}",
            hint="run `invoke push` first, or pass --digest sha256:...",
        )
    return pushes[0]


def _target(deployment: Deployment, name: str, environ: Mapping[str, str]) -> Target:
    configured = {t.name: t for t in deployment.targets}
    if name not in configured:
        raise DeployError(
            f"the report's push target {name!r} is not in {deployment.source.name} any more",
            hint="run `invoke push` again, or pass --digest",
        )
    return resolve_target(configured[name], deployment.image, environ)


def _same_file(reported: str, config_path: Path) -> bool:
    return Path(reported).resolve() == config_path.resolve()
