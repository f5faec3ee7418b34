"""Cut a release: an annotated ``vX.Y.Z`` tag on the default branch, pushed to ``origin``.

Pushing the tag is what starts the release workflow (tag rules then give ``1.2.3``, ``1.2``,
``latest``...), so the tag must only ever name a commit someone meant to release. Planning
and cutting are separate: a plan checks everything and changes nothing, which is the whole
dry run; cutting re-checks, then creates and pushes the tag, and removes it again if the
push fails, so a refusal or a failure never leaves a stray tag behind.

Public API
----------
``plan_release(repo_path, bump=None, version=None, force=False, remote="origin",
default_branch=None) -> ReleasePlan``
    Exactly one of ``bump`` (``"patch"``, ``"minor"``, ``"major"``, from the last release)
    or ``version`` (``"1.4.0"`` or ``"v1.4.0"``). Refuses (``PipelineError``, nothing
    created): a dirty tree, a branch other than the default one unless ``force``, a detached
    HEAD unless ``force``, an existing tag, a version not above the last release. A malformed
    version or bump is a ``ConfigError``.
``cut_release(plan, push=True) -> str``
    Create the annotated tag and push it to the plan's remote; returns the tag name.
``last_release(repo_path) -> str | None``
    The highest ``vX.Y.Z`` tag, or None.
``parse_release_version(text) -> tuple[int, int, int]`` / ``bump_version(version, bump)``
    The version arithmetic, for callers that want to show it.
``ReleasePlan.describe() -> str``
    One line saying what ``cut_release`` would do, for ``--dry-run``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from git import GitCommandError, PushInfo

from pipeline.context.repo import context_from_repo, open_repo
from pipeline.errors import ConfigError, PipelineError

if TYPE_CHECKING:
    import git

BUMPS = ("patch", "minor", "major")
_RELEASE_TAG = re.compile(r"v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")
_VERSION = re.compile(r"v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")

Version = tuple[int, int, int]


@dataclass(frozen=True)
class ReleasePlan:
    """Everything ``cut_release`` will do, decided and checked up front."""

    repo_path: Path
    version: str
    tag: str
    sha: str
    branch: str | None
    default_branch: str
    previous: str | None
    remote: str = "origin"

    @property
    def message(self) -> str:
        """The annotated tag's message."""
        return f"Release {self.tag}"

    def describe(self) -> str:
        where = self.branch or "detached HEAD"
        after = f" (after {self.previous})" if self.previous else " (first release)"
        return f"tag {self.sha[:7]} on {where} as {self.tag}{after} and push it to {self.remote}"


def parse_release_version(text: str) -> Version:
    """``1.2.3`` or ``v1.2.3`` as numbers; anything else is a ConfigError."""
    match = _VERSION.fullmatch(text.strip())
    if not match:
        raise ConfigError(
            "release",
            "version",
            f"{text!r} is not a version like 1.2.3",
            hint="give MAJOR.MINOR.PATCH (e.g. 1.4.0), or use a bump: patch, minor, major",
        )
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def bump_version(version: Version, bump: str) -> Version:
    """The next version after ``version`` for a ``patch``, ``minor`` or ``major`` bump."""
    major, minor, patch = version
    if bump == "major":
        return major + 1, 0, 0
    if bump == "minor":
        return major, minor + 1, 0
    if bump == "patch":
        return major, minor, patch + 1
    raise ConfigError(
        "release", "bump", f"{bump!r} is not a bump", hint=f"use one of: {', '.join(BUMPS)}"
    )


def _text(version: Version) -> str:
    return ".".join(str(part) for part in version)


def last_release(repo_path: str | Path) -> str | None:
    """The highest ``vX.Y.Z`` tag in the repository (other tags are not releases)."""
    return _last_release(open_repo(repo_path))


def _last_release(repo: git.Repo) -> str | None:
    releases = [tag.name for tag in repo.tags if _RELEASE_TAG.fullmatch(tag.name)]
    if not releases:
        return None
    return max(releases, key=lambda name: parse_release_version(name))


def plan_release(
    repo_path: str | Path,
    bump: str | None = None,
    version: str | None = None,
    force: bool = False,
    remote: str = "origin",
    default_branch: str | None = None,
) -> ReleasePlan:
    """Decide the release and check every precondition; creates nothing.

    The default branch comes from ``origin/HEAD``, else ``default_branch``, else ``main``.
    """
    target = _requested(bump, version)
    context = context_from_repo(repo_path, default_branch)
    repo = open_repo(repo_path)
    branch = None if repo.head.is_detached else repo.active_branch.name
    _refuse_dirty(context.dirty)
    _refuse_branch(branch, context.default_branch, force)
    previous = _last_release(repo)
    if isinstance(target, str):
        target = bump_version(_previous_version(previous), target)
    tag = f"v{_text(target)}"
    _refuse_existing(repo, tag)
    _refuse_not_above(target, previous)
    return ReleasePlan(
        repo_path=Path(repo.working_dir),
        version=_text(target),
        tag=tag,
        sha=context.sha,
        branch=branch,
        default_branch=context.default_branch,
        previous=previous,
        remote=remote,
    )


