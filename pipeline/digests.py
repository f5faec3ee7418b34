"""Content digests (SHA-256, hex): what a kept verdict is keyed by (``pipeline.verdicts``).

A digest stands for the content, never for a name or a time, so the same input gives the same
key on any run, and any change to it gives another. ``of_value`` digests a plain value —
a settings dataclass, a mapping of other digests — through one canonical JSON text (sorted
keys; paths, enums and patterns as text), so two equal sections always agree.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import re
from pathlib import Path
from typing import Any

MISSING = "missing"  # the digest of a file that does not exist: its absence is an input too


def of_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def of_file(path: Path) -> str:
    """The digest of a file's bytes, or ``MISSING`` when there is no such file."""
    try:
        return of_bytes(path.read_bytes())
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return MISSING


def of_value(value: Any) -> str:
    """The digest of a plain value's canonical JSON (see ``canonical``)."""
    return of_bytes(canonical(value).encode())


def canonical(value: Any) -> str:
    """One JSON text per value: keys sorted, no spaces, dataclasses as their fields."""
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        return {
            "@": type(value).__name__,
            **{f.name: _plain(getattr(value, f.name)) for f in fields},
        }
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v) for v in value)
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if isinstance(value, re.Pattern):
        return {"pattern": value.pattern, "flags": value.flags}
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"no canonical form for {type(value).__name__}")
