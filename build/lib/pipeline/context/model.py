"""Where a build comes from — the one shape both ways of learning it produce.

Tag rules (``pipeline.tags``) are evaluated against a ``Context``. The same rules must give the
same tags on a laptop and in GitHub Actions, so a ``Context`` is built either from GitHub
Actions' variables (``context.github``) or from the local repository (``context.repo``);
``context.resolve`` picks one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

FALLBACK_DEFAULT_BRANCH = "main"
HEADS = "refs/heads/"
TAGS = "refs/tags/"
PULL = "refs/pull/"


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
        return self.ref[len(HEADS) :] if self.ref.startswith(HEADS) else None

    @property
    def tag(self) -> str | None:
        """The tag name when ``ref`` is a tag, else None."""
        return self.ref[len(TAGS) :] if self.ref.startswith(TAGS) else None

    @property
    def is_pull_request(self) -> bool:
        """True for ``refs/pull/...`` refs, whatever the event name says."""
        return self.ref.startswith(PULL)

    @property
    def short_sha(self) -> str:
        """The 7-character abbreviation people recognise from GitHub's UI."""
        return self.sha[:7]
