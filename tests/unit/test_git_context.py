"""Build contexts from real temporary git repositories and from GitHub event payloads.

The repositories are created with the git CLI in ``tmp_path`` (no network); payloads are
small JSON files shaped like GitHub's, holding only the fields the context reads.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from pipeline.context.github import context_from_github, is_github_context
from pipeline.context.model import Context
from pipeline.context.repo import context_from_repo, public_url
from pipeline.context.resolve import resolve_context
from pipeline.errors import ConfigError, PipelineError
from pipeline.tags.evaluate import compute_metadata

SHA = "860c1904a1ce19322e91ac35af1ab07466440c37"
HEAD_SHA = "3370e228f2209994d57af4427fe64e71bb79ac96"
REPO_URL = "https://github.com/docker/test-docker-action"


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, timeout=30
    )
    return done.stdout.strip()


def commit(repo: Path, name: str = "file.txt", text: str = "x\n", message: str = "c") -> str:
    (repo / name).write_text(text)
    git(repo, "add", name)
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def init_repo(path: Path, branch: str = "main") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", branch)
    git(path, "config", "user.name", "Hoist Test")
    git(path, "config", "user.email", "hoist@example.invalid")
    git(path, "config", "commit.gpgsign", "false")
    git(path, "config", "tag.gpgsign", "false")
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = init_repo(tmp_path / "work")
    commit(path, text="one\n", message="first")
    return path


# --- local repository ----------------------------------------------------------------------


def test_branch_push(repo: Path) -> None:
    context = context_from_repo(repo)
    head = git(repo, "rev-parse", "HEAD")
    committed = datetime.fromtimestamp(int(git(repo, "log", "-1", "--format=%ct")), timezone.utc)
    assert context == Context(
        event_name="push",
        ref="refs/heads/main",
        sha=head,
        default_branch="main",
        commit_date=context.commit_date,
        dirty=False,
        repository_url=None,
        source="git",
    )
    assert context.commit_date == committed
    assert (context.branch, context.tag, context.short_sha) == ("main", None, head[:7])


def test_feature_branch_and_given_default_branch(repo: Path) -> None:
    git(repo, "switch", "-q", "-c", "feature/login")
    context = context_from_repo(repo, default_branch="trunk")
    assert (context.ref, context.default_branch) == ("refs/heads/feature/login", "trunk")


def test_subdirectory_finds_the_repository(repo: Path) -> None:
    (repo / "app" / "src").mkdir(parents=True)
    assert context_from_repo(repo / "app" / "src").ref == "refs/heads/main"


@pytest.mark.parametrize("annotated", [False, True], ids=["lightweight", "annotated"])
def test_exact_tag_on_head_is_a_tag_push(repo: Path, annotated: bool) -> None:
    extra = ["-a", "-m", "release"] if annotated else []
    git(repo, "tag", *extra, "v1.2.3")
    context = context_from_repo(repo)
    assert (context.ref, context.tag, context.branch) == ("refs/tags/v1.2.3", "v1.2.3", None)
    assert context.sha == git(repo, "rev-parse", "HEAD")


def test_highest_release_tag_wins(repo: Path) -> None:
    for tag in ("v1.2.3", "nightly", "v1.10.0", "v1.9.9"):
        git(repo, "tag", tag)
    assert context_from_repo(repo).ref == "refs/tags/v1.10.0"


def test_tag_on_an_older_commit_is_ignored(repo: Path) -> None:
    git(repo, "tag", "v1.0.0")
    commit(repo, text="two\n")
    assert context_from_repo(repo).ref == "refs/heads/main"


def test_dirty_tree(repo: Path) -> None:
    (repo / "untracked.txt").write_text("new\n")
    assert context_from_repo(repo).dirty is False
    (repo / "file.txt").write_text("changed\n")
    assert context_from_repo(repo).dirty is True


def test_dirty_tree_never_gets_the_tag(repo: Path) -> None:
    git(repo, "tag", "v1.2.3")
    (repo / "file.txt").write_text("changed\n")
    context = context_from_repo(repo)
    assert (context.ref, context.dirty) == ("refs/heads/main", True)


def test_detached_head_at_branch_tip(repo: Path) -> None:
    git(repo, "switch", "-q", "--detach", "HEAD")
    assert context_from_repo(repo).ref == "refs/heads/main"


def test_detached_head_on_older_commit(repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD")
    commit(repo, text="two\n")
    git(repo, "switch", "-q", "--detach", first)
    context = context_from_repo(repo)
    assert (context.ref, context.sha) == ("", first)


def test_detached_head_on_tag(repo: Path) -> None:
    git(repo, "tag", "v2.0.0")
    commit(repo, text="two\n")
    git(repo, "switch", "-q", "--detach", "v2.0.0")
    assert context_from_repo(repo).ref == "refs/tags/v2.0.0"


@pytest.fixture
def clone(tmp_path: Path, repo: Path) -> Path:
    """A clone of ``repo`` through a bare origin whose default branch is ``trunk``."""
    git(repo, "branch", "-m", "trunk")
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "trunk", str(origin))
    git(repo, "push", "-q", str(origin), "trunk")
    git(tmp_path, "clone", "-q", str(origin), "clone")
    return tmp_path / "clone"


def test_default_branch_from_origin_head(clone: Path) -> None:
    git(clone, "config", "user.email", "hoist@example.invalid")
    git(clone, "config", "user.name", "Hoist Test")
    git(clone, "switch", "-q", "-c", "feature")
    context = context_from_repo(clone, default_branch="main")
    assert (context.ref, context.default_branch) == ("refs/heads/feature", "trunk")
    assert context.repository_url is None  # a local path is not published


def test_detached_head_at_remote_branch_tip(clone: Path) -> None:
    git(clone, "switch", "-q", "--detach", "HEAD")
    git(clone, "branch", "-q", "-D", "trunk")
    assert context_from_repo(clone).ref == "refs/heads/trunk"


def test_repository_url_is_public(clone: Path) -> None:
    git(clone, "remote", "set-url", "origin", "https://user:s3cret@github.com/acme/shop.git")
    assert context_from_repo(clone).repository_url == "https://github.com/acme/shop"


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(PipelineError) as error:
        context_from_repo(tmp_path)
    assert error.value.message == f"{tmp_path} is not inside a git repository"
    assert error.value.hint is not None and "git init" in error.value.hint


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(PipelineError, match="does not exist"):
        context_from_repo(tmp_path / "nope")


def test_repository_without_commits(tmp_path: Path) -> None:
    empty = init_repo(tmp_path / "empty")
    with pytest.raises(PipelineError, match="has no commits yet"):
        context_from_repo(empty)


def test_tag_rules_and_github_context_do_not_import_gitpython() -> None:
    """Only ``context.repo`` needs GitPython: the rules and GitHub's context stay cheap."""
    modules = "pipeline.context.github, pipeline.context.model, pipeline.tags.rules"
    code = f"import sys, {modules}; print('git' in sys.modules)"
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"


