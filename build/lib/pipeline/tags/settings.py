"""``metadata:`` of pipeline.yaml: docker/metadata-action's tag rules, flavor and labels."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.config.fields import Fields
from pipeline.tags.flavor import parse_flavor
from pipeline.tags.rules import parse_rules


@dataclass(frozen=True)
class MetadataConfig:
    """docker/metadata-action's inputs: tag rules, flavor lines, extra labels."""

    tags: list[str] = field(default_factory=list)
    flavor: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    title: str | None = None
    description: str | None = None
    licenses: str | None = None
    url: str | None = None
    source: str | None = None


KEYS = tuple(MetadataConfig.__dataclass_fields__)


def parse_metadata(top: Fields) -> MetadataConfig:
    """The ``metadata`` section; tag rules and flavor lines are parsed now, so a typo fails
    at load, not at tag time."""
    section = top.section("metadata", KEYS)

    tags, flavor = section.str_list("tags"), section.str_list("flavor")
    parse_rules(tags, f"{section.source}: {section.where('tags')}")  # a typo fails at load
    parse_flavor(flavor, f"{section.source}: {section.where('flavor')}")
    return MetadataConfig(
        tags=tags,
        flavor=flavor,
        labels=section.str_map("labels"),
        title=section.text("title"),
        description=section.text("description"),
        licenses=section.text("licenses"),
        url=section.text("url"),
        source=section.text("source"),
    )
