"""Image tags and OCI labels from git facts, with docker/metadata-action's rules.

Teams already write their tag rules for docker/metadata-action; hoist reads the very same
lines and gives the very same tags, so a workflow can move to hoist (or back) without a
single image being tagged differently. The behaviour follows metadata-action's source and
test-suite; where hoist deliberately differs it says so below.

This module holds the ``tags`` input: rule lines parsed and checked at config load (a typo fails
before anything is built), the defaults, and the template names each place of a rule accepts
(``GLOBAL_NAMES``, ``DATE_NAMES``, ``SEMVER_NAMES``, ``PEP440_NAMES``: pass them to
``compile_template`` of ``tags.templates`` to check a template of your own). The rest lives
beside it: ``tags.flavor`` (the ``flavor`` input), ``tags.evaluate`` (rules against a
``Context`` → ``Metadata``), ``tags.oci_labels``, ``tags.images`` (the ``images`` input) and,
for what metadata-action takes from libraries, ``tags.templates`` (Handlebars' ``{{...}}``),
``tags.moment`` (moment.js date formats) and ``tags.versions`` (node-semver and PEP 440).

Every bad rule, flavor line, pattern, regular expression or date format raises
``ConfigError`` naming the offending line.

Deliberate differences from metadata-action
-------------------------------------------
* Unknown attributes, unknown template names (``{{versoin}}``), duplicate attributes,
  non-integer priorities and unsupported moment tokens are errors, not silently ignored;
  so is an ``images`` line naming two images, and an image name Docker would refuse.
* Tags are also made valid for Docker: a leading ``.``/``-`` is dropped and the tag is cut to
  128 characters (metadata-action only replaces invalid characters).
* The ``latest`` tag is listed once even if a ``raw`` rule also produced ``latest``, and the
  flavor prefix/suffix on ``latest`` get their ``{{...}}`` expressions expanded.
* ``match=`` on semver/pep440 uses group 1 when the regex has a group, else the whole match.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pipeline.errors import ConfigError
from pipeline.tags.lines import csv_fields, rule_lines
from pipeline.tags.moment import check_moment_format, time_zone
from pipeline.tags.templates import (
    Mustache,
    PathExpression,
    Spec,
    Template,
    TemplateError,
    compile_template,
)

DEFAULT_RULES = (
    "type=schedule",
    "type=ref,event=branch",
    "type=ref,event=tag",
    "type=ref,event=pr",
)


DEFAULT_PRIORITIES = {
    "schedule": 1000,
    "semver": 900,
    "pep440": 900,
    "match": 800,
    "edge": 700,
    "ref": 600,
    "raw": 200,
    "sha": 100,
}


_COMMON_ATTRS = frozenset({"enable", "priority", "prefix", "suffix"})


_TYPE_ATTRS = {
    "schedule": frozenset({"pattern"}),
    "semver": frozenset({"pattern", "value", "match"}),
    "pep440": frozenset({"pattern", "value", "match"}),
    "match": frozenset({"pattern", "group", "value"}),
    "edge": frozenset({"branch"}),
    "ref": frozenset({"event"}),
    "raw": frozenset({"value"}),
    "sha": frozenset({"format"}),
}


_REF_EVENTS = ("branch", "tag", "pr")


_SHA_FORMATS = ("short", "long")


@dataclass(frozen=True)
class TagRule:
    """One parsed rule: its type, attributes after defaults (as metadata-action keeps them)."""

    type: str
    attrs: Mapping[str, str]
    priority: int
    line: str
    templates: Mapping[str, Template] = field(repr=False, compare=False)
    regex: re.Pattern[str] | None = field(default=None, repr=False, compare=False)


def parse_rules(lines: Iterable[str], source: str = "metadata.tags") -> list[TagRule]:
    """Parse rule lines (metadata-action's defaults when there are none), highest priority
    first; equal priorities keep their written order."""
    texts = rule_lines(lines) or list(DEFAULT_RULES)
    rules = [_parse_rule(text, source) for text in texts]
    return sorted(rules, key=lambda rule: -rule.priority)


def _parse_rule(line: str, source: str) -> TagRule:
    try:
        attrs = _rule_attrs(line)
        rule_type = attrs.pop("type", "raw")
        _check_attrs(rule_type, attrs)
        _apply_defaults(rule_type, attrs)
        priority = _priority(attrs["priority"])
        templates = _rule_templates(rule_type, attrs)
        regex = _rule_regex(rule_type, attrs)
    except (ValueError, re.error) as exc:
        raise ConfigError(source, repr(line), str(exc), hint=_RULE_HINT) from exc
    return TagRule(rule_type, attrs, priority, line, templates, regex)


_RULE_HINT = "see https://github.com/docker/metadata-action#tags-input for the rule syntax"


def _rule_attrs(line: str) -> dict[str, str]:
    """``key=value`` fields split at their first ``=``; a bare field is the ``value``."""
    attrs: dict[str, str] = {}
    for raw_field in csv_fields(line):
        if not raw_field.strip():
            continue
        key, sep, value = raw_field.partition("=")
        if not sep or not key.strip():
            key, value = "value", raw_field
        key = key.strip().lower()
        if key in attrs:
            raise ValueError(f"attribute {key!r} is given twice")
        attrs[key] = value.strip()
    return attrs


def _check_attrs(rule_type: str, attrs: Mapping[str, str]) -> None:
    if rule_type not in _TYPE_ATTRS:
        known = ", ".join(_TYPE_ATTRS)
        raise ValueError(f"unknown tag type {rule_type!r} (one of: {known})")
    allowed = _TYPE_ATTRS[rule_type] | _COMMON_ATTRS
    for key in attrs:
        if key not in allowed:
            names = ", ".join(sorted(allowed))
            raise ValueError(f"unknown attribute {key!r} for type={rule_type} (use: {names})")


_REQUIRED_ATTR = {
    "semver": "pattern",
    "pep440": "pattern",
    "match": "pattern",
    "ref": "event",
    "raw": "value",
}


_DEFAULT_ATTRS: Mapping[str, Mapping[str, str]] = {
    "schedule": {"pattern": "nightly"},
    "semver": {"value": "", "match": ""},
    "pep440": {"value": "", "match": ""},
    "match": {"group": "0", "value": ""},
    "edge": {"branch": ""},
    "sha": {"prefix": "sha-", "format": "short"},
}


def _apply_defaults(rule_type: str, attrs: dict[str, str]) -> None:
    """The per-type defaults metadata-action fills in; missing required attributes fail."""
    needed = _REQUIRED_ATTR.get(rule_type)
    if needed and needed not in attrs:
        raise ValueError(f"type={rule_type} needs a {needed}= attribute")
    if rule_type == "ref" and attrs["event"] == "pr":
        attrs.setdefault("prefix", "pr-")
    for key, value in _DEFAULT_ATTRS.get(rule_type, {}).items():
        attrs.setdefault(key, value)
    attrs.setdefault("enable", "true")
    attrs.setdefault("priority", str(DEFAULT_PRIORITIES[rule_type]))
    _check_choices(rule_type, attrs)


def _check_choices(rule_type: str, attrs: Mapping[str, str]) -> None:
    if rule_type == "ref" and attrs["event"] not in _REF_EVENTS:
        raise ValueError(f"event must be one of {', '.join(_REF_EVENTS)}")
    if rule_type == "sha" and attrs["format"] not in _SHA_FORMATS:
        raise ValueError(f"format must be one of {', '.join(_SHA_FORMATS)}")
    if rule_type == "match" and not attrs["group"].isdigit():
        raise ValueError(f"group must be a group number, got {attrs['group']!r}")


def _priority(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"priority must be an integer, got {text!r}") from None


def _rule_templates(rule_type: str, attrs: Mapping[str, str]) -> dict[str, Template]:
    """Compile every templated attribute now, so a bad pattern fails at load time."""
    templates = {
        key: compile_template(attrs[key], GLOBAL_NAMES)
        for key in ("enable", "prefix", "suffix", "value")
        if key in attrs
    }
    pattern_names = {"schedule": DATE_NAMES, "semver": SEMVER_NAMES, "pep440": PEP440_NAMES}
    if rule_type in pattern_names:
        templates["pattern"] = compile_template(attrs["pattern"], pattern_names[rule_type])
    return templates


def _rule_regex(rule_type: str, attrs: Mapping[str, str]) -> re.Pattern[str] | None:
    if rule_type == "match":
        return js_regex(attrs["pattern"], slashes=True)
    if rule_type in ("semver", "pep440") and attrs["match"]:
        return js_regex(attrs["match"], slashes=False)
    return None


def js_regex(pattern: str, *, slashes: bool) -> re.Pattern[str]:
    """A JavaScript regular expression as Python's ``re`` understands it.

    ``/body/flags`` is a literal with flags (only for ``type=match``, like metadata-action);
    ``\\d`` stays ASCII as in JS, and ``(?<name>`` becomes Python's ``(?P<name>``.
    """
    flags = re.ASCII
    literal = re.fullmatch(r"/(.+)/(.*)", pattern, re.S) if slashes else None
    if literal:
        pattern = literal.group(1)
        flags |= _js_flags(literal.group(2))
    pattern = re.sub(r"\(\?<(?=[A-Za-z_])", "(?P<", pattern)
    return re.compile(pattern, flags)


def _js_flags(letters: str) -> int:
    known = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "g": 0, "u": 0, "d": 0}
    flags = 0
    for letter in letters:
        if letter not in known:
            raise ValueError(f"unsupported regular expression flag {letter!r}")
        flags |= known[letter]
    return flags


def _check_date_call(mustache: Mustache) -> None:
    """``{{date 'format' tz='Zone'}}``: a quoted format hoist can render, an IANA zone."""
    fmt = mustache.params[0]
    if not isinstance(fmt, (str, PathExpression)):
        raise TemplateError(f"{{{{{mustache.name}}}}} needs a quoted format like 'YYYYMMDD'")
    if isinstance(fmt, str):
        try:
            check_moment_format(fmt)
        except ValueError as exc:
            raise TemplateError(str(exc)) from exc
    for _, zone in mustache.options:
        if not isinstance(zone, str):
            raise TemplateError("tz= needs a quoted time zone like 'Europe/Paris'")
        time_zone(zone)


_VALUE = Spec()


_DATE = Spec(1, 1, frozenset({"tz"}), _check_date_call)


DATE_NAMES: Mapping[str, Spec] = {"date": _DATE, "commit_date": _DATE}


GLOBAL_NAMES: Mapping[str, Spec] = {
    "branch": _VALUE,
    "tag": _VALUE,
    "sha": _VALUE,
    "base_ref": _VALUE,
    "is_default_branch": _VALUE,
    "is_not_default_branch": _VALUE,
    **DATE_NAMES,
}


PEP440_NAMES: Mapping[str, Spec] = dict.fromkeys(
    ("raw", "version", "major", "minor", "patch"), _VALUE
)


SEMVER_NAMES: Mapping[str, Spec] = {**PEP440_NAMES, "prerelease": _VALUE, "build": _VALUE}