# --- GitHub Actions ------------------------------------------------------------------------

EventWriter = Callable[..., dict[str, str]]


@pytest.fixture
def github_env(tmp_path: Path) -> EventWriter:
    """Write a payload file and return the environment GitHub would give the job."""

    def make(event: str, ref: str, sha: str = SHA, payload: Any = None, **env: str) -> dict:
        environ = {
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": event,
            "GITHUB_REF": ref,
            "GITHUB_SHA": sha,
            "GITHUB_REPOSITORY": "docker/test-docker-action",
            **env,
        }
        if payload is not None:
            path = tmp_path / f"event_{event}.json"
            path.write_text(json.dumps(payload))
            environ["GITHUB_EVENT_PATH"] = str(path)
        return environ

    return make


REPOSITORY = {"default_branch": "master", "html_url": REPO_URL}


def test_github_push_branch(github_env: EventWriter) -> None:
    payload = {
        "ref": "refs/heads/dev",
        "base_ref": None,
        "commits": [{"id": SHA, "timestamp": "2022-04-19T11:04:39+02:00"}],
        "repository": REPOSITORY,
    }
    context = context_from_github(github_env("push", "refs/heads/dev", payload=payload))
    assert context == Context(
        event_name="push",
        ref="refs/heads/dev",
        sha=SHA,
        default_branch="master",
        commit_date=datetime(2022, 4, 19, 9, 4, 39, tzinfo=timezone.utc),
        repository_url=REPO_URL,
        source="github",
    )
    assert context.commit_date is not None
    assert context.commit_date.utcoffset() == timedelta(hours=2)


