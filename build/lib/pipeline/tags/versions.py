"""Version grammars of the ``semver`` and ``pep440`` tag rules.

metadata-action reads a git tag (or ``value=``) as a version, with node-semver for
``type=semver`` and a PEP 440 library for ``type=pep440``; a tag that parses there must parse
here to the same version, and one refused there must be refused here, or the two tools would
tag differently. Both grammars live together because the rules treat them alike: parse, then
fill the rule's pattern from the version's parts (``helpers()`` gives the values of the names
a pattern may use: ``{{major}}``, ``{{version}}`` ...). Nothing here knows about rules or
templates.

``parse_semver(text) -> SemVer | None``
    node-semver's strict grammar: optional ``v``, no ``=``, numbers up to 2**53 - 1.
``parse_pep440(text) -> Pep440Version | None``
    The spec's grammar, any case, ``v`` prefix allowed; ``normalized`` is the spec's spelling
    and ``is_special`` says whether it is a pre-, post- or dev-release.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

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


_PEP440 = re.compile(
    r"""
    v?
    (?:(?P<epoch>[0-9]+)!)?
    (?P<release>[0-9]+(?:\.[0-9]+)*)
    (?:[-_.]?(?P<pre_l>alpha|beta|preview|pre|rc|a|b|c)[-_.]?(?P<pre_n>[0-9]+)?)?
    (?:-(?P<post_implicit>[0-9]+)|[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n>[0-9]+)?)?
    (?:[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>[0-9]+)?)?
    (?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?
    """,
    re.VERBOSE | re.IGNORECASE,
)
_PRE_SPELLINGS = {"alpha": "a", "beta": "b", "c": "rc", "pre": "rc", "preview": "rc"}


@dataclass(frozen=True)
class Pep440Version:
    """A PEP 440 version, parsed from the spec's grammar and normalised the spec's way."""

    raw: str
    epoch: int
    release: tuple[int, ...]
    pre: tuple[str, int] | None
    post: int | None
    dev: int | None
    local: str | None

    @property
    def is_prerelease(self) -> bool:
        return self.pre is not None or self.dev is not None

    @property
    def is_special(self) -> bool:
        """Pre-, post- or dev-release: metadata-action only tags ``{{version}}`` for these."""
        return self.is_prerelease or self.post is not None

    @property
    def normalized(self) -> str:
        parts = [f"{self.epoch}!" if self.epoch else "", ".".join(map(str, self.release))]
        if self.pre:
            parts.append(f"{self.pre[0]}{self.pre[1]}")
        if self.post is not None:
            parts.append(f".post{self.post}")
        if self.dev is not None:
            parts.append(f".dev{self.dev}")
        if self.local:
            parts.append(f"+{self.local}")
        return "".join(parts)

    def part(self, index: int) -> int:
        return self.release[index] if index < len(self.release) else 0

    def helpers(self) -> Helpers:
        return {
            "raw": lambda: self.raw,
            "version": lambda: self.normalized,
            "major": lambda: self.part(0),
            "minor": lambda: self.part(1),
            "patch": lambda: self.part(2),
        }


def parse_pep440(text: str) -> Pep440Version | None:
    """The PEP 440 version ``text`` spells (any case, ``v`` prefix allowed), or None."""
    match = _PEP440.fullmatch(text)
    if not match:
        return None
    pre = None
    if match.group("pre_l"):
        letter = match.group("pre_l").lower()
        pre = (_PRE_SPELLINGS.get(letter, letter), int(match.group("pre_n") or 0))
    post = match.group("post_implicit") or match.group("post_n")
    if post is None and match.group("post_l"):
        post = "0"
    local = match.group("local")
    return Pep440Version(
        raw=text,
        epoch=int(match.group("epoch") or 0),
        release=tuple(int(part) for part in match.group("release").split(".")),
        pre=pre,
        post=int(post) if post is not None else None,
        dev=int(match.group("dev_n") or 0) if match.group("dev_l") else None,
        local=".".join(_local_parts(local)) if local else None,
    )


def _local_parts(local: str) -> list[str]:
    return [str(int(p)) if p.isdigit() else p.lower() for p in re.split(r"[-_.]", local)]
