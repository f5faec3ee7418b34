"""Repository facts: which commit a build comes from and why it runs (branch, tag, PR).

Tag rules (``pipeline.tags.rules``) are evaluated against a ``Context``. The same rules must give
the same tags on a laptop and in GitHub Actions, so a ``Context`` can be built two ways with
one result shape:

* from GitHub Actions' ``GITHUB_*`` variables and the event payload (what metadata-action
  reads), also outside Actions so a CI run can be replayed locally by exporting them;
* from the local git repository, where HEAD behaves like a push of its branch, or like a
  push of a tag when HEAD is exactly on a tag and the tree is clean.

Public API
----------
``Context``
    The facts, frozen. ``branch``, ``tag`` and ``short_sha`` are derived from ``ref``/``sha``.
``context_from_github(environ, default_branch=None) -> Context``
    From ``GITHUB_EVENT_NAME``, ``GITHUB_REF``, ``GITHUB_SHA`` and the JSON payload at
    ``GITHUB_EVENT_PATH``. Honours ``DOCKER_METADATA_PR_HEAD_SHA=true`` like metadata-action.
``context_from_repo(path, default_branch=None) -> Context``
    From the git repository containing ``path`` (GitPython, imported lazily).
``resolve_context(path, environ, default_branch=None) -> Context``
    The GitHub one whenever ``GITHUB_REF`` or ``GITHUB_EVENT_NAME`` is set, else the repo one.
``is_github_context(environ) -> bool``
    Whether ``resolve_context`` would use the GitHub variables.
``open_repo(path) -> git.Repo``
    The repository containing ``path``, or a ``PipelineError`` saying to ``git init``.
``public_url(remote_url) -> str | None``
    A remote URL made safe to publish in an image label (https, no credentials).

GitPython is imported inside functions only: importing this module must stay cheap because
every task imports it, including ones that never touch git.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from pipeline.errors import ConfigError, PipelineError

if TYPE_CHECKING:
    import git

FALLBACK_DEFAULT_BRANCH = "main"
MAX_EVENT_BYTES = 25 * 1024 * 1024  # GitHub caps webhook payloads at 25 MB

_HEADS = "refs/heads/"
_TAGS = "refs/tags/"
_PULL = "refs/pull/"
_SCP_LIKE = re.compile(r"^(?:[\w.-]+@)?(?P<host>[\w.-]+):(?P<path>.+)$")
_RELEASE_LIKE = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")


@dataclass(frozen=True)
class Context:
    """Where a build comes from, in GitHub Actions' vocabulary.

    ``ref`` is a full ref (``refs/heads/main``, ``refs/tags/v1.2.3``, ``refs/pull/7/merge``)
    or ``""`` when unknown; ``sha`` the full commit id or ``""``. Branch names in
    ``default_branch``, ``pr_base_ref`` and ``base_ref`` are short (``main``).
    """

    event_name: str
    ref: str
    sha: str
    default_branch: str = FALLBACK_DEFAULT_BRANCH
    pr_number: int | None = None
    pr_head_sha: str | None = None
    pr_base_ref: str | None = None
    base_ref: str | None = None
    commit_date: datetime | None = None
    dirty: bool = False
    repository_url: str | None = None
    source: str = "git"

    @property
    def branch(self) -> str | None:
        """The branch name when ``ref`` is a branch, else None."""
        return self.ref[len(_HEADS) :] if self.ref.startswith(_HEADS) else None

    @property
    def tag(self) -> str | None:
        """The tag name when ``ref`` is a tag, else None."""
        return self.ref[len(_TAGS) :] if self.ref.startswith(_TAGS) else None

    @property
    def is_pull_request(self) -> bool:
        """True for ``refs/pull/...`` refs, whatever the event name says."""
        return self.ref.startswith(_PULL)

    @property
    def short_sha(self) -> str:
        """The 7-character abbreviation people recognise from GitHub's UI."""
        return self.sha[:7]


# --- GitHub Actions ------------------------------------------------------------------------


def is_github_context(environ: Mapping[str, str]) -> bool:
    """True when the GitHub variables describe the run (in Actions or replayed locally)."""
    return bool(environ.get("GITHUB_REF") or environ.get("GITHUB_EVENT_NAME"))


def context_from_github(environ: Mapping[str, str], default_branch: str | None = None) -> Context:
    """Build the context metadata-action would see from the environment and event payload.

    ``default_branch`` is only a fallback: the payload's ``repository.default_branch`` wins,
    because that is what GitHub itself says.
    """
    event_name = environ.get("GITHUB_EVENT_NAME", "")
    payload = _load_event(environ.get("GITHUB_EVENT_PATH", ""))
    ref = _github_ref(environ.get("GITHUB_REF", ""), event_name, payload)
    pr_head_sha = _str_at(payload, "pull_request", "head", "sha")
    sha = environ.get("GITHUB_SHA", "")
    if _wants_pr_head_sha(environ, event_name) and pr_head_sha:
        sha = pr_head_sha
    return Context(
        event_name=event_name,
        ref=ref,
        sha=sha,
        default_branch=_github_default_branch(payload, event_name, ref, default_branch),
        pr_number=_pr_number(payload),
        pr_head_sha=pr_head_sha,
        pr_base_ref=_str_at(payload, "pull_request", "base", "ref"),
        base_ref=_short_branch(_str_at(payload, "base_ref")),
        commit_date=_payload_commit_date(payload, sha),
        dirty=False,
        repository_url=_github_repo_url(environ, payload),
        source="github",
    )


