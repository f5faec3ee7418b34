"""GitHub Actions' workflow command syntax (``::name props::data``): the toolkit's escaping.

Kept apart from the output that writes commands because two floors need it: ``secrets``
announces every new secret with ``::add-mask::`` the moment it is registered, and
``output.github`` writes groups, annotations and errors.
"""

from __future__ import annotations


def escape_data(value: str) -> str:
    """Escape a workflow command's message (GitHub's toolkit rules: %, CR, LF)."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """Escape a workflow command's property value (also : and ,)."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")
