"""A ``Context`` from the local git repository (GitPython), where HEAD behaves like a push of its
branch, or like a push of a tag when HEAD is exactly on a tag and the tree is clean; and the
remote URL made safe to publish in an image label."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import git

from pipeline.context.model import FALLBACK_DEFAULT_BRANCH, HEADS, TAGS, Context
from pipeline.errors import NotARepository, PipelineError

_SCP_LIKE = re.compile(r"^(?:[\w.-]+@)?(?P<host>[\w.-]+):(?P<path>.+)$")
_RELEASE_LIKE = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")


def open_repo(path: str | Path) -> git.Repo:
    """The repository containing ``path``; a clear error instead of GitPython's traceback."""
    location = Path(path)
    if not location.exists():
        raise PipelineError(f"{location} does not exist", hint="check the path or --config")
    try:
        return git.Repo(location, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
        raise NotARepository(
            f"{location} is not inside a git repository",
            hint=f"run `git init` in {location} and commit, so builds can be traced to a commit",
        ) from exc


def context_from_repo(path: str | Path, default_branch: str | None = None) -> Context:
    """Describe HEAD of the repository at ``path`` as the push GitHub would have seen.

    A tag exactly on HEAD wins over the branch (``refs/tags/<tag>``) unless the tree is
    dirty: uncommitted changes are not what the tag names, so they never get its tags.
    """
    repo = open_repo(path)
    commit = _head_commit(repo)
    dirty = repo.is_dirty(untracked_files=False)
    tag = None if dirty else _tag_on(repo, commit.hexsha)
    branch = _current_branch(repo)
    if tag:
        ref = f"{TAGS}{tag}"
    elif branch:
        ref = f"{HEADS}{branch}"
    else:
        ref = _branch_at(repo, commit.hexsha)
    return Context(
        event_name="push",
        ref=ref,
        sha=commit.hexsha,
        default_branch=_origin_default_branch(repo) or default_branch or FALLBACK_DEFAULT_BRANCH,
        commit_date=commit.committed_datetime,
        dirty=dirty,
        repository_url=_origin_url(repo),
        source="git",
    )


def _head_commit(repo: git.Repo) -> git.Commit:
    try:
        return repo.head.commit
    except ValueError as exc:  # GitPython's way of saying "HEAD points at nothing yet"
        raise PipelineError(
            f"{repo.working_dir} has no commits yet",
            hint="commit your files first: builds are traced to a commit",
        ) from exc


def _current_branch(repo: git.Repo) -> str | None:
    if repo.head.is_detached:
        return None
    return repo.active_branch.name


def _tag_on(repo: git.Repo, sha: str) -> str | None:
    """The tag pointing exactly at ``sha``; with several, the highest release-like one."""
    names = [tag.name for tag in repo.tags if _tag_commit(tag) == sha]
    if not names:
        return None
    return max(names, key=_tag_sort_key)


def _tag_commit(tag: git.TagReference) -> str | None:
    try:
        return tag.commit.hexsha
    except ValueError:  # a tag pointing at a tree or blob
        return None


def _tag_sort_key(name: str) -> tuple[int, tuple[int, ...], str]:
    match = _RELEASE_LIKE.match(name)
    if match:
        return (1, tuple(int(part) for part in match.groups()), name)
    return (0, (), name)


def _branch_at(repo: git.Repo, sha: str) -> str:
    """Detached HEAD (a CI checkout): the branch whose tip it is, local first, else ``""``."""
    for head in repo.heads:
        if head.commit.hexsha == sha:
            return f"{HEADS}{head.name}"
    for remote in repo.remotes:
        for remote_ref in remote.refs:
            if remote_ref.remote_head == "HEAD":
                continue
            if remote_ref.commit.hexsha == sha:
                return f"{HEADS}{remote_ref.remote_head}"
    return ""


def _origin_default_branch(repo: git.Repo) -> str | None:
    """``origin/HEAD`` is set by ``git clone`` (or ``git remote set-head``) to the default."""
    head = git.SymbolicReference(repo, "refs/remotes/origin/HEAD")
    try:
        target = head.reference.path
    except (ValueError, TypeError, OSError):
        return None
    prefix = "refs/remotes/origin/"
    return target[len(prefix) :] if target.startswith(prefix) else None


def _origin_url(repo: git.Repo) -> str | None:
    try:
        urls = list(repo.remote("origin").urls)
    except (ValueError, git.GitError):  # no origin, or git refuses to list it
        return None
    return public_url(urls[0]) if urls else None


def public_url(remote_url: str) -> str | None:
    """An https URL for a remote, without credentials, or None for a local path.

    Labels end up inside a pushed image: a token embedded in a remote URL must never get
    there, and a filesystem path means nothing to whoever pulls the image.
    """
    url = remote_url.strip()
    scp = _SCP_LIKE.match(url)
    if scp and "://" not in url:
        return _https(scp.group("host"), scp.group("path"))
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http", "ssh", "git") or not parts.hostname:
        return None
    if parts.scheme in ("https", "http"):
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, netloc, _clean_path(parts.path), "", ""))
    return _https(parts.hostname, parts.path)


def _https(host: str, path: str) -> str:
    return f"https://{host}{_clean_path(path)}"


def _clean_path(path: str) -> str:
    return "/" + path.strip("/").removesuffix(".git")