def _requested(bump: str | None, version: str | None) -> Version | str:
    """The explicit version, or the bump word; both checked before the repository is read."""
    if (bump is None) == (version is None):
        raise ConfigError(
            "release",
            None,
            "give either a version or a bump, not both or neither",
            hint="e.g. `invoke release --bump minor` or `invoke release --version 1.4.0`",
        )
    if version is not None:
        return parse_release_version(version)
    assert bump is not None
    bump_version((0, 0, 0), bump)
    return bump


def _previous_version(previous: str | None) -> Version:
    return parse_release_version(previous) if previous else (0, 0, 0)


def _refuse_dirty(dirty: bool) -> None:
    if dirty:
        raise PipelineError(
            "refusing to release: the working tree has uncommitted changes",
            hint="commit or stash them first; a release tag must name exactly what is built",
        )


def _refuse_branch(branch: str | None, default_branch: str, force: bool) -> None:
    if force or branch == default_branch:
        return
    where = f"branch {branch!r}" if branch else "a detached HEAD"
    raise PipelineError(
        f"refusing to release from {where}: releases are cut from {default_branch!r}",
        hint=f"`git switch {default_branch}` and pull, or pass --force to release from here",
    )


def _refuse_existing(repo: git.Repo, tag: str) -> None:
    if any(existing.name == tag for existing in repo.tags):
        raise PipelineError(
            f"refusing to release: tag {tag} already exists",
            hint="choose a higher version, or bump from the last release",
        )


def _refuse_not_above(target: Version, previous: str | None) -> None:
    if previous is None:
        return
    last = parse_release_version(previous)
    if target <= last:
        raise PipelineError(
            f"refusing to release v{_text(target)}: it is not above the last release {previous}",
            hint=f"use a version above {_text(last)}, e.g. {_text(bump_version(last, 'patch'))}",
        )


def cut_release(plan: ReleasePlan, push: bool = True) -> str:
    """Create the annotated tag and push it; on any failure no new tag is left behind."""
    repo = open_repo(plan.repo_path)
    _recheck(repo, plan)
    remote = _remote(repo, plan.remote) if push else None
    tag_ref = _create_tag(repo, plan)
    if remote is None:
        return plan.tag
    try:
        _push_tag(remote, plan)
    except PipelineError:
        repo.delete_tag(tag_ref)
        raise
    return plan.tag


def _recheck(repo: git.Repo, plan: ReleasePlan) -> None:
    """The plan may be old (a dry run, then a coffee): what it checked must still hold."""
    if repo.head.commit.hexsha != plan.sha:
        raise PipelineError(
            f"refusing to release: HEAD moved since the plan (was {plan.sha[:7]})",
            hint="plan the release again",
        )
    _refuse_dirty(repo.is_dirty(untracked_files=False))
    _refuse_existing(repo, plan.tag)


def _remote(repo: git.Repo, name: str) -> git.Remote:
    try:
        return repo.remote(name)
    except ValueError as exc:
        raise PipelineError(
            f"refusing to release: the repository has no remote {name!r}",
            hint=f"`git remote add {name} <url>`, or cut the tag without pushing",
        ) from exc


def _create_tag(repo: git.Repo, plan: ReleasePlan) -> git.TagReference:
    try:
        return repo.create_tag(plan.tag, ref=plan.sha, message=plan.message)
    except GitCommandError as exc:
        raise PipelineError(
            f"git could not create tag {plan.tag}: {_first_line(exc.stderr)}",
            hint="an annotated tag needs `git config user.name` and `user.email`",
        ) from exc


def _push_tag(remote: git.Remote, plan: ReleasePlan) -> None:
    """Push only the new tag; a refusal by the remote (it has the tag) is an error too."""
    refspec = f"refs/tags/{plan.tag}:refs/tags/{plan.tag}"
    failed = PushInfo.ERROR | PushInfo.REJECTED | PushInfo.REMOTE_REJECTED | PushInfo.REMOTE_FAILURE
    try:
        with _quiet_gitpython(), remote.repo.git.custom_environment(GIT_TERMINAL_PROMPT="0"):
            results = remote.push(refspec)
    except GitCommandError as exc:
        raise _push_error(plan, _first_line(exc.stderr)) from exc
    problems = [info.summary.strip() for info in results if info.flags & failed]
    if problems or not results:
        raise _push_error(plan, "; ".join(problems) or "nothing was pushed")


@contextmanager
def _quiet_gitpython() -> Iterator[None]:
    """GitPython logs push errors itself; ours says the same in one line, so mute its logger."""
    logger = logging.getLogger("git.remote")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _push_error(plan: ReleasePlan, detail: str) -> PipelineError:
    if "already exists" in detail:
        hint = f"{plan.remote} already has {plan.tag}: `git fetch --tags` and release a higher one"
    else:
        hint = "fix access to the remote and retry"
    return PipelineError(
        f"pushing {plan.tag} to {plan.remote} failed: {detail}; the local tag was removed again",
        hint=hint,
    )


def _first_line(text: object) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    lines = [line.removeprefix("stderr:").strip(" '") for line in lines]
    return next((line for line in lines if line), "unknown error")
