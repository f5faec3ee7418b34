"""metadata-action's list inputs: one item a line (or a block string), each a CSV line whose
fields may be "double-quoted" — the tags, flavor and images inputs all read this way."""

from __future__ import annotations

from collections.abc import Iterable


def csv_fields(line: str) -> list[str]:
    """Split one line like csv-parse does: commas, and "double quotes" around a whole field.

    Quoting lets a field carry commas (``"pattern=\\d{1,3}"``); a quote anywhere else is a
    mistake, reported rather than guessed at.
    """
    fields: list[str] = []
    pos = 0
    while pos <= len(line):
        if line.startswith('"', pos):
            value, pos = _quoted_field(line, pos)
        else:
            end = line.find(",", pos)
            end = len(line) if end < 0 else end
            value = line[pos:end]
            if '"' in value:
                raise ValueError(f"unexpected quote in {value!r}; quote the whole field")
            pos = end
        fields.append(value)
        pos += 1  # skip the comma
    return fields


def _quoted_field(line: str, start: int) -> tuple[str, int]:
    chars: list[str] = []
    pos = start + 1
    while pos < len(line):
        if line[pos] != '"':
            chars.append(line[pos])
            pos += 1
        elif line.startswith('""', pos):
            chars.append('"')
            pos += 2
        else:
            pos += 1
            if pos < len(line) and line[pos] != ",":
                raise ValueError("a closing quote must end the field")
            return "".join(chars), pos
    raise ValueError("unclosed quote")


def rule_lines(lines: Iterable[str]) -> list[str]:
    """Entries may themselves hold several lines (a YAML block); blanks and # are skipped."""
    result: list[str] = []
    for entry in lines:
        for line in entry.splitlines():
            stripped = line.strip()
            if stripped and not stripped.startswith("#"):
                result.append(stripped)
    return result
