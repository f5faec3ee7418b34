"""Run the pushed digest on a server: pull by digest, prove it, switch, keep the way back.

Why it works this way:

* **By digest, never by tag.** What runs must be exactly what the pipeline tested and pushed:
  the server pulls ``repository@sha256:…`` (from the last run report, or ``--digest``), and a
  tag moved in between cannot change that.
* **Credentials per pull.** The registry login is passed to the server's engine with the pull
  request itself (``auth_config``, the ``X-Registry-Auth`` header): the engine uses it for that
  pull and keeps nothing — no ``docker login`` on the server, no config.json written, nothing
  to remove afterwards. They are the push target's own credentials (short-lived where the
  registry issues tokens: ECR's 12-hour token, a workflow's ``GITHUB_TOKEN``).
* **Prove before touching the live one.** The new version first runs as ``NAME-candidate`` on a
  temporary port (a random 127.0.0.1 port; ``probe_port`` with ``network: host``) and must pass
  smoke's readiness wait and HTTP checks (``pipeline.smoke.service``: the health path, then smoke's
  read-only checks). If it fails, it is removed and the live container was never touched.
* **Then switch, with the old one kept.** The old container is renamed ``NAME-previous``, its
  restart policy set to ``no`` (so it cannot come back on its own and take the port), stopped
  gracefully (SIGTERM, ``stop_timeout``), and the new one — created beforehand — starts on the
  live port with the configured restart policy, limits and environment, and is checked again.
  If that fails, the new one is removed and the old one renamed back and restarted. The time
  from the old one's stop to the new one answering is the outage, measured and printed.
* **Labels say what runs.** Digest, repository, git revision, deploy time and hoist run id are
  labels on the container, so ``status`` reads the truth from the server, not from a local file.

``rollback`` swaps ``NAME`` and ``NAME-previous`` the same careful way (a second rollback goes
forward again). Only one previous version is kept: enough to undo a deploy in one step
without images piling up on the server.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.attest.check import verify_release
from pipeline.deploy.host import DeployError, Server
from pipeline.deploy.settings import DeployEnvironment, default_environment
from pipeline.errors import ConfigError
from pipeline.project import PipelineConfig
from pipeline.result import Log

if TYPE_CHECKING:
    from docker.models.containers import Container

    from pipeline.push.registries import Credentials
    from pipeline.smoke.service import HttpCheck

__all__ = [
    "DeployError",
    "DeployResult",
    "Release",
    "deploy",
    "find_release",
    "rollback",
    "select_environment",
    "status",
]

LABEL = "io.hoist."
REVISION_LABEL = "org.opencontainers.image.revision"
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
STATUS_CHECK_TIMEOUT = 5.0


# --- what to deploy, where -----------------------------------------------------------------


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


def select_environment(config: PipelineConfig, name: str | None) -> DeployEnvironment:
    """``--env NAME``; without it the only configured environment (or the defaults)."""
    environments = config.deploy
    if name:
        if name in environments:
            return environments[name]
        if not environments and name == "default":
            return default_environment(config.image, config.smoke)
        known = ", ".join(environments) or "none (the defaults are called 'default')"
        raise ConfigError(
            config.path.name, f"deploy.{name}", "no such environment", hint=f"configured: {known}"
        )
    if not environments:
        return default_environment(config.image, config.smoke)
    if len(environments) == 1:
        return next(iter(environments.values()))
    raise ConfigError(
        config.path.name,
        "deploy",
        f"{len(environments)} environments ({', '.join(environments)})",
        hint="pass --env NAME",
    )


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
    config: PipelineConfig,
    env: DeployEnvironment,
    digest: str | None,
    report_path: Path,
    environ: Mapping[str, str],
) -> tuple[Release, Credentials | None]:
    """The release to deploy and the credentials to pull it with.

    With ``--digest`` the repository is the environment's push target (``deploy.ENV.registry``,
    else the first configured); without it, the last run report says what was pushed where.
    """
    from pipeline.push.registries import resolve_target, target_credentials

    report = _read_report(report_path)
    reported_config = str((report or {}).get("config") or "")
    if report is not None and reported_config and not _same_file(reported_config, config.path):
        if digest is None:
            raise DeployError(
                f"no digest to deploy: the last run report is for {reported_config}, "
                f"not {config.path}",
                hint=f"run `invoke push --config {config.path}` first, or pass --digest",
            )
        report = None  # another app's run: it says nothing about this digest
    pushes = [
        p
        for p in (report or {}).get("pushes", [])
        if isinstance(p, dict) and p.get("digest") and not p.get("error")
    ]
    if env.registry:
        pushes = [p for p in pushes if p.get("target") == env.registry]
    if digest is not None:
        if not DIGEST_RE.match(digest):
            raise DeployError(f"--digest {digest!r} is not sha256: and 64 hex digits")
        pushes = [p for p in pushes if p.get("digest") == digest]
        target_name = env.registry or config.registries[0].name
        if pushes:
            target_name = str(pushes[0]["target"])
    elif not report_path.is_file():
        raise DeployError(
            f"no digest to deploy: no run report at {report_path} and no --digest",
            hint="run `invoke push` first, or pass --digest sha256:...",
        )
    elif not pushes:
        where = f" to {env.registry}" if env.registry else ""
        raise DeployError(
            f"no digest to deploy: the last run ({(report or {}).get('run_id', '?')}) "
            f"pushed nothing{where}",
            hint="run `invoke push` first, or pass --digest sha256:...",
        )
    else:
        digest, target_name = str(pushes[0]["digest"]), str(pushes[0]["target"])
    configured = {t.name: t for t in config.registries}
    if target_name not in configured:
        raise DeployError(
            f"the report's push target {target_name!r} is not in {config.path.name} any more",
            hint="run `invoke push` again, or pass --digest",
        )
    target = resolve_target(configured[target_name], config.image, environ)
    from_report = bool(pushes) and report is not None
    labels = (report or {}).get("labels") or {}
    release = Release(
        repository=target.repository,
        pull_repository=target.push_repository,
        digest=digest,
        target=target.name,
        run_id=str(report.get("run_id", "")) if from_report and report else "",
        revision=str(labels.get(REVISION_LABEL, "")) if from_report else "",
    )
    return release, target_credentials(target, environ)


def _same_file(reported: str, config_path: Path) -> bool:
    return Path(reported).resolve() == config_path.resolve()


def _read_report(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise DeployError(f"cannot read the run report {path}: {exc}") from None
    return data if isinstance(data, dict) else None


def read_env_file(
    env: DeployEnvironment, source: str, environ: Mapping[str, str]
) -> dict[str, str]:
    """``docker run --env-file`` rules: ``KEY=VALUE`` lines, ``#`` comments, bare ``KEY`` taken
    from this process's environment (so a CI secret can be passed by name). Values are never
    printed: they are often secrets."""
    if env.env_file is None:
        return {}
    where = f"deploy.{env.name}.env_file"
    try:
        text = env.env_file.read_text()
    except OSError as exc:
        raise ConfigError(source, where, f"cannot read {env.env_file}: {exc.strerror}") from None
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        key, has_value, value = stripped.partition("=")
        if not key or not re.match(r"^[A-Za-z_][A-Za-z0-9_.]*$", key):
            raise ConfigError(
                source, where, f"{env.env_file.name} line {number}: expected KEY=VALUE"
            )
        if has_value:
            values[key] = value
        elif key in environ:
            values[key] = environ[key]
    return values


# --- the containers -------------------------------------------------------------------------


def restart_policy(restart: str) -> dict[str, Any]:
    name, _, count = restart.partition(":")
    policy: dict[str, Any] = {"Name": name}
    if count:
        policy["MaximumRetryCount"] = int(count)
    return policy


def container_kwargs(
    env: DeployEnvironment,
    release: Release,
    *,
    role: str,
    environment: Mapping[str, str],
    labels: Mapping[str, str],
    probe_bind: str = "127.0.0.1",
) -> dict[str, Any]:
    """``containers.create`` arguments for the live container or the candidate.

    The candidate differs only where it must: its name, a temporary port, no restart policy
    (a failing candidate must not come back).
    """
    candidate = role == "candidate"
    values = dict(environment)
    kwargs: dict[str, Any] = {
        "image": release.reference,
        "name": f"{env.container}-candidate" if candidate else env.container,
        "labels": {**labels, f"{LABEL}role": role},
        "network_mode": env.network,
        "detach": True,
    }
    if env.host_network:
        assert env.port_env is not None and env.probe_port is not None
        values[env.port_env] = str(env.probe_port if candidate else env.port.host_port)
    else:
        if env.port_env:
            values[env.port_env] = str(env.port.container_port)
        if candidate:
            kwargs["ports"] = {
                f"{env.port.container_port}/tcp": (probe_bind, None) if probe_bind else None
            }
        else:  # docker-py: one binding, or a list of them for a port published twice
            bindings: dict[str, list[Any]] = {}
            for mapping in env.ports:
                binding = (
                    (mapping.host_ip, mapping.host_port) if mapping.host_ip else mapping.host_port
                )
                bindings.setdefault(f"{mapping.container_port}/tcp", []).append(binding)
            kwargs["ports"] = {k: v[0] if len(v) == 1 else v for k, v in bindings.items()}
    if not candidate:
        kwargs["restart_policy"] = restart_policy(env.restart)
    if env.memory:
        kwargs["mem_limit"] = env.memory
    if env.cpus:
        kwargs["nano_cpus"] = round(env.cpus * 1e9)
    kwargs["environment"] = values
    return kwargs


def deploy_labels(
    env: DeployEnvironment, release: Release, deploy_id: str, now: datetime
) -> dict[str, str]:
    return {
        f"{LABEL}env": env.name,
        f"{LABEL}digest": release.digest,
        f"{LABEL}repository": release.repository,
        f"{LABEL}revision": release.revision or "unknown",
        f"{LABEL}deployed-at": now.isoformat(timespec="seconds"),
        f"{LABEL}run": release.run_id,
        f"{LABEL}deploy": deploy_id,
    }


def _find(server: Server, name: str) -> Container | None:
    """The container named exactly ``name`` (the API also matches id prefixes: refuse those)."""
    from docker.errors import NotFound

    try:
        container = server.client.containers.get(name)
    except NotFound:
        return None
    return container if container.name == name else None


def _digest_of(container: Container | None) -> str | None:
    if container is None:
        return None
    labels = container.labels or {}
    return labels.get(f"{LABEL}digest")


@dataclass
class Site:
    """One environment on one connected server, and the checks its app must pass there."""

    server: Server
    env: DeployEnvironment
    checks: list[HttpCheck]

    @property
    def name(self) -> str:
        return self.env.container

    def find(self, suffix: str = "") -> Container | None:
        return _find(self.server, self.name + suffix)

    def live_base(self) -> str:
        """``http://host:port`` reaching the live port from here (a tunnel over ssh://)."""
        env = self.env
        ip = "" if env.host_network else env.port.host_ip
        return f"http://{self.server.address(ip, env.port.host_port)}"

    def prove(
        self, container: Container, base: str, timeout: float | None = None
    ) -> tuple[float, list[str]]:
        """smoke's readiness wait, then each check; (seconds to ready, one line per check).

        Raises ``_Unhealthy`` with the first failure and the container's last log lines.
        """
        from pipeline.smoke.service import http_check, wait_ready
        from pipeline.smoke.stage import container_logs
        from pipeline.smoke.verdicts import CheckFailed, clip

        began = time.monotonic()
        try:
            wait_ready(
                container, base + self.env.health.path, timeout or self.env.health.timeout, False
            )
            ready = time.monotonic() - began
            return ready, [f"{check.name}: {http_check(base, check)}" for check in self.checks]
        except CheckFailed as exc:
            got = f" (got {clip(exc.got, 160)})" if exc.got else ""
            raise _Unhealthy(exc.message + got, container_logs(container)) from None


