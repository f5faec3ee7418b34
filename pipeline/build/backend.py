"""Which builder builds: BuildKit through a docker CLI that can drive it, or the SDK's classic.

docker-py cannot drive BuildKit (docker-py issue 2230), so a BuildKit build goes through a
docker CLI — and not every CLI can: one with the ``buildx`` plugin can, and so can a 20.10 to
22.x CLI with BuildKit built in (``DOCKER_BUILDKIT=1``); a 23+ CLI without buildx fails
("buildx component is missing or broken"). Which is which is asked of each CLI (``buildx
version`` and ``--version``, all at once), never guessed from a path: every ``docker`` on
PATH, then ``/usr/bin/docker`` (where Debian's docker.io puts its 20.10 CLI, often behind a
newer client first on PATH). ``HOIST_DOCKER_CLI=/path/to/docker`` makes that one CLI the only
candidate.

``build.backend: auto`` takes BuildKit when a capable CLI is found and the classic builder
otherwise; ``buildkit`` without one is a usage error, and so is ``classic`` with what only
BuildKit can do (build secrets: the classic builder could only take them as build args,
which stay in the image history).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pipeline.build.settings import BuildConfig
from pipeline.errors import ConfigError

CLI_ENV = "HOIST_DOCKER_CLI"
FALLBACK_CLIS = ("/usr/bin/docker",)
BUILTIN_BUILDKIT = ((20, 10), (23, 0))  # CLI versions with BuildKit built in: [from, to)
PROBE_SECONDS = 15.0
BUILDX_VERSION = ("buildx", "version")
CLI_VERSION = ("--version",)
_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)")
_Answer = tuple[int, str] | None  # exit code and output, or None: it did not run


@dataclass(frozen=True)
class BuildkitCli:
    """A docker CLI that drives BuildKit: through its buildx plugin or its built-in client."""

    path: str
    version: str
    buildx: bool

    def describe(self) -> str:
        how = f"buildx {self.version}" if self.buildx else f"docker CLI {self.version}"
        return f"BuildKit ({how} at {self.path})"


@dataclass(frozen=True)
class Backend:
    """The builder a build uses; ``cli`` is None for the SDK's classic builder."""

    cli: BuildkitCli | None

    @property
    def name(self) -> str:
        return "buildkit" if self.cli else "classic"

    def describe(self) -> str:
        return self.cli.describe() if self.cli else "the classic builder (Docker SDK)"


def choose_backend(build: BuildConfig, environ: Mapping[str, str]) -> Backend:
    """The backend ``build.backend`` asks for, or one clear line why it cannot be had."""
    if build.backend == "classic":
        _refuse_secrets_without_buildkit(build, "build.backend is classic")
        return Backend(None)
    cli, tried = find_cli(environ)
    if cli is not None:
        return Backend(cli)
    if build.backend == "buildkit":
        raise ConfigError(
            "build.backend",
            None,
            "is buildkit, but no docker CLI here can drive BuildKit (tried "
            + "; ".join(tried)
            + ")",
            hint="install docker's buildx plugin or a 20.10-22.x docker CLI, point "
            f"{CLI_ENV} at one, or set build.backend: classic",
        )
    _refuse_secrets_without_buildkit(build, "no docker CLI here can drive BuildKit")
    return Backend(None)


def _refuse_secrets_without_buildkit(build: BuildConfig, why: str) -> None:
    if build.secrets:
        raise ConfigError(
            "build.secrets",
            None,
            f"build secrets need BuildKit and {why}; the classic builder could only take them"
            " as build args, which stay in the image history",
            hint="set build.backend: buildkit (or auto) with a docker CLI that drives BuildKit",
        )


def find_cli(environ: Mapping[str, str]) -> tuple[BuildkitCli | None, list[str]]:
    """The first capable CLI (any with buildx before any with built-in BuildKit), and what
    each candidate turned out to be, for the error line when none can."""
    paths = candidates(environ)
    with ThreadPoolExecutor(max_workers=max(2 * len(paths), 1)) as pool:  # ~0.1-0.2 s each
        asked = {
            (path, args): pool.submit(_ask, path, list(args), environ)
            for path in paths
            for args in (BUILDX_VERSION, CLI_VERSION)
        }
        answers = {key: future.result() for key, future in asked.items()}
    probed = [(path, _judge(path, answers[path, BUILDX_VERSION], answers[path, CLI_VERSION]))
              for path in paths]  # fmt: skip
    for want_buildx in (True, False):
        for _, found in probed:
            if isinstance(found, BuildkitCli) and found.buildx == want_buildx:
                return found, []
    return None, [f"{path}: {found}" for path, found in probed] or ["no docker CLI found"]


def candidates(environ: Mapping[str, str]) -> list[str]:
    """Every ``docker`` executable on PATH, then the fallbacks, each real file once."""
    override = environ.get(CLI_ENV)
    if override:
        return [override]
    found: dict[str, str] = {}
    directories = environ.get("PATH", os.defpath).split(os.pathsep)
    for path in [*(str(Path(d) / "docker") for d in directories if d), *FALLBACK_CLIS]:
        if os.access(path, os.X_OK) and Path(path).is_file():
            found.setdefault(os.path.realpath(path), path)
    return list(found.values())


def _judge(path: str, buildx: _Answer, cli: _Answer) -> BuildkitCli | str:
    """What the CLI at ``path`` can do, from its answers: a ``BuildkitCli``, or why it cannot
    (for the error line)."""
    if buildx is not None and buildx[0] == 0:
        version = _VERSION.search(buildx[1])
        return BuildkitCli(path, version[0] if version else "unknown", buildx=True)
    if cli is None or cli[0] != 0:
        return "does not run"
    version = _VERSION.search(cli[1])
    if version is None:
        return "says no version"
    number = (int(version[1]), int(version[2]))
    low, high = BUILTIN_BUILDKIT
    if low <= number < high:
        return BuildkitCli(path, version[0], buildx=False)
    return f"{version[0]} without buildx"


def _ask(path: str, args: list[str], environ: Mapping[str, str]) -> _Answer:
    try:
        done = subprocess.run(
            [path, *args],
            env=dict(environ),
            capture_output=True,
            text=True,
            timeout=PROBE_SECONDS,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.returncode, done.stdout + done.stderr
