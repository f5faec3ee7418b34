"""A field reader for one mapping of pipeline.yaml that names the field in every error."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pipeline.errors import ConfigError


class Fields:
    """Reads one YAML mapping, recording the field path for error messages.

    Every stage parses its section through one of these, so a wrong type, an unknown key or a
    bad value is always the same one line: ``pipeline.yaml: smoke.port: expected an integer``.
    """

    def __init__(self, source: str, path: str, data: Any, allowed: tuple[str, ...]) -> None:
        self.source = source
        self.path = path
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise self.error(None, f"expected a mapping, got {kind_of(data)}")
        unknown = [str(k) for k in data if k not in allowed]
        if unknown:
            raise self.error(
                unknown[0], "unknown key", hint=f"allowed keys here: {', '.join(allowed)}"
            )
        self.data = data

    def where(self, key: str | None) -> str:
        if key is None:
            return self.path or "(top level)"
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str | None, problem: str, hint: str | None = None) -> ConfigError:
        return ConfigError(self.source, self.where(key), problem, hint)

    def text(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.error(key, "is required")
            return default
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise self.error(key, f"expected a string, got {kind_of(value)}")
        text = str(value)
        if not text.strip():
            raise self.error(key, "must not be empty")
        return text

    def integer(self, key: str, default: int, *, low: int, high: int) -> int:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected an integer, got {kind_of(value)}")
        if not low <= value <= high:
            raise self.error(key, f"must be between {low} and {high}, got {value}")
        return value

    def number(self, key: str, default: float, *, low: float, high: float) -> float:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, f"expected a number of seconds, got {kind_of(value)}")
        if not low <= value <= high:
            raise self.error(key, f"must be between {low} and {high}, got {value}")
        return float(value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {kind_of(value)}")
        return value

    def str_list(self, key: str) -> list[str]:
        value = self.data.get(key)
        if value is None:
            return []
        if isinstance(value, str):  # metadata-action style: one rule a line
            return [line.strip() for line in value.splitlines() if line.strip()]
        if not isinstance(value, list):
            raise self.error(key, f"expected a list of strings, got {kind_of(value)}")
        for i, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, (str, int, float)):
                raise self.error(f"{key}[{i}]", f"expected a string, got {kind_of(item)}")
        return [str(item) for item in value]

    def str_map(self, key: str) -> dict[str, str]:
        value = self.data.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.error(key, f"expected a mapping of names to strings, got {kind_of(value)}")
        result: dict[str, str] = {}
        for name, item in value.items():
            if not isinstance(name, str) or not name:
                raise self.error(key, f"names must be non-empty strings, got {name!r}")
            if item is None or isinstance(item, (bool, list, dict)):
                raise self.error(f"{key}.{name}", f"expected a string, got {kind_of(item)}")
            result[name] = str(item)
        return result

    def regex(self, key: str, default: str | None = None) -> str | None:
        """A regular expression (compiled once here, so a typo fails at load)."""
        pattern = self.text(key, default)
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise self.error(key, f"invalid regular expression: {exc}") from None
        return pattern

    def mappings(self, key: str, allowed: tuple[str, ...], what: str = "a list") -> list[Fields]:
        """A list of mappings (``checks:``, ``commandTests:``), each read with ``allowed`` keys."""
        raw = self.data.get(key)
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise self.error(key, f"expected {what}, got {kind_of(raw)}")
        where = self.where
        return [Fields(self.source, where(f"{key}[{i}]"), v, allowed) for i, v in enumerate(raw)]

    def section(self, key: str, allowed: tuple[str, ...]) -> Fields:
        return Fields(self.source, self.where(key), self.data.get(key), allowed)


def kind_of(value: Any) -> str:
    """How an error describes a value it did not expect: its type, and short values too."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})" if len(value) < 40 else "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__
