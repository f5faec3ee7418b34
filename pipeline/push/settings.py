"""``registries:`` of pipeline.yaml: the push targets, each of a known registry kind."""

from __future__ import annotations

from collections.abc import Mapping

from pipeline.config.fields import Fields, kind_of
from pipeline.push.registries.base import TargetConfig
from pipeline.push.registries.kinds import REGISTRY_KINDS

TARGET_KEYS = ("kind", "name", "repository", "endpoint", "options")


def parse_registries(top: Fields) -> list[TargetConfig]:
    """The targets; none configured means the embedded registry (kind ``local``)."""
    raw = top.data.get("registries")
    if raw is None:
        return [TargetConfig(kind="local", name="local")]
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