class _Unhealthy(Exception):
    def __init__(self, message: str, logs: str) -> None:
        super().__init__(message)
        self.message, self.logs = message, logs


def http_checks(env: DeployEnvironment, smoke_checks: Sequence[HttpCheck] = ()) -> list[HttpCheck]:
    """The health check, then smoke's read-only checks (GET and HEAD).

    Why not all of smoke's checks: smoke runs them against a throwaway container, deploy
    against a server whose env file may point at real data — a POST or DELETE there is not a
    check any more.
    """
    from pipeline.smoke.service import HttpCheck

    health = env.health
    default = HttpCheck.get(health.path, health.expect_status, health.expect_body)
    return [default, *(c for c in smoke_checks if c.method in ("GET", "HEAD"))]


def _published_port(container: Container, port: int, timeout: float = 10.0) -> int:
    """The host port the engine picked for ``port`` (published as ``IP::PORT``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        container.reload()
        bindings = (container.attrs["NetworkSettings"]["Ports"] or {}).get(f"{port}/tcp")
        if bindings:
            return int(bindings[0]["HostPort"])
        if container.status in ("exited", "dead"):
            break
        time.sleep(0.05)
    code = container.attrs["State"].get("ExitCode")
    raise _Unhealthy(f"port {port} was never published (container {container.status}, exit {code})",
                     "")  # fmt: skip


# --- deploy ---------------------------------------------------------------------------------


@dataclass
class DeployResult:
    """What one deploy did and how long each part took (seconds), for the summary and JSON."""

    deploy_id: str
    environment: str
    host: str
    container: str
    repository: str
    digest: str
    revision: str
    previous_digest: str | None = None
    pull_seconds: float = 0.0
    candidate_seconds: float = 0.0
    stop_seconds: float = 0.0
    outage_seconds: float | None = None  # None on a first deploy: nothing was serving
    to_healthy_seconds: float = 0.0
    checks: list[str] = field(default_factory=list)


def new_deploy_id() -> str:
    return f"{datetime.now(timezone.utc):%Y%m%d%H%M%S}-{secrets.token_hex(3)}"


def deploy(
    site: Site,
    release: Release,
    credentials: Credentials | None,
    environment: Mapping[str, str],
    log: Log,
    *,
    started: float | None = None,
) -> DeployResult:
    """Pull, prove on a temporary port, switch; on any failure the old version keeps serving."""
    started = time.monotonic() if started is None else started
    server, env = site.server, site.env
    server.check_reachable("" if env.host_network else env.port.host_ip)
    server.check_can_pull_from(release.pull_repository)
    result = DeployResult(
        new_deploy_id(), env.name, server.name, env.container, release.repository,
        release.digest, release.revision,
    )  # fmt: skip
    release = _pull(server, release, credentials, log, result)
    result.revision = release.revision
    current = site.find()
    result.previous_digest = _digest_of(current)
    if current is None:
        log(f"{site.name}: first deploy on {server.name}")
    else:
        what = short(result.previous_digest) if result.previous_digest else "not deployed by hoist"
        log(f"{site.name} now: {current.status}, {what}")
    labels = deploy_labels(env, release, result.deploy_id, datetime.now(timezone.utc))
    result.candidate_seconds, checks = _prove_candidate(site, release, environment, labels, log)
    log(f"new version healthy on a temporary port after {result.candidate_seconds:.2f} s")
    for check in checks:
        log(f"  ok: {check}")
    live = container_kwargs(env, release, role="live", environment=environment, labels=labels)
    _switch(site, current, live, result, log)
    result.to_healthy_seconds = time.monotonic() - started
    return result


def _pull(
    server: Server,
    release: Release,
    credentials: Credentials | None,
    log: Log,
    result: DeployResult,
) -> Release:
    """Pull ``repository@digest`` with the credentials in this request only (nothing stored)."""
    from docker.errors import APIError
    from requests import RequestException

    log(f"pulling {release.reference} on {server.name}")
    began = time.monotonic()
    auth = credentials.auth_config() if credentials else None
    done: set[str] = set()
    try:
        for chunk in server.client.api.pull(
            release.pull_repository, tag=release.digest, stream=True, decode=True, auth_config=auth
        ):
            if "error" in chunk or "errorDetail" in chunk:
                detail = chunk.get("errorDetail") or {}
                raise _pull_error(server, release, str(detail.get("message") or chunk["error"]))
            layer, state = chunk.get("id"), str(chunk.get("status", ""))
            if layer and state in ("Pull complete", "Already exists") and layer not in done:
                done.add(layer)
                log(f"  {layer}: {state}")
    except APIError as exc:  # NotFound included: the registry has no such manifest
        raise _pull_error(server, release, str(exc.explanation or exc)) from None
    except RequestException as exc:
        raise DeployError(
            f"connection to {server.name} lost while pulling: {type(exc).__name__} "
            "(nothing changed on the server)"
        ) from None
    result.pull_seconds = time.monotonic() - began
    image = server.client.images.get(release.reference)
    revision = (image.labels or {}).get(REVISION_LABEL) or release.revision
    log(f"pulled {short(release.digest)} in {result.pull_seconds:.1f} s")
    return Release(
        release.repository, release.pull_repository, release.digest, release.target,
        release.run_id, revision,
    )  # fmt: skip


def _pull_error(server: Server, release: Release, message: str) -> DeployError:
    message = " ".join(message.split())
    if re.search(r"manifest unknown|not found|name unknown|\b404\b", message, re.IGNORECASE):
        return DeployError(
            f"{release.digest} is not in {release.repository} (nothing changed on the server)",
            hint="push it first (`invoke push`), or check --digest",
        )
    if re.search(r"unauthori[sz]ed|denied|forbidden|authentication", message, re.IGNORECASE):
        return DeployError(
            f"{release.repository} refused the pull from {server.name}: {message[:160]} "
            "(nothing changed on the server)",
            hint=f"check the credentials of push target {release.target}",
        )
    return DeployError(
        f"pulling {release.reference} on {server.name} failed: {message[:200]} "
        "(nothing changed on the server)"
    )


def _prove_candidate(
    site: Site,
    release: Release,
    environment: Mapping[str, str],
    labels: Mapping[str, str],
    log: Log,
) -> tuple[float, list[str]]:
    """Run the new version on a temporary port and check it; it is always removed afterwards."""
    from docker.errors import APIError

    server, env = site.server, site.env
    leftover = site.find("-candidate")
    if leftover is not None:
        log(f"removing {leftover.name}, left by an interrupted deploy")
        leftover.remove(force=True)
    bind = server.probe_bind(env.port.host_ip)
    kwargs = container_kwargs(
        env, release, role="candidate", environment=environment, labels=labels, probe_bind=bind
    )
    try:
        candidate = server.client.containers.run(**kwargs)
    except APIError as exc:
        raise DeployError(
            f"the engine on {server.name} refused to start the new version: "
            f"{exc.explanation or exc}; {_untouched(site)}"
        ) from None
    try:
        if env.host_network:
            assert env.probe_port is not None
            base = f"http://{server.address('', env.probe_port)}"
        else:
            port = _published_port(candidate, env.port.container_port)
            base = f"http://{server.address(bind, port)}"
        log(f"checking the new version on a temporary port ({env.health.timeout:g} s at most)")
        return site.prove(candidate, base)
    except _Unhealthy as exc:
        error = DeployError(
            f"the new version {short(release.digest)} failed its checks: {exc.message}; "
            f"removed it, {_untouched(site)}"
        )
        error.details = exc.logs
        raise error from None
    finally:
        with contextlib.suppress(Exception):
            candidate.remove(force=True)


def _untouched(site: Site) -> str:
    current = site.find()
    if current is None:
        return f"nothing was deployed as {site.name} on {site.server.name} before"
    return f"{site.name} was not touched ({current.status}, {short(_digest_of(current))})"


def _switch(
    site: Site,
    current: Container | None,
    live_kwargs: dict[str, Any],
    result: DeployResult,
    log: Log,
) -> None:
    """Replace ``current`` by a new container on the live port; undo everything on failure."""
    server, env = site.server, site.env
    previous_name = f"{site.name}-previous"
    older = site.find("-previous") if current is not None else None
    was_running = current is not None and current.status in ("running", "restarting")
    old_policy = current.attrs["HostConfig"].get("RestartPolicy") if current is not None else None
    new: Container | None = None
    done: list[str] = []
    try:
        base = site.live_base()
        if older is not None:  # the version before last: kept until the switch succeeded
            older.rename(f"{previous_name}-{result.deploy_id}")
            done.append("older")
        if current is not None:
            current.rename(previous_name)
            done.append("renamed")
        new = server.client.containers.create(**live_kwargs)
        switch_began = time.monotonic()
        if current is not None and was_running:
            current.update(restart_policy={"Name": "no"})  # it must not come back by itself
            done += ["policy", "stopped"]  # before the call: a stop that fails half-way is undone
            current.stop(timeout=env.stop_timeout)
        result.stop_seconds = time.monotonic() - switch_began
        new.start()
        _, result.checks = site.prove(new, base)
        if current is not None:
            result.outage_seconds = time.monotonic() - switch_began
    except BaseException as exc:
        restored = _undo_switch(site, current, new, older, old_policy, done, log)
        raise _switch_error(exc, f"the new version {short(result.digest)}", restored) from None
    if older is not None:
        older.remove(force=True)
    if current is None:
        log(f"{site.name} started on port {env.port}")
    else:
        log(
            f"switched {site.name}: old one stopped in {result.stop_seconds:.2f} s, new one "
            f"healthy {result.outage_seconds or 0:.2f} s after the stop began; old one kept as "
            f"{previous_name}"
        )
    for check in result.checks:
        log(f"  ok: {check}")


def _switch_error(exc: BaseException, what: str, restored: str) -> BaseException:
    """The error to raise once a switch was undone: one line saying what serves now."""
    from docker.errors import APIError
    from requests import RequestException

    if isinstance(exc, _Unhealthy):
        error = DeployError(f"{what} failed on the live port: {exc.message}; {restored}")
        error.details = exc.logs
        return error
    if isinstance(exc, APIError):
        return DeployError(f"the server's engine refused: {exc.explanation or exc}; {restored}")
    if isinstance(exc, RequestException):
        return DeployError(f"connection to the server lost: {type(exc).__name__}; {restored}")
    return exc  # an interrupt (already a one-line PipelineError) or a bug: re-raised as is


def _undo_switch(
    site: Site,
    current: Container | None,
    new: Container | None,
    older: Container | None,
    old_policy: dict[str, Any] | None,
    done: list[str],
    log: Log,
) -> str:
    """Put the server back as it was; returns what serves now, for the error message."""
    if new is not None:
        with contextlib.suppress(Exception):
            new.remove(force=True)
    outcome = f"removed it; nothing runs as {site.name} now (first deploy)"
    if current is not None:
        try:
            if "renamed" in done:
                current.rename(site.name)
            if "policy" in done and old_policy:
                current.update(restart_policy=old_policy)
            if "stopped" in done:
                current.start()
                site.prove(current, site.live_base())
                outcome = (
                    f"removed it and restarted the previous one ({short(_digest_of(current))}), "
                    "which serves again"
                )
            else:
                outcome = f"removed it; {site.name} was not touched"
        except Exception as exc:  # say so, and do not hide the original failure
            outcome = f"removed it, but COULD NOT restore {site.name}: {exc}"
    if older is not None and "older" in done:
        with contextlib.suppress(Exception):
            older.rename(f"{site.name}-previous")
    log(f"undone: {outcome}")
    return outcome


# --- rollback ---------------------------------------------------------------------------------


@dataclass
class RollbackResult:
    environment: str
    host: str
    container: str
    digest: str | None
    replaced_digest: str | None
    outage_seconds: float
    checks: list[str]


def rollback(site: Site, log: Log) -> RollbackResult:
    """Swap ``NAME`` and ``NAME-previous``: the previous version serves again, checked."""
    server, env = site.server, site.env
    server.check_reachable("" if env.host_network else env.port.host_ip)
    previous = site.find("-previous")
    if previous is None:
        raise DeployError(
            f"nothing to roll back to: no {site.name}-previous on {server.name} (nothing changed)",
            hint="a rollback target exists from the second deploy on",
        )
    current = site.find()
    log(f"rolling {site.name} back: {short(_digest_of(current))} -> {short(_digest_of(previous))}")
    current_policy = current.attrs["HostConfig"].get("RestartPolicy") if current else None
    was_running = current is not None and current.status in ("running", "restarting")
    done: list[str] = []
    try:
        base = site.live_base()
        began = time.monotonic()
        if current is not None:
            current.rename(f"{site.name}-rollback")
            done.append("parked")
            if was_running:
                current.update(restart_policy={"Name": "no"})
                began = time.monotonic()
                done.append("stopped")
                current.stop(timeout=env.stop_timeout)
        previous.rename(site.name)
        done.append("renamed")
        previous.update(restart_policy=restart_policy(env.restart))
        previous.start()
        _, checks = site.prove(previous, base)
        outage = time.monotonic() - began
    except BaseException as exc:
        restored = _undo_rollback(site, current, previous, current_policy, done)
        what = f"the previous version {short(_digest_of(previous))}"
        raise _switch_error(exc, what, restored) from None
    if current is not None:
        current.rename(f"{site.name}-previous")
    log(f"{site.name} serves {short(_digest_of(previous))} again (outage {outage:.2f} s)")
    for check in checks:
        log(f"  ok: {check}")
    return RollbackResult(
        env.name, server.name, site.name, _digest_of(previous), _digest_of(current), outage, checks
    )


def _undo_rollback(
    site: Site,
    current: Container | None,
    previous: Container,
    current_policy: dict[str, Any] | None,
    done: list[str],
) -> str:
    try:
        if "renamed" in done:
            previous.stop(timeout=site.env.stop_timeout)
            previous.update(restart_policy={"Name": "no"})
            previous.rename(f"{site.name}-previous")
        if current is None:
            return f"nothing runs as {site.name}"
        if "parked" in done:
            current.rename(site.name)
        if "stopped" in done:
            if current_policy:
                current.update(restart_policy=current_policy)
            current.start()
            site.prove(current, site.live_base())
        return f"{site.name} ({short(_digest_of(current))}) serves again"
    except Exception as exc:
        return f"COULD NOT restore {site.name}: {exc}"


# --- status -----------------------------------------------------------------------------------


@dataclass
class ContainerStatus:
    name: str
    role: str
    state: str
    digest: str | None = None
    repository: str | None = None
    revision: str | None = None
    deployed_at: str | None = None
    started_at: str | None = None
    run_id: str | None = None
    engine_health: str | None = None  # the image's HEALTHCHECK as the engine sees it, if any
    check: str | None = None  # the live HTTP checks, run now
    healthy: bool | None = None


def status(site: Site) -> list[ContainerStatus]:
    """What runs as ``NAME`` (checked now, over HTTP) and what ``NAME-previous`` holds."""
    rows = []
    for role, suffix in (("live", ""), ("previous", "-previous"), ("candidate", "-candidate")):
        container = site.find(suffix)
        if container is None:
            if role == "live":
                rows.append(ContainerStatus(site.name, role, "absent", healthy=False))
            continue
        labels = container.labels or {}
        state = container.attrs["State"]
        started = str(state.get("StartedAt") or "")
        row = ContainerStatus(
            name=container.name or site.name + suffix,
            role=role,
            state=container.status,
            digest=labels.get(f"{LABEL}digest"),
            repository=labels.get(f"{LABEL}repository"),
            revision=labels.get(f"{LABEL}revision"),
            deployed_at=labels.get(f"{LABEL}deployed-at"),
            started_at=f"{started[:19]}Z" if started and not started.startswith("0001") else None,
            run_id=labels.get(f"{LABEL}run") or None,
            engine_health=(state.get("Health") or {}).get("Status"),
        )
        if role == "live":
            row.healthy, row.check = _live_check(site, container)
        rows.append(row)
    return rows


def _live_check(site: Site, container: Container) -> tuple[bool, str]:
    if container.status != "running":
        return False, f"not running ({container.status})"
    try:
        _, checks = site.prove(container, site.live_base(), STATUS_CHECK_TIMEOUT)
    except _Unhealthy as exc:
        return False, exc.message
    return True, "; ".join(checks)


def render_status(site: Site, rows: list[ContainerStatus]) -> str:
    lines = [f"{site.env.name} on {site.server.name}:"]
    for row in rows:
        if row.state == "absent":
            lines.append(f"  {row.name}: not deployed")
            continue
        lines.append(f"  {row.name} ({row.role}): {row.state} since {row.started_at or '-'}")
        lines.append(f"    digest     {row.digest or '- (not deployed by hoist)'}")
        lines.append(f"    repository {row.repository or '-'}  revision {row.revision or '-'}")
        lines.append(f"    deployed   {row.deployed_at or '-'}  hoist run {row.run_id or '-'}")
        if row.role == "live":
            health = "healthy" if row.healthy else "UNHEALTHY"
            engine = f" (engine healthcheck: {row.engine_health})" if row.engine_health else ""
            lines.append(f"    health     {health}: {row.check}{engine}")
    return "\n".join(lines)


# --- summary ----------------------------------------------------------------------------------


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


# --- the tasks' entry points ------------------------------------------------------------------


@contextlib.contextmanager
def open_site(
    config: PipelineConfig, env: DeployEnvironment, host: str | None, environ: Mapping[str, str]
) -> Iterator[Site]:
    """Connect to the environment's server; the connection (and any tunnel) closes after."""
    from pipeline.deploy.host import connect

    server = connect(deploy_host(env, host), environ)
    try:
        yield Site(server, env, http_checks(env, config.smoke.checks))
    finally:
        server.close()


