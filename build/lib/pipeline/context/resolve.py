"""The repository state a run tags from: GitHub's when its variables are set, else git's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import git

from pipeline.context.github import context_from_github, is_github_context
from pipeline.context.model import Context
from pipeline.context.repo import context_from_repo


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
    try:
        repo = git.Repo(Path(path), search_parent_directories=True)
        commit = repo.commit(context.sha) if context.sha else repo.head.commit
    except (git.GitError, ValueError, OSError):
        return context
    return replace(context, sha=commit.hexsha, commit_date=commit.committed_datetime)
