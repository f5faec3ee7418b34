"""metadata-action's ``flavor`` input: ``latest=auto|true|false``, ``prefix=``/``suffix=`` (with
``onlatest=``) applied to every tag."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from pipeline.errors import ConfigError
from pipeline.tags.lines import csv_fields, rule_lines
from pipeline.tags.rules import GLOBAL_NAMES
from pipeline.tags.templates import (
    TemplateError,
    compile_template,
)


@dataclass(frozen=True)
class Flavor:
    """Global behaviour of the rules: ``latest`` is ``auto``, ``true`` or ``false``."""

    latest: str = "auto"
    prefix: str = ""
    prefix_latest: bool = False
    suffix: str = ""
    suffix_latest: bool = False


def parse_flavor(lines: Iterable[str], source: str = "metadata.flavor") -> Flavor:
    """Parse ``latest=``, ``prefix=`` and ``suffix=`` lines; ``onlatest=true`` after a
    prefix/suffix in the same line also puts it on the ``latest`` tag."""
    flavor = Flavor()
    for line in rule_lines(lines):
        try:
            flavor = _parse_flavor_line(line, flavor)
        except ValueError as exc:
            raise ConfigError(source, repr(line), str(exc)) from exc
    for text in (flavor.prefix, flavor.suffix):
        try:
            compile_template(text, GLOBAL_NAMES)
        except TemplateError as exc:
            raise ConfigError(source, repr(text), str(exc)) from exc
    return flavor


def _parse_flavor_line(line: str, flavor: Flavor) -> Flavor:
    last_affix = ""
    for raw_field in csv_fields(line):
        key, sep, value = raw_field.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not sep:
            raise ValueError(f"expected key=value, got {raw_field.strip()!r}")
        if key == "latest":
            if value not in ("auto", "true", "false"):
                raise ValueError(f"latest must be auto, true or false, got {value!r}")
            flavor = replace(flavor, latest=value)
        elif key == "prefix":
            flavor, last_affix = replace(flavor, prefix=value), key
        elif key == "suffix":
            flavor, last_affix = replace(flavor, suffix=value), key
        elif key == "onlatest":
            flavor = _on_latest(flavor, last_affix, value)
        else:
            raise ValueError(f"unknown flavor entry {key!r} (use latest, prefix, suffix)")
    return flavor


def _on_latest(flavor: Flavor, affix: str, value: str) -> Flavor:
    """``onlatest`` applies to the prefix or suffix given before it on the same line."""
    if value not in ("true", "false"):
        raise ValueError(f"onlatest must be true or false, got {value!r}")
    if affix == "prefix":
        return replace(flavor, prefix_latest=value == "true")
    if affix == "suffix":
        return replace(flavor, suffix_latest=value == "true")
    return flavor
