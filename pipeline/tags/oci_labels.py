"""The OCI image labels metadata-action sets (``org.opencontainers.image.*``), user labels merged
over them, their values expanded like tag templates."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

from pipeline.context.model import Context
from pipeline.errors import ConfigError
from pipeline.tags.rules import GLOBAL_NAMES
from pipeline.tags.templates import (
    Template,
    TemplateError,
    compile_template,
)


@dataclass(frozen=True)
class RepoInfo:
    """What the OCI labels say about the project; empty fields stay empty labels.

    ``url`` falls back to the context's repository URL, ``source`` to ``url`` and ``name``
    to the last part of the URL, as metadata-action takes all three from the GitHub repo.
    """

    name: str = ""
    description: str = ""
    url: str = ""
    source: str = ""
    licenses: str = ""


_OCI = "org.opencontainers.image"
REVISION_LABEL = f"{_OCI}.revision"  # the commit an image was built from


def oci_labels(
    repo: RepoInfo,
    context: Context,
    now: datetime,
    version: str,
    overrides: Mapping[str, str],
    expand: Callable[[Template], str],
    source: str,
) -> dict[str, str]:
    """metadata-action's eight OCI labels, user labels over them (their templates given to
    ``expand``), sorted by key."""
    url = repo.url or context.repository_url or ""
    labels = {
        f"{_OCI}.title": repo.name or url.rstrip("/").rsplit("/", 1)[-1],
        f"{_OCI}.description": repo.description,
        f"{_OCI}.url": url,
        f"{_OCI}.source": repo.source or url,
        f"{_OCI}.version": version,
        f"{_OCI}.created": _iso_millis(now),
        REVISION_LABEL: context.sha,
        f"{_OCI}.licenses": repo.licenses,
    }
    for key, value in overrides.items():
        try:
            labels[key] = expand(compile_template(value, GLOBAL_NAMES))
        except TemplateError as exc:
            raise ConfigError(f"{source}.labels", key, str(exc)) from exc
    return dict(sorted(labels.items(), key=lambda item: (item[0].casefold(), item[0])))


def _iso_millis(moment: datetime) -> str:
    """JavaScript's ``Date.toISOString()``: UTC, milliseconds, ``Z``."""
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
