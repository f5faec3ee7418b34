"""The YAML file behind a configuration: size, encoding, alias bombs and duplicate keys refused.

PyYAML accepts all four silently (a second ``smoke:`` replaces the first, ``&a [*a, *a, ...]``
expands exponentially), so each is checked here and reported as one ``ConfigError`` line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import ConfigError
from pipeline.paths import CONFIG_FILE

DEFAULT_CONFIG = CONFIG_FILE
MAX_CONFIG_BYTES = 256 * 1024
MAX_ALIASES = 64  # a real pipeline.yaml reuses a few anchors; thousands is an alias bomb


def read_yaml(config_path: Path, source: str) -> Any:
    """The parsed document of ``config_path``; ``source`` is how errors name the file."""
    if not config_path.is_file():
        raise ConfigError(source, None, "file not found", hint="pass --config PATH/pipeline.yaml")
    raw = config_path.read_bytes()
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(source, None, f"file is {len(raw)} bytes, over {MAX_CONFIG_BYTES}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(source, None, f"not UTF-8 text (byte {exc.start})") from None
    try:
        aliases = sum(isinstance(token, yaml.AliasToken) for token in yaml.scan(text))
        if aliases > MAX_ALIASES:
            raise ConfigError(
                source, None, f"{aliases} YAML aliases, over {MAX_ALIASES} (alias bomb refused)"
            )
        data = yaml.safe_load(text)
        _refuse_duplicate_keys(yaml.compose(text, Loader=yaml.SafeLoader), source)
        return data
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        raise ConfigError(source, line, f"invalid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(source, None, f"invalid YAML: {exc}") from None
    except RecursionError:  # PyYAML parses recursively: [[[[...]]]] thousands deep
        raise ConfigError(source, None, "invalid YAML: nested too deeply") from None


def _refuse_duplicate_keys(root: Any, source: str) -> None:
    """Refuse a key given twice in one mapping: PyYAML silently keeps the last one, so a
    second ``smoke:`` further down would quietly replace the first. Shared (aliased) nodes are
    visited once."""
    seen: set[int] = set()
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            keys: set[tuple[str, str]] = set()
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value != "<<":
                    if (key.tag, key.value) in keys:
                        mark = key.start_mark
                        raise ConfigError(
                            source,
                            f"line {mark.line + 1}, column {mark.column + 1}",
                            f"duplicate key {key.value!r}",
                            hint="YAML would keep only the last one: remove or merge the other",
                        )
                    keys.add((key.tag, key.value))
                stack += [key, value]
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value