def _load_event(path: str) -> dict[str, Any]:
    """Read the event payload; no path means no payload (a replay with only a few vars)."""
    if not path:
        return {}
    file = Path(path)
    if not file.is_file():
        raise ConfigError(
            "GITHUB_EVENT_PATH",
            None,
            f"event payload {path} does not exist",
            hint="point GITHUB_EVENT_PATH at a saved payload, or unset it",
        )
    if file.stat().st_size > MAX_EVENT_BYTES:
        raise ConfigError("GITHUB_EVENT_PATH", None, f"event payload {path} is too large")
    try:
        payload = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(
            "GITHUB_EVENT_PATH", None, f"cannot read event payload {path}: {exc}"
        ) from exc
    if not isinstance(payload, dict):
        raise ConfigError("GITHUB_EVENT_PATH", None, f"event payload {path} is not an object")
    return payload


def _github_ref(ref: str, event_name: str, payload: Mapping[str, Any]) -> str:
    """pull_request_target runs on the base branch; metadata-action tags it as the PR."""
    number = payload.get("number")
    if "pull_request_target" in event_name and isinstance(number, int):
        return f"{_PULL}{number}/merge"
    return ref


def _wants_pr_head_sha(environ: Mapping[str, str], event_name: str) -> bool:
    """metadata-action's opt-in to tag a PR with its head commit rather than the merge one."""
    opted_in = environ.get("DOCKER_METADATA_PR_HEAD_SHA", "").strip().lower() == "true"
    return opted_in and "pull_request" in event_name


def _github_default_branch(
    payload: Mapping[str, Any], event_name: str, ref: str, fallback: str | None
) -> str:
    """Payload first; a schedule payload has no repository but runs on the default branch."""
    from_payload = _str_at(payload, "repository", "default_branch")
    if from_payload:
        return from_payload
    if "schedule" in event_name and ref.startswith(_HEADS):
        return ref[len(_HEADS) :]
    return fallback or FALLBACK_DEFAULT_BRANCH


def _pr_number(payload: Mapping[str, Any]) -> int | None:
    for value in (payload.get("number"), _at(payload, "pull_request", "number")):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _payload_commit_date(payload: Mapping[str, Any], sha: str) -> datetime | None:
    """The commit's timestamp when the push payload carries it (saves an API call)."""
    candidates: list[Any] = []
    commits = payload.get("commits")
    if isinstance(commits, list):
        candidates.extend(commits)
    candidates.append(payload.get("head_commit"))
    for commit in candidates:
        if isinstance(commit, dict) and commit.get("id") == sha and sha:
            return _parse_timestamp(commit.get("timestamp"))
    return None


def _parse_timestamp(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _github_repo_url(environ: Mapping[str, str], payload: Mapping[str, Any]) -> str | None:
    html_url = _str_at(payload, "repository", "html_url")
    if html_url:
        return html_url
    repository = environ.get("GITHUB_REPOSITORY")
    if not repository:
        return None
    server = environ.get("GITHUB_SERVER_URL") or "https://github.com"
    return f"{server.rstrip('/')}/{repository}"


def _at(data: Mapping[str, Any], *keys: str) -> object:
    current: object = data
    for key in keys:
        if not isinstance(current, dict):
            return None
        current = current.get(key)
    return current


def _str_at(data: Mapping[str, Any], *keys: str) -> str | None:
    value = _at(data, *keys)
    return value if isinstance(value, str) and value else None


def _short_branch(ref: str | None) -> str | None:
    if ref is None:
        return None
    return ref[len(_HEADS) :] if ref.startswith(_HEADS) else ref


# --- local repository ----------------------------------------------------------------------


class NotARepository(PipelineError):
    """The path has no git repository: callers may fall back to a context without git facts."""


def open_repo(path: str | Path) -> git.Repo:
    """The repository containing ``path``; a clear error instead of GitPython's traceback."""
    import git

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
        ref = f"{_TAGS}{tag}"
    elif branch:
        ref = f"{_HEADS}{branch}"
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
            return f"{_HEADS}{head.name}"
    for remote in repo.remotes:
        for remote_ref in remote.refs:
            if remote_ref.remote_head == "HEAD":
                continue
            if remote_ref.commit.hexsha == sha:
                return f"{_HEADS}{remote_ref.remote_head}"
    return ""


def _origin_default_branch(repo: git.Repo) -> str | None:
    """``origin/HEAD`` is set by ``git clone`` (or ``git remote set-head``) to the default."""
    from git import SymbolicReference

    head = SymbolicReference(repo, "refs/remotes/origin/HEAD")
    try:
        target = head.reference.path
    except (ValueError, TypeError, OSError):
        return None
    prefix = "refs/remotes/origin/"
    return target[len(prefix) :] if target.startswith(prefix) else None


def _origin_url(repo: git.Repo) -> str | None:
    from git import GitError

    try:
        urls = list(repo.remote("origin").urls)
    except (ValueError, GitError):  # no origin, or git refuses to list it
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


# --- either --------------------------------------------------------------------------------


def resolve_context(
    path: str | Path, environ: Mapping[str, str], default_branch: str | None = None
) -> Context:
    """The GitHub context when its variables are set, else the local repository's.

    A GitHub context replayed locally may lack ``GITHUB_SHA`` or a commit date; those are
    filled from the local repository when it has them, best effort.
    """
    if not is_github_context(environ):
        return context_from_repo(path, default_branch)
    context = context_from_github(environ, default_branch)
    if context.sha and context.commit_date is not None:
        return context
    return _fill_from_repo(context, path)


def _fill_from_repo(context: Context, path: str | Path) -> Context:
    import git

    try:
        repo = git.Repo(Path(path), search_parent_directories=True)
        commit = repo.commit(context.sha) if context.sha else repo.head.commit
    except (git.GitError, ValueError, OSError):
        return context
    return replace(context, sha=commit.hexsha, commit_date=commit.committed_datetime)
