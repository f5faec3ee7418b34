"""A BuildKit build through the docker CLI: its command line, its process, its image id.

The CLI (``build.backend`` chose it) builds the Dockerfile's own image, untagged: tags and
labels are added afterwards exactly as on the classic path (``classic.apply_labels``: one
``LABEL`` step, reuse by content), so both backends make the same image the same way and
nothing is tagged before a build succeeded. The image id comes from ``--iidfile`` in a
private temporary directory, removed on every path.

The CLI runs in its own process group with the engine pinned (``DOCKER_HOST`` the SDK's,
``DOCKER_CONTEXT`` dropped), so it builds on the engine everything else in hoist uses. On
Ctrl-C/SIGTERM the group is interrupted (the CLI cancels the solve, and BuildKit stops the
running step), killed if it does not end within ``STOP_SECONDS``, and waited for.

Build secrets are handed to BuildKit by reference (``--secret id=ID,env=NAME`` or
``src=PATH``): the CLI reads the value itself, so it is never on a command line or in a file
hoist writes; hoist reads it only to register it for redaction (``pipeline.secrets``), in
case a build step prints it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from pipeline.build.backend import BuildkitCli
from pipeline.build.platforms import Platform
from pipeline.build.progress import PlainProgress
from pipeline.build.settings import BuildConfig, BuildSecret
from pipeline.engine import engine_host
from pipeline.errors import ConfigError, Interrupted, StageFailed
from pipeline.result import Log
from pipeline.secrets import mask_secret

STOP_SECONDS = 10.0  # for the CLI to cancel the build after SIGINT, before SIGKILL
MASKED_FILE_BYTES = 64 * 1024  # a secret file larger than this is not read to be masked


def buildkit_build(
    cli: BuildkitCli,
    build: BuildConfig,
    args: Mapping[str, str],
    extra: Sequence[str],
    environ: Mapping[str, str],
    log: Log,
    docker_config: Path | None = None,
    platform: Platform | None = None,
) -> tuple[str, int, int]:
    """Build with BuildKit; returns the image id, the steps and the cached steps.

    ``extra`` are further flags (the cache's); ``docker_config`` a DOCKER_CONFIG directory
    holding the cache registry's credentials, if any; ``platform`` the one to build for
    (``--platform``: one per build, the 20.10 CLI cannot build a list).
    """
    check_secrets(build.secrets, environ)
    with tempfile.TemporaryDirectory(prefix="hoist-buildkit-") as scratch:
        iidfile = Path(scratch) / "iid"
        platform_flag = ["--platform", str(platform)] if platform else []
        command = build_command(cli, build, args, iidfile, [*platform_flag, *extra])
        progress = PlainProgress(log)
        code = run_cli(command, cli_environment(environ, docker_config), progress)
        if code != 0:
            raise progress.failure(code)
        image_id = iidfile.read_text().strip() if iidfile.is_file() else ""
    if not image_id.startswith("sha256:"):
        raise StageFailed("build", f"{cli.path} finished without writing the image id")
    return image_id, progress.steps, progress.cached


def build_command(
    cli: BuildkitCli,
    build: BuildConfig,
    args: Mapping[str, str],
    iidfile: Path,
    extra: Sequence[str] = (),
) -> list[str]:
    """The CLI's command line: no value on it is secret (build args that look like one are
    refused when pipeline.yaml is read; secrets go by env name or path)."""
    command = [cli.path, *(["buildx", "build", "--load"] if cli.buildx else ["build"])]
    command += ["--progress=plain", "--iidfile", str(iidfile), "--file", str(build.dockerfile)]
    for name, value in args.items():
        command += ["--build-arg", f"{name}={value}"]
    if build.target:
        command += ["--target", build.target]
    for secret in build.secrets:
        source = f"env={secret.env}" if secret.env else f"src={secret.file}"
        command += ["--secret", f"id={secret.id},{source}"]
    return [*command, *extra, str(build.context)]


def cli_environment(environ: Mapping[str, str], docker_config: Path | None) -> dict[str, str]:
    """The CLI's environment: the caller's, on the SDK's engine, with BuildKit switched on."""
    env = {k: v for k, v in environ.items() if k != "DOCKER_CONTEXT"}
    env.update(DOCKER_HOST=engine_host(), DOCKER_BUILDKIT="1", BUILDKIT_PROGRESS="plain")
    if docker_config is not None:
        env["DOCKER_CONFIG"] = str(docker_config)
    return env


def check_secrets(secrets: Sequence[BuildSecret], environ: Mapping[str, str]) -> None:
    """Each secret's source must be there (a missing one would be an empty mount the step
    reads without noticing); its value is registered for redaction before the build."""
    for secret in secrets:
        field = f"secrets.{secret.id}"
        if secret.env:
            value = environ.get(secret.env)
            if not value:
                raise ConfigError("build", f"{field}.env", f"{secret.env} is not set or empty")
            mask_secret(value)
        elif secret.file:
            if not secret.file.is_file():
                raise ConfigError("build", f"{field}.file", f"{secret.file} not found")
            if secret.file.stat().st_size <= MASKED_FILE_BYTES:
                mask_secret(secret.file.read_text(errors="replace").strip())


def run_cli(command: list[str], env: dict[str, str], progress: PlainProgress) -> int:
    """Run the CLI, its output lines fed to ``progress``; its exit code. Ctrl-C/SIGTERM
    stops its whole process group before the interrupt goes on."""
    process = subprocess.Popen(
        command,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            progress.feed(line)
        return process.wait()
    except (KeyboardInterrupt, Interrupted):
        stop_group(process)
        raise
    finally:
        if process.stdout is not None:
            process.stdout.close()


def stop_group(process: subprocess.Popen[str]) -> None:
    """SIGINT to the CLI's group (it cancels the build), SIGKILL if it lingers; reaped."""
    for signum, wait in ((signal.SIGINT, STOP_SECONDS), (signal.SIGKILL, STOP_SECONDS)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(wait)
            return