def test_github_push_tag(github_env: EventWriter) -> None:
    payload = {
        "ref": "refs/tags/v1.1.1",
        "base_ref": "refs/heads/master",
        "head_commit": {"id": SHA, "timestamp": "2022-04-19T11:39:35Z"},
        "repository": REPOSITORY,
    }
    context = context_from_github(github_env("push", "refs/tags/v1.1.1", payload=payload))
    assert (context.tag, context.base_ref) == ("v1.1.1", "master")
    assert context.commit_date == datetime(2022, 4, 19, 11, 39, 35, tzinfo=timezone.utc)


PULL_REQUEST = {
    "number": 15,
    "pull_request": {"number": 15, "head": {"sha": HEAD_SHA}, "base": {"ref": "master"}},
    "repository": REPOSITORY,
}


def test_github_pull_request(github_env: EventWriter) -> None:
    environ = github_env("pull_request", "refs/pull/15/merge", payload=PULL_REQUEST)
    context = context_from_github(environ)
    assert context == Context(
        event_name="pull_request",
        ref="refs/pull/15/merge",
        sha=SHA,
        default_branch="master",
        pr_number=15,
        pr_head_sha=HEAD_SHA,
        pr_base_ref="master",
        repository_url=REPO_URL,
        source="github",
    )
    assert context.is_pull_request


def test_github_pull_request_head_sha_opt_in(github_env: EventWriter) -> None:
    environ = github_env(
        "pull_request",
        "refs/pull/15/merge",
        payload=PULL_REQUEST,
        DOCKER_METADATA_PR_HEAD_SHA="true",
    )
    assert context_from_github(environ).sha == HEAD_SHA


def test_github_pull_request_target_is_tagged_as_the_pr(github_env: EventWriter) -> None:
    environ = github_env("pull_request_target", "refs/heads/master", payload=PULL_REQUEST)
    context = context_from_github(environ)
    assert (context.ref, context.sha, context.pr_base_ref) == ("refs/pull/15/merge", SHA, "master")


def test_github_schedule_runs_on_the_default_branch(github_env: EventWriter) -> None:
    environ = github_env("schedule", "refs/heads/master", payload={"schedule": "0 3 * * *"})
    context = context_from_github(environ, default_branch="main")
    assert (context.default_branch, context.repository_url) == ("master", REPO_URL)
    assert context.commit_date is None


def test_github_workflow_dispatch(github_env: EventWriter) -> None:
    payload = {"inputs": {}, "ref": "refs/heads/dev", "repository": REPOSITORY}
    context = context_from_github(
        github_env("workflow_dispatch", "refs/heads/dev", payload=payload)
    )
    assert (context.event_name, context.branch, context.default_branch) == (
        "workflow_dispatch",
        "dev",
        "master",
    )


def test_github_replay_without_payload() -> None:
    environ = {"GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/tags/v3.0.0"}
    context = context_from_github(environ, default_branch="trunk")
    assert context == Context("push", "refs/tags/v3.0.0", "", "trunk", source="github")


