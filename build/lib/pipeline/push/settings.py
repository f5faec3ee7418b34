"""``registries:`` of pipeline.yaml: the push targets, each of a known registry kind.

Without the section, where a run pushes depends on where it runs (``default_registries``):
in GitHub Actions an image on the embedded registry of a runner that is gone a minute later is
an image nobody can pull, so there the default is the repository's own GHCR package. The
environment is consulted by the caller (``PipelineConfig.in_environment``), never while the
file is read: loading stays a function of the file alone.
"""

from __future__ import annotations

from collections.abc import Mapping

from pipeline.config.fields import Fields, kind_of
from pipeline.push.registries import REGISTRY_KINDS
from pipeline.push.registries.base import TargetConfig

TARGET_KEYS = ("kind", "name", "repository", "endpoint", "options")


def default_registries(environ: Mapping[str, str]) -> list[TargetConfig]:
    """Where a pipeline.yaml without ``registries:`` pushes: in GitHub Actions
    ``ghcr.io/${GITHUB_REPOSITORY}`` (lower-cased, as GHCR names are) with the job's
    ``GITHUB_TOKEN``; anywhere else the embedded registry on 127.0.0.1."""
    if environ.get("GITHUB_ACTIONS") != "true":
        return [TargetConfig(kind="local", name="local")]
    repository = environ.get("GITHUB_REPOSITORY", "").lower()
    # GitHub always sets it; when not, the ghcr kind's own rule (GITHUB_REPOSITORY_OWNER) applies
    return [TargetConfig("ghcr", "ghcr", f"ghcr.io/{repository}" if repository else None)]


def parse_registries(top: Fields) -> list[TargetConfig]:
    """The targets; none configured means the default outside GitHub Actions (the embedded
    registry) until the run's environment is known (``default_registries``)."""
    raw = top.data.get("registries")
    if raw is None:
        return default_registries({})
    if not isinstance(raw, list) or not raw:
        raise top.error("registries", "expected a non-empty list of targets")
    targets: list[TargetConfig] = []
    for i, item in enumerate(raw):
        entry = Fields(
            top.source,
            f"registries[{i}]",
            item,
            TARGET_KEYS,
        )
        kind = entry.text("kind", required=True)
        if kind not in REGISTRY_KINDS:
            raise entry.error(
                "kind",
                f"unknown registry kind {kind!r}",
                hint=f"one of {', '.join(REGISTRY_KINDS)}",
            )
        assert kind is not None
        name = entry.text("name", kind) or kind
        if any(t.name == name for t in targets):
            raise entry.error(
                "name",
                f"duplicate target name {name!r}",
                hint="give each target of the same kind its own name:",
            )
        options = item.get("options") or {}
        if not isinstance(options, Mapping):
            raise entry.error("options", f"expected a mapping, got {kind_of(options)}")
        targets.append(
            TargetConfig(
                kind=kind,
                name=name,
                repository=entry.text("repository"),
                endpoint=entry.text("endpoint"),
                options=dict(options),
                source=top.source,
            )
        )
    return targets