def run_deploy(
    config_path: str,
    *,
    host: str | None,
    env_name: str | None,
    digest: str | None,
    environ: Mapping[str, str],
    log: Log,
) -> DeployResult:
    """``invoke deploy``: everything is checked locally before the server is contacted."""
    from pipeline.paths import state_dir
    from pipeline.project import load_config

    started = time.monotonic()
    config = load_config(config_path)
    env = select_environment(config, env_name)
    reports = state_dir() / "reports"
    release, credentials = find_release(config, env, digest, reports / "last.json", environ)
    signing = config.signing
    if signing is not None and signing.public_key is not None:  # before the server is contacted
        verify_release(signing, release.target, release.pull_repository, release.digest,
                       credentials, environ, config.path.name, log)  # fmt: skip
    environment = {**read_env_file(env, config.path.name, environ), **env.env}
    with open_site(config, env, host, environ) as site:
        result = deploy(site, release, credentials, environment, log, started=started)
    write_deploy_record(result, reports)
    _step_summary(environ, render_deploy(result))
    return result


def run_rollback(
    config_path: str,
    *,
    host: str | None,
    env_name: str | None,
    environ: Mapping[str, str],
    log: Log,
) -> RollbackResult:
    """``invoke rollback``."""
    from pipeline.project import load_config

    config = load_config(config_path)
    env = select_environment(config, env_name)
    with open_site(config, env, host, environ) as site:
        result = rollback(site, log)
    _step_summary(
        environ,
        f"rolled {result.container} back on {result.host}: {short(result.replaced_digest)} -> "
        f"{short(result.digest)} (outage {result.outage_seconds:.2f} s)",
    )
    return result


def run_status(
    config_path: str, *, host: str | None, env_name: str | None, environ: Mapping[str, str]
) -> tuple[str, bool]:
    """``invoke status``: the rendered table and whether the live container is healthy."""
    from pipeline.project import load_config

    config = load_config(config_path)
    env = select_environment(config, env_name)
    with open_site(config, env, host, environ) as site:
        rows = status(site)
        return render_status(site, rows), bool(rows and rows[0].healthy)


def _step_summary(environ: Mapping[str, str], text: str) -> None:
    """In GitHub Actions, the deploy summary goes to the job page too."""
    path = environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as summary:
            summary.write(f"### hoist deploy\n\n```\n{text}\n```\n")
