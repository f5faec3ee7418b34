"""Releases on a real temporary repository whose ``origin`` is a local bare repository.

Every refusal is checked for its message and for leaving no tag behind, locally or on
``origin``. No network: ``origin`` is a path.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import ConfigError, PipelineError
from pipeline.release import (
    ReleasePlan,
    bump_version,
    cut_release,
    last_release,
    parse_release_version,
    plan_release,
)


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, timeout=30
    )
    return done.stdout.strip()


def configure(repo: Path) -> None:
    git(repo, "config", "user.name", "Hoist Test")
    git(repo, "config", "user.email", "hoist@example.invalid")
    git(repo, "config", "commit.gpgsign", "false")
    git(repo, "config", "tag.gpgsign", "false")


def commit(repo: Path, text: str) -> str:
    (repo / "app.txt").write_text(text)
    git(repo, "add", "app.txt")
    git(repo, "commit", "-q", "-m", text)
    return git(repo, "rev-parse", "HEAD")


class Repos:
    """A working clone and its bare origin."""

    def __init__(self, tmp_path: Path) -> None:
        self.origin = tmp_path / "origin.git"
        git(tmp_path, "init", "-q", "--bare", "-b", "main", str(self.origin))
        seed = tmp_path / "seed"
        seed.mkdir()
        git(seed, "init", "-q", "-b", "main")
        configure(seed)
        commit(seed, "v0")
        git(seed, "push", "-q", str(self.origin), "main")
        git(tmp_path, "clone", "-q", str(self.origin), "work")
        self.work = tmp_path / "work"
        configure(self.work)

    def local_tags(self) -> list[str]:
        return git(self.work, "tag", "--list").split()

    def origin_tags(self) -> list[str]:
        return git(self.origin, "tag", "--list").split()

    def tag(self, *names: str) -> None:
        for name in names:
            git(self.work, "tag", name)


@pytest.fixture
def repos(tmp_path: Path) -> Repos:
    return Repos(tmp_path)


# --- planning ------------------------------------------------------------------------------


def test_first_release_plan_is_a_dry_run(repos: Repos) -> None:
    plan = plan_release(repos.work, bump="minor")
    head = git(repos.work, "rev-parse", "HEAD")
    assert plan == ReleasePlan(
        repo_path=repos.work,
        version="0.1.0",
        tag="v0.1.0",
        sha=head,
        branch="main",
        default_branch="main",
        previous=None,
    )
    assert (
        plan.describe() == f"tag {head[:7]} on main as v0.1.0 (first release) and push it to origin"
    )
    assert repos.local_tags() == repos.origin_tags() == []


@pytest.mark.parametrize(
    ("bump", "expected"), [("patch", "1.10.1"), ("minor", "1.11.0"), ("major", "2.0.0")]
)
def test_bump_from_highest_release_tag(repos: Repos, bump: str, expected: str) -> None:
    first = git(repos.work, "rev-parse", "HEAD")
    repos.tag("v1.2.3", "v1.10.0", "v1.9.0")
    git(repos.work, "tag", "v3.0.0-rc1", first)  # not a release
    git(repos.work, "tag", "nightly", first)  # not a release
    commit(repos.work, "v1")
    plan = plan_release(repos.work, bump=bump)
    assert (plan.version, plan.tag, plan.previous) == (expected, f"v{expected}", "v1.10.0")
    assert last_release(repos.work) == "v1.10.0"


@pytest.mark.parametrize("version", ["1.4.0", "v1.4.0", " 1.4.0 "])
def test_explicit_version(repos: Repos, version: str) -> None:
    repos.tag("v1.3.9")
    commit(repos.work, "v1")
    assert plan_release(repos.work, version=version).tag == "v1.4.0"


def test_force_releases_from_another_branch(repos: Repos) -> None:
    git(repos.work, "switch", "-q", "-c", "hotfix")
    plan = plan_release(repos.work, bump="patch", force=True)
    assert (plan.branch, plan.default_branch) == ("hotfix", "main")
    assert "on hotfix as v0.0.1" in plan.describe()


def test_default_branch_without_origin_head(repos: Repos) -> None:
    git(repos.work, "remote", "set-head", "origin", "--delete")
    git(repos.work, "branch", "-q", "-m", "master")
    assert plan_release(repos.work, bump="patch", default_branch="master").branch == "master"


# --- refusals ------------------------------------------------------------------------------


def make_dirty(repos: Repos) -> dict[str, Any]:
    (repos.work / "app.txt").write_text("edited\n")
    return {"bump": "patch"}


def on_feature_branch(repos: Repos) -> dict[str, Any]:
    git(repos.work, "switch", "-q", "-c", "feature")
    return {"bump": "patch"}


def detached(repos: Repos) -> dict[str, Any]:
    git(repos.work, "switch", "-q", "--detach", "HEAD")
    return {"bump": "patch"}


def existing_tag(repos: Repos) -> dict[str, Any]:
    repos.tag("v1.0.0")
    commit(repos.work, "v1")
    return {"version": "1.0.0"}


def below_last(repos: Repos) -> dict[str, Any]:
    repos.tag("v1.0.0")
    commit(repos.work, "v1")
    return {"version": "0.9.0"}


Setup = Callable[[Repos], dict[str, Any]]
REFUSALS: list[tuple[Setup, str, str]] = [
    (
        make_dirty,
        "refusing to release: the working tree has uncommitted changes",
        "commit or stash them first",
    ),
    (
        on_feature_branch,
        "refusing to release from branch 'feature': releases are cut from 'main'",
        "--force",
    ),
    (
        detached,
        "refusing to release from a detached HEAD: releases are cut from 'main'",
        "git switch main",
    ),
    (existing_tag, "refusing to release: tag v1.0.0 already exists", "higher version"),
    (
        below_last,
        "refusing to release v0.9.0: it is not above the last release v1.0.0",
        "e.g. 1.0.1",
    ),
]


@pytest.mark.parametrize(
    ("setup", "message", "hint"), REFUSALS, ids=[setup.__name__ for setup, _, _ in REFUSALS]
)
def test_refusal(repos: Repos, setup: Setup, message: str, hint: str) -> None:
    kwargs = setup(repos)
    before = (repos.local_tags(), repos.origin_tags())
    with pytest.raises(PipelineError) as error:
        plan_release(repos.work, **kwargs)
    assert error.value.message == message
    assert error.value.hint is not None and hint in error.value.hint
    assert "\n" not in str(error.value)
    assert (repos.local_tags(), repos.origin_tags()) == before


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"version": "1.2"}, "'1.2' is not a version like 1.2.3"),
        ({"version": "v1.2.3-rc1"}, "is not a version like 1.2.3"),
        ({"version": "01.2.3"}, "is not a version like 1.2.3"),
        ({"version": "latest"}, "is not a version like 1.2.3"),
        ({"bump": "huge"}, "'huge' is not a bump"),
        ({}, "give either a version or a bump"),
        ({"bump": "patch", "version": "1.0.0"}, "give either a version or a bump"),
    ],
)
def test_bad_input_is_a_config_error(repos: Repos, kwargs: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem) as error:
        plan_release(repos.work, **kwargs)
    assert error.value.exit_code == 2
    assert repos.local_tags() == []


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(PipelineError, match="not inside a git repository"):
        plan_release(tmp_path, bump="patch")


# --- cutting -------------------------------------------------------------------------------


def test_cut_creates_annotated_tag_and_pushes_it(repos: Repos) -> None:
    repos.tag("v1.0.0")
    head = commit(repos.work, "v1")
    plan = plan_release(repos.work, bump="minor")
    assert cut_release(plan) == "v1.1.0"
    assert git(repos.work, "cat-file", "-t", "v1.1.0") == "tag"
    assert (
        git(repos.work, "tag", "-l", "--format=%(contents:subject)", "v1.1.0") == "Release v1.1.0"
    )
    assert git(repos.work, "rev-parse", "v1.1.0^{commit}") == head
    assert repos.origin_tags() == ["v1.1.0"]
    assert git(repos.origin, "rev-parse", "v1.1.0") == git(repos.work, "rev-parse", "v1.1.0")


def test_cut_without_push_stays_local(repos: Repos) -> None:
    cut_release(plan_release(repos.work, bump="patch"), push=False)
    assert (repos.local_tags(), repos.origin_tags()) == (["v0.0.1"], [])


def test_cut_refuses_when_head_moved(repos: Repos) -> None:
    plan = plan_release(repos.work, bump="patch")
    commit(repos.work, "later")
    with pytest.raises(PipelineError, match="HEAD moved since the plan"):
        cut_release(plan)
    assert (repos.local_tags(), repos.origin_tags()) == ([], [])


def test_cut_refuses_when_tree_became_dirty(repos: Repos) -> None:
    plan = plan_release(repos.work, bump="patch")
    (repos.work / "app.txt").write_text("edited\n")
    with pytest.raises(PipelineError, match="uncommitted changes"):
        cut_release(plan)
    assert repos.local_tags() == []


def test_cut_refuses_when_tag_appeared(repos: Repos) -> None:
    plan = plan_release(repos.work, version="2.0.0")
    repos.tag("v2.0.0")
    with pytest.raises(PipelineError, match="tag v2.0.0 already exists"):
        cut_release(plan)
    assert repos.origin_tags() == []


def test_cut_refuses_without_the_remote(repos: Repos) -> None:
    plan = plan_release(repos.work, bump="patch", remote="upstream")
    with pytest.raises(PipelineError, match="no remote 'upstream'"):
        cut_release(plan)
    assert repos.local_tags() == []


def test_rejected_push_removes_the_local_tag(repos: Repos) -> None:
    plan = plan_release(repos.work, bump="patch")
    git(repos.origin, "tag", "v0.0.1", plan.sha)  # someone released meanwhile
    with pytest.raises(PipelineError) as error:
        cut_release(plan)
    assert error.value.message == (
        "pushing v0.0.1 to origin failed: [rejected] (already exists); "
        "the local tag was removed again"
    )
    assert error.value.hint is not None and "git fetch --tags" in error.value.hint
    assert repos.local_tags() == []


def test_unreachable_origin_removes_the_local_tag(repos: Repos, tmp_path: Path) -> None:
    git(repos.work, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    plan = plan_release(repos.work, bump="patch")
    with pytest.raises(PipelineError, match="pushing v0.0.1 to origin failed") as error:
        cut_release(plan)
    assert "\n" not in str(error.value)
    assert repos.local_tags() == []


# --- version arithmetic --------------------------------------------------------------------


def test_version_arithmetic() -> None:
    assert parse_release_version("v10.0.7") == (10, 0, 7)
    assert bump_version((1, 2, 3), "patch") == (1, 2, 4)
    assert bump_version((1, 2, 3), "minor") == (1, 3, 0)
    assert bump_version((1, 2, 3), "major") == (2, 0, 0)
