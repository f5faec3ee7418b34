"""A ``Context`` from GitHub Actions' ``GITHUB_*`` variables and the event payload — what
metadata-action reads — also outside Actions, so a CI run can be replayed locally by exporting
them. Honours ``DOCKER_METADATA_PR_HEAD_SHA=true`` like metadata-action."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.context.model import FALLBACK_DEFAULT_BRANCH, HEADS, PULL, Context
from pipeline.errors import ConfigError

MAX_EVENT_BYTES = 25 * 1024 * 1024  # GitHub caps webhook payloads at 25 MB


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
        return f"{PULL}{number}/merge"
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
    if "schedule" in event_name and ref.startswith(HEADS):
        return ref[len(HEADS) :]
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
    return ref[len(HEADS) :] if ref.startswith(HEADS) else ref
