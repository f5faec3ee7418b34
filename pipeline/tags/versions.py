"""Version grammars of the ``semver`` and ``pep440`` tag rules.

metadata-action reads a git tag (or ``value=``) as a version, with node-semver for
``type=semver`` and @renovatebot/pep440 for ``type=pep440``; a tag that parses there must parse
here to the same version, and one refused there must be refused here, or the two tools would
tag differently. PEP 440 is read by ``packaging`` (the reference implementation, whose grammar
@renovatebot/pep440 ports); semver keeps its own grammar, as no Python semver library has
node-semver's strict rules. Both live together because the rules treat them alike: parse, then
fill the rule's pattern from the version's parts (``helpers()`` gives the values of the names a
pattern may use: ``{{major}}``, ``{{version}}`` ...). Nothing here knows about rules or
templates.

``parse_semver(text) -> SemVer | None``
    node-semver's strict grammar: optional ``v``, no ``=``, numbers up to 2**53 - 1.
``parse_pep440(text) -> Pep440Version | None``
    ``packaging.version.Version``, any case, ``v`` prefix allowed; ``normalized`` is the spec's
    spelling and ``is_special`` says whether it is a pre-, post- or dev-release.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from packaging.version import InvalidVersion, Version

if TYPE_CHECKING:
    from pipeline.tags.templates import Helpers

_MAX_SAFE_INTEGER = 2**53 - 1
_SEMVER_NUMBER = r"0|[1-9][0-9]*"
_SEMVER_PRE_ID = r"(?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][a-zA-Z0-9-]*)"
_SEMVER = re.compile(
    rf"v?(?P<major>{_SEMVER_NUMBER})\.(?P<minor>{_SEMVER_NUMBER})\.(?P<patch>{_SEMVER_NUMBER})"
    rf"(?:-(?P<pre>{_SEMVER_PRE_ID}(?:\.{_SEMVER_PRE_ID})*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)


@dataclass(frozen=True)
class SemVer:
    """A semantic version as node-semver (strict) accepts it: optional ``v``, no ``=``."""

    raw: str
    major: int
    minor: int
    patch: int
    prerelease: tuple[str | int, ...]
    build: tuple[str, ...]

    @property
    def version(self) -> str:
        """``major.minor.patch[-prerelease]``: node-semver drops build metadata here."""
        core = f"{self.major}.{self.minor}.{self.patch}"
        return f"{core}-{'.'.join(map(str, self.prerelease))}" if self.prerelease else core

    def helpers(self) -> Helpers:
        values: dict[str, object] = {
            "raw": self.raw,
            "version": self.version,
            "major": self.major,
            "minor": self.minor,
            "patch": self.patch,
            "prerelease": list(self.prerelease),
            "build": list(self.build),
        }
        return {name: _constant(value) for name, value in values.items()}


def _constant(value: object) -> Callable[[], object]:
    return lambda: value


def parse_semver(text: str) -> SemVer | None:
    """The version in ``text`` (surrounding blanks ignored), or None if it is not semver."""
    raw = text.strip()
    match = _SEMVER.fullmatch(raw)
    if not match or len(raw) > 256:
        return None
    numbers = [int(match.group(part)) for part in ("major", "minor", "patch")]
    if any(number > _MAX_SAFE_INTEGER for number in numbers):
        return None
    pre = tuple(_pre_identifier(part) for part in (match.group("pre") or "").split(".") if part)
    build = tuple((match.group("build") or "").split(".")) if match.group("build") else ()
    return SemVer(raw, numbers[0], numbers[1], numbers[2], pre, build)


def _pre_identifier(part: str) -> str | int:
    return int(part) if part.isdigit() and int(part) <= _MAX_SAFE_INTEGER else part


@dataclass(frozen=True)
class Pep440Version:
    """A PEP 440 version as metadata-action sees it: ``pep440.clean`` is ``normalized``,
    ``pep440.major/minor/patch`` are the release's parts (0 where the release is shorter)."""

    raw: str
    version: Version

    @property
    def is_special(self) -> bool:
        """Pre-, post- or dev-release: metadata-action only tags ``{{version}}`` for these."""
        return self.version.is_prerelease or self.version.is_postrelease

    @property
    def normalized(self) -> str:
        return str(self.version)

    def helpers(self) -> Helpers:
        version = self.version
        return {
            "raw": lambda: self.raw,
            "version": lambda: self.normalized,
            "major": lambda: version.major,
            "minor": lambda: version.minor,
            "patch": lambda: version.micro,
        }


def parse_pep440(text: str) -> Pep440Version | None:
    """The PEP 440 version ``text`` spells (any case, ``v`` prefix allowed), or None.

    ``packaging`` also takes surrounding blanks; metadata-action's ``pep440.valid`` does not,
    so neither does this."""
    if text != text.strip():
        return None
    try:
        return Pep440Version(text, Version(text))
    except InvalidVersion:
        return None