@pytest.mark.parametrize(
    ("content", "problem"),
    [(None, "does not exist"), ("{nope", "cannot read event payload"), ("[1]", "not an object")],
)
def test_github_bad_payload(tmp_path: Path, content: str | None, problem: str) -> None:
    path = tmp_path / "event.json"
    if content is not None:
        path.write_text(content)
    environ = {"GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": str(path)}
    with pytest.raises(ConfigError, match=problem):
        context_from_github(environ)


def test_github_and_local_tag_push_give_the_same_tags(repo: Path, github_env: EventWriter) -> None:
    """The point of one Context shape: a tag pushed from a laptop or from Actions."""
    git(repo, "tag", "v1.4.2")
    sha = git(repo, "rev-parse", "HEAD")
    rules = ["type=semver,pattern={{version}}", "type=semver,pattern={{major}}.{{minor}}"]
    rules.append("type=sha")
    local = compute_metadata(context_from_repo(repo), rules)
    remote = compute_metadata(
        context_from_github(github_env("push", "refs/tags/v1.4.2", sha)), rules
    )
    assert local.tags == remote.tags == ["1.4.2", "1.4", f"sha-{sha[:7]}", "latest"]


# --- resolve_context ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, False),
        ({"GITHUB_SHA": SHA}, False),
        ({"GITHUB_REF": "refs/heads/main"}, True),
        ({"GITHUB_EVENT_NAME": "push"}, True),
    ],
)
def test_is_github_context(environ: dict[str, str], expected: bool) -> None:
    assert is_github_context(environ) is expected


def test_resolve_uses_the_repository_outside_github(repo: Path) -> None:
    context = resolve_context(repo, {"HOME": "/root"})
    assert (context.source, context.ref) == ("git", "refs/heads/main")


def test_resolve_prefers_github_variables(repo: Path, github_env: EventWriter) -> None:
    environ = github_env("pull_request", "refs/pull/15/merge", payload=PULL_REQUEST)
    context = resolve_context(repo, environ)
    assert (context.source, context.ref, context.sha) == ("github", "refs/pull/15/merge", SHA)


def test_resolve_replay_fills_sha_and_date_from_the_repository(repo: Path) -> None:
    environ = {"GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/heads/release"}
    context = resolve_context(repo, environ)
    assert (context.source, context.branch) == ("github", "release")
    assert context.sha == git(repo, "rev-parse", "HEAD")
    assert context.commit_date is not None


def test_resolve_fills_commit_date_for_a_known_sha(repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD")
    commit(repo, text="two\n")
    environ = {"GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/heads/main", "GITHUB_SHA": first}
    context = resolve_context(repo, environ)
    expected = datetime.fromtimestamp(
        int(git(repo, "log", "-1", "--format=%ct", first)), timezone.utc
    )
    assert (context.sha, context.commit_date) == (first, expected)


def test_resolve_replay_outside_a_repository(tmp_path: Path) -> None:
    environ = {"GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/heads/main"}
    context = resolve_context(tmp_path, environ)
    assert (context.sha, context.commit_date) == ("", None)


# --- remote URLs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("remote", "url"),
    [
        ("git@github.com:acme/shop.git", "https://github.com/acme/shop"),
        ("git@github.com:/acme/shop.git", "https://github.com/acme/shop"),
        ("https://x-access-token:ghs_abc@github.com/acme/shop.git", "https://github.com/acme/shop"),
        ("https://github.com/acme/shop/", "https://github.com/acme/shop"),
        ("ssh://git@gitlab.example:2222/acme/shop.git", "https://gitlab.example/acme/shop"),
        ("git://git.example/acme/shop", "https://git.example/acme/shop"),
        ("http://localhost:3000/acme/shop.git", "http://localhost:3000/acme/shop"),
        ("/srv/git/shop.git", None),
        ("../shop", None),
        ("file:///srv/git/shop.git", None),
    ],
)
def test_public_url(remote: str, url: str | None) -> None:
    assert public_url(remote) == url
