"""Sizes as people read and write them: ``218.1 MB`` out, ``300MB`` or ``1.5GiB`` in."""

from __future__ import annotations

import re

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:([KMGT])(i?))?B?\s*$", re.IGNORECASE)


def human_size(size: int | None) -> str:
    """Decimal units, as ``docker images`` shows sizes."""
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


def parse_size(text: str) -> int | None:
    """``300MB`` (decimal, as ``docker images`` shows), ``1.5GiB`` (binary) or plain bytes."""
    match = _SIZE_RE.match(text)
    if not match:
        return None
    number, prefix, binary = float(match[1]), (match[2] or "").upper(), bool(match[3])
    power = " KMGT".index(prefix) if prefix else 0
    return int(number * (1024 if binary else 1000) ** power)
