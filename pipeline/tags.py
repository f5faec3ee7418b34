"""Image tags and OCI labels from git facts, with docker/metadata-action's rules.

Teams already write their tag rules for docker/metadata-action; hoist reads the very same
lines and gives the very same tags, so a workflow can move to hoist (or back) without a
single image being tagged differently. The behaviour follows metadata-action's source and
test-suite; where hoist deliberately differs it says so below.

Public API
----------
``compute_metadata(context, rules=(), flavor=(), repo=RepoInfo(), labels=None, *,
now=None, short_sha_length=7, source="metadata") -> Metadata``
    Evaluate tag rules (``type=semver,pattern={{version}}`` ... one rule a line; none means
    metadata-action's defaults) and flavor lines (``latest=auto``, ``prefix=x,onlatest=true``)
    against a ``pipeline.git.Context``. ``labels`` are user labels merged over the OCI ones;
    their values may use the global expressions (``{{branch}}``, ``{{date 'YYYY'}}`` ...).
``parse_images(lines, source="images") -> list[ImageInput]``
    metadata-action's ``images`` input (``name=IMAGE,enable=BOOL``, ``IMAGE,enable=BOOL`` or
    ``IMAGE`` a line); ``check_image_name(name, source)`` is the check every name passes.
``image_references(images, tags) -> list[str]``
    ``image:tag`` for every image and tag, image by image (lower-cased like metadata-action);
    the bare tags when there is no image.
``parse_rules(lines, source="metadata.tags") -> list[TagRule]``
``parse_flavor(lines, source="metadata.flavor") -> Flavor``
    Validate early (config load) so a typo fails before anything is built.
``sanitize_tag(value) -> str``
    What every produced tag goes through.
``GLOBAL_NAMES``, ``DATE_NAMES``, ``SEMVER_NAMES``, ``PEP440_NAMES``
    The template names each place of a rule accepts (``value=``/``prefix=``/labels, the
    ``schedule``, ``semver`` and ``pep440`` patterns); pass them to ``compile_template``
    (``pipeline.templates``) to check a template of your own.
``RepoInfo``, ``Metadata``, ``TagRule``, ``Flavor``
    The data in and out. ``Metadata.tags`` are tag names in priority order, de-duplicated,
    ``latest`` (with its flavor prefix/suffix) last; ``Metadata.version`` is the first one.

Every bad rule, flavor line, pattern, regular expression or date format raises
``ConfigError`` naming the offending line. Things metadata-action only warns about (a tag
that is not semver, a regex that does not match) are returned in ``Metadata.warnings``.

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

What metadata-action takes from libraries has a module of its own, each giving that
library's output: ``pipeline.templates`` (Handlebars' ``{{...}}``; what of it is supported),
``pipeline.moment`` (moment.js date formats) and ``pipeline.versions`` (node-semver and PEP
440). This module holds the rules themselves and the names they hand to templates.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipeline.errors import ConfigError
from pipeline.git import Context
from pipeline.moment import check_moment_format, format_moment
from pipeline.templates import (
    Mustache,
    PathExpression,
    Spec,
    Template,
    TemplateError,
    compile_template,
)
from pipeline.versions import parse_pep440, parse_semver

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
MAX_TAG_LENGTH = 128
DEFAULT_SHORT_SHA_LENGTH = 7

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
_INVALID_TAG_CHARS = re.compile(r"[^a-zA-Z0-9._-]+")


# --- data in and out -----------------------------------------------------------------------


@dataclass(frozen=True)
class RepoInfo:
    """What the OCI labels say about the project; empty fields stay empty labels.

    ``url`` falls back to the context's repository URL, ``source`` to ``url`` and ``name``
    to the last part of the URL, as metadata-action takes all three from the GitHub repo.
    """

    name: str = ""
    description: str = ""
    url: str = ""
    source: str = ""
    licenses: str = ""


@dataclass(frozen=True)
class Metadata:
    """Result of ``compute_metadata``.

    ``version`` is the main tag (``""`` when no rule produced a tag), ``tags`` the tag names
    to push (``version`` first), ``labels`` the OCI labels plus the user's, ``latest``
    whether a ``latest`` tag is among ``tags``, ``warnings`` why rules produced nothing.
    """

    version: str
    tags: list[str]
    labels: dict[str, str]
    latest: bool = False
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TagRule:
    """One parsed rule: its type, attributes after defaults (as metadata-action keeps them)."""

    type: str
    attrs: Mapping[str, str]
    priority: int
    line: str
    templates: Mapping[str, Template] = field(repr=False, compare=False)
    regex: re.Pattern[str] | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Flavor:
    """Global behaviour of the rules: ``latest`` is ``auto``, ``true`` or ``false``."""

    latest: str = "auto"
    prefix: str = ""
    prefix_latest: bool = False
    suffix: str = ""
    suffix_latest: bool = False


# --- rule lines ----------------------------------------------------------------------------


def _csv_fields(line: str) -> list[str]:
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


def _rule_lines(lines: Iterable[str]) -> list[str]:
    """Entries may themselves hold several lines (a YAML block); blanks and # are skipped."""
    result: list[str] = []
    for entry in lines:
        for line in entry.splitlines():
            stripped = line.strip()
            if stripped and not stripped.startswith("#"):
                result.append(stripped)
    return result


def parse_rules(lines: Iterable[str], source: str = "metadata.tags") -> list[TagRule]:
    """Parse rule lines (metadata-action's defaults when there are none), highest priority
    first; equal priorities keep their written order."""
    texts = _rule_lines(lines) or list(DEFAULT_RULES)
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
    for raw_field in _csv_fields(line):
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


# --- flavor --------------------------------------------------------------------------------


def parse_flavor(lines: Iterable[str], source: str = "metadata.flavor") -> Flavor:
    """Parse ``latest=``, ``prefix=`` and ``suffix=`` lines; ``onlatest=true`` after a
    prefix/suffix in the same line also puts it on the ``latest`` tag."""
    flavor = Flavor()
    for line in _rule_lines(lines):
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
    for raw_field in _csv_fields(line):
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


# --- template names (what each templated place of a rule may use) -------------------------


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
        _zone(zone)


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

_VERSION_TEMPLATE = Template("{{version}}", (Mustache("version", (), (), True),))


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TemplateError(
            f"unknown time zone {name!r} (use an IANA name like 'Asia/Tokyo')"
        ) from None


def _date_helper(moment: datetime) -> Callable[..., str]:
    def render(fmt: object = None, tz: object = None) -> str:
        zone = _zone(tz) if isinstance(tz, str) else timezone.utc  # needs no tz database
        return format_moment(moment.astimezone(zone), fmt if isinstance(fmt, str) else None)

    return render


# --- evaluation ----------------------------------------------------------------------------


class _Candidate(NamedTuple):
    """A rule's value before prefix/suffix, and whether ``latest=auto`` would add latest."""

    value: str
    auto_latest: bool


class _Evaluation:
    """One evaluation of the rules against a context: the state metadata-action's getVersion
    builds up (main tag, partial tags, latest decision) plus the warnings it logs."""

    def __init__(
        self, context: Context, flavor: Flavor, now: datetime, short_sha_length: int
    ) -> None:
        self.context = context
        self.flavor = flavor
        self.now = now
        self.short_sha_length = short_sha_length
        self.main: str | None = None
        self.partial: list[str] = []
        self.latest: bool | None = None
        self.warnings: list[str] = []
        self.globals = self._global_helpers()

    def _global_helpers(self) -> dict[str, Callable[..., object]]:
        context = self.context
        default = self._is_default_branch()
        return {
            "branch": lambda: context.branch or "",
            "tag": lambda: context.tag or "",
            "sha": lambda: self.short_sha(context.sha),
            "base_ref": self._base_ref,
            "is_default_branch": lambda: "true" if default else "false",
            "is_not_default_branch": lambda: "false" if default else "true",
            **self.date_helpers(),
        }

    def date_helpers(self) -> dict[str, Callable[..., object]]:
        commit_date = self.context.commit_date or self.now
        return {"date": _date_helper(self.now), "commit_date": _date_helper(commit_date)}

    def short_sha(self, sha: str) -> str:
        return sha[: self.short_sha_length]

    def _base_ref(self) -> str:
        if self.context.tag is not None:
            return self.context.base_ref or ""
        if self.context.is_pull_request:
            return self.context.pr_base_ref or ""
        return ""

    def _is_default_branch(self) -> bool:
        """Compared like metadata-action: the ref minus ``refs/heads/``; events that always
        run on the default branch (create, discussion, issues, schedule) count as it."""
        name = self.context.ref.removeprefix("refs/heads/")
        if not name:
            return False
        if name == self.context.default_branch:
            return True
        event = self.context.event_name
        return any(kind in event for kind in ("create", "discussion", "issues", "schedule"))

    def expand(self, template: Template) -> str:
        return template.render(self.globals)

    def decorate(self, value: str, rule: TagRule) -> str:
        """Rule prefix/suffix (even empty) win over the flavor's."""
        prefix = self._affix(rule, "prefix", self.flavor.prefix)
        suffix = self._affix(rule, "suffix", self.flavor.suffix)
        return f"{prefix}{value}{suffix}"

    def _affix(self, rule: TagRule, key: str, flavor_value: str) -> str:
        if key in rule.templates:
            return self.expand(rule.templates[key])
        return self.expand_text(flavor_value)

    def expand_text(self, text: str) -> str:
        return self.expand(compile_template(text, GLOBAL_NAMES)) if text else ""

    def add(self, value: str, auto_latest: bool) -> None:
        """Record a produced tag; the first rule producing one decides ``latest``."""
        if not value:
            return
        tag = sanitize_tag(value)
        if not tag:
            return
        if self.main is None:
            self.main = tag
        elif tag != self.main and tag not in self.partial:
            self.partial.append(tag)
        if self.latest is None:
            latest = self.flavor.latest
            self.latest = auto_latest if latest == "auto" else latest == "true"

    def latest_tag(self) -> str:
        prefix = self.expand_text(self.flavor.prefix) if self.flavor.prefix_latest else ""
        suffix = self.expand_text(self.flavor.suffix) if self.flavor.suffix_latest else ""
        return sanitize_tag(f"{prefix}latest{suffix}")

    def tags(self) -> list[str]:
        if self.main is None:
            return []
        tags = [self.main, *self.partial]
        if self.latest:
            latest = self.latest_tag()
            if latest and latest not in tags:
                tags.append(latest)
        return tags


def _is_enabled(evaluation: _Evaluation, rule: TagRule, source: str) -> bool:
    enabled = evaluation.expand(rule.templates["enable"])
    if enabled not in ("true", "false"):
        raise ConfigError(source, repr(rule.line), f"enable must be true or false, got {enabled!r}")
    return enabled == "true"


def _tag_or_value(evaluation: _Evaluation, rule: TagRule) -> str | None:
    """The git tag, or the ``value=`` attribute when given (which also works off tags)."""
    if rule.attrs.get("value"):
        return evaluation.expand(rule.templates["value"])
    return evaluation.context.tag


def _version_text(evaluation: _Evaluation, rule: TagRule) -> str | None:
    """semver/pep440 input: tag or value, narrowed by ``match=``, ``/`` made ``-``."""
    text = _tag_or_value(evaluation, rule)
    if text is None:
        return None
    if rule.regex is not None:
        found = rule.regex.search(text)
        if found is None:
            evaluation.warnings.append(f"{rule.attrs['match']} does not match {text}")
        else:
            text = found.group(1 if rule.regex.groups else 0)
    return text.replace("/", "-")


def _semver_candidate(evaluation: _Evaluation, rule: TagRule) -> _Candidate | None:
    text = _version_text(evaluation, rule)
    if text is None:
        return None
    version = parse_semver(text)
    if version is None:
        evaluation.warnings.append(f"{text} is not a valid semver (https://semver.org/)")
        return None
    pattern = rule.templates["pattern"]
    if version.prerelease:
        template = pattern if pattern.is_raw_statement else _VERSION_TEMPLATE
        return _Candidate(template.render(version.helpers()), False)
    return _Candidate(pattern.render(version.helpers()), True)


def _pep440_candidate(evaluation: _Evaluation, rule: TagRule) -> _Candidate | None:
    text = _version_text(evaluation, rule)
    if text is None:
        return None
    version = parse_pep440(text)
    if version is None:
        evaluation.warnings.append(f"{text} does not conform to PEP 440")
        return None
    pattern = rule.templates["pattern"]
    if version.is_special:
        return _Candidate(text if pattern.is_raw_statement else version.normalized, False)
    return _Candidate(pattern.render(version.helpers()), True)


def _match_candidate(evaluation: _Evaluation, rule: TagRule) -> _Candidate | None:
    text = _tag_or_value(evaluation, rule)
    if text is None or rule.regex is None:
        return None
    found = rule.regex.search(text)
    if found is None:
        evaluation.warnings.append(f"{rule.attrs['pattern']} does not match {text}")
        return None
    group = int(rule.attrs["group"])
    if group > rule.regex.groups or found.group(group) is None:
        evaluation.warnings.append(f"group {group} does not exist in {rule.attrs['pattern']}")
        return None
    return _Candidate(found.group(group), True)


def _schedule_candidate(evaluation: _Evaluation, rule: TagRule) -> _Candidate | None:
    if "schedule" not in evaluation.context.event_name:
        return None
    return _Candidate(rule.templates["pattern"].render(evaluation.date_helpers()), False)


def _ref_candidate(evaluation: _Evaluation, rule: TagRule) -> _Candidate | None:
    context = evaluation.context
    event = rule.attrs["event"]
    if event == "branch" and context.branch is not None:
        return _Candidate(context.branch, False)
    if event == "tag" and context.tag is not None:
        return _Candidate(context.tag, True)
    if event == "pr" and context.is_pull_request:
        number = context.ref.removeprefix("refs/pull/").removesuffix("/merge")
        return _Candidate(number, False)
    return None


def _edge_candidate(evaluation: _Evaluation, rule: TagRule) -> _Candidate | None:
    branch = evaluation.context.branch
    wanted = rule.attrs["branch"] or evaluation.context.default_branch
    if branch is None or branch != wanted:
        return None
    return _Candidate("edge", False)


def _raw_candidate(evaluation: _Evaluation, rule: TagRule) -> _Candidate | None:
    return _Candidate(evaluation.expand(rule.templates["value"]), False)


def _sha_candidate(evaluation: _Evaluation, rule: TagRule) -> _Candidate | None:
    sha = evaluation.context.sha
    if not sha:
        return None
    return _Candidate(sha if rule.attrs["format"] == "long" else evaluation.short_sha(sha), False)


_CANDIDATES: dict[str, Callable[[_Evaluation, TagRule], _Candidate | None]] = {
    "schedule": _schedule_candidate,
    "semver": _semver_candidate,
    "pep440": _pep440_candidate,
    "match": _match_candidate,
    "edge": _edge_candidate,
    "ref": _ref_candidate,
    "raw": _raw_candidate,
    "sha": _sha_candidate,
}


def sanitize_tag(value: str) -> str:
    """metadata-action's rule (runs of invalid characters become ``-``), then Docker's: no
    leading ``.`` or ``-``, at most 128 characters."""
    return _INVALID_TAG_CHARS.sub("-", value).lstrip(".-")[:MAX_TAG_LENGTH]


def compute_metadata(
    context: Context,
    rules: Iterable[str] = (),
    flavor: Iterable[str] = (),
    repo: RepoInfo | None = None,
    labels: Mapping[str, str] | None = None,
    *,
    now: datetime | None = None,
    short_sha_length: int = DEFAULT_SHORT_SHA_LENGTH,
    source: str = "metadata",
) -> Metadata:
    """Evaluate tag rules and flavor against ``context``; see the module docstring.

    ``now`` is the build time (``{{date}}`` and the ``created`` label); ``short_sha_length``
    is metadata-action's ``DOCKER_METADATA_SHORT_SHA_LENGTH``.
    """
    if short_sha_length < 1:
        raise ConfigError(source, "short_sha_length", "must be a positive number")
    moment = now or datetime.now(timezone.utc)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    parsed_rules = parse_rules(rules, f"{source}.tags")
    evaluation = _Evaluation(
        context, parse_flavor(flavor, f"{source}.flavor"), moment, short_sha_length
    )
    for rule in parsed_rules:
        if not _is_enabled(evaluation, rule, f"{source}.tags"):
            continue
        candidate = _CANDIDATES[rule.type](evaluation, rule)
        if candidate is not None:
            evaluation.add(evaluation.decorate(candidate.value, rule), candidate.auto_latest)
    version = evaluation.main or ""
    return Metadata(
        version=version,
        tags=evaluation.tags(),
        labels=_labels(evaluation, repo or RepoInfo(), version, labels or {}, source),
        latest=bool(evaluation.latest and evaluation.main),
        warnings=evaluation.warnings,
    )


# --- labels and references -----------------------------------------------------------------

_OCI = "org.opencontainers.image"


def _labels(
    evaluation: _Evaluation,
    repo: RepoInfo,
    version: str,
    overrides: Mapping[str, str],
    source: str,
) -> dict[str, str]:
    """metadata-action's eight OCI labels, user labels over them, sorted by key."""
    url = repo.url or evaluation.context.repository_url or ""
    labels = {
        f"{_OCI}.title": repo.name or url.rstrip("/").rsplit("/", 1)[-1],
        f"{_OCI}.description": repo.description,
        f"{_OCI}.url": url,
        f"{_OCI}.source": repo.source or url,
        f"{_OCI}.version": version,
        f"{_OCI}.created": _iso_millis(evaluation.now),
        f"{_OCI}.revision": evaluation.context.sha,
        f"{_OCI}.licenses": repo.licenses,
    }
    for key, value in overrides.items():
        try:
            labels[key] = evaluation.expand(compile_template(value, GLOBAL_NAMES))
        except TemplateError as exc:
            raise ConfigError(f"{source}.labels", key, str(exc)) from exc
    return dict(sorted(labels.items(), key=lambda item: (item[0].casefold(), item[0])))


def _iso_millis(moment: datetime) -> str:
    """JavaScript's ``Date.toISOString()``: UTC, milliseconds, ``Z``."""
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


# --- images (metadata-action's ``images`` input) -------------------------------------------


@dataclass(frozen=True)
class ImageInput:
    """One image of metadata-action's ``images`` input; ``enable=false`` keeps it out."""

    name: str
    enable: bool = True


_IMAGE_HINT = "one image a line: IMAGE, IMAGE,enable=false or name=IMAGE,enable=true"


def parse_images(lines: Iterable[str], source: str = "images") -> list[ImageInput]:
    """metadata-action's ``images`` input: ``name=IMAGE,enable=BOOL``, ``IMAGE,enable=BOOL``
    or ``IMAGE``, one image a line; names lower-cased and checked.

    Its rules, so a workflow's input gives the same images here: fields are CSV (a field
    may be "double-quoted"), keys are case-insensitive, ``enable`` is exactly ``true`` or
    ``false``, an unknown attribute or an empty name is an error, blank lines and ``#``
    lines are skipped. A single line without any ``key=value`` is the older form, a
    comma-separated list of names (``org/app,ghcr.io/org/app``). Unlike metadata-action, a
    line naming two images (``org/app,name=org/other``) is an error rather than the last
    one silently winning.
    """
    texts = _rule_lines(lines)
    images: list[ImageInput] = []
    for text in texts:
        try:
            fields = [f.strip() for f in _csv_fields(text) if f.strip()]
            if len(texts) == 1 and not any("=" in f for f in fields):
                images.extend(ImageInput(f.lower()) for f in fields)  # the older list form
            else:
                images.append(_image_line(fields))
        except ValueError as exc:
            raise ConfigError(source, repr(text), str(exc), hint=_IMAGE_HINT) from None
    for image in images:
        check_image_name(image.name, source)
    return images


def _image_line(fields: Sequence[str]) -> ImageInput:
    name: str | None = None
    enable = True
    for text in fields:
        key, sep, value = text.partition("=")
        key, value = (key.strip().lower(), value.strip()) if sep else ("name", text)
        if key == "name":
            if name is not None:
                raise ValueError(f"names two images, {name!r} and {value!r}")
            name = value.lower()
        elif key == "enable":
            if value not in ("true", "false"):
                raise ValueError(f"enable must be true or false, got {value!r}")
            enable = value == "true"
        else:
            raise ValueError(f"unknown image attribute {key!r} (use name, enable)")
    if not name:
        raise ValueError("the image name is empty")
    return ImageInput(name, enable)


def check_image_name(image: str, source: str = "images") -> None:
    """A repository name without tag or digest (Docker refuses upper case: lower it first)."""
    from pipeline.config import IMAGE_NAME_RE

    if not image or "@" in image or ":" in image.rsplit("/", 1)[-1]:
        raise ConfigError(
            source,
            repr(image),
            "must be an image name without a tag or digest",
            hint="write ghcr.io/owner/app, not ghcr.io/owner/app:1.0",
        )
    if not IMAGE_NAME_RE.match(image):
        raise ConfigError(
            source,
            repr(image),
            "is not a valid image name",
            hint="letters, digits and . _ - separated by /, after an optional HOST[:PORT]/",
        )


def image_references(images: Sequence[str], tags: Sequence[str]) -> list[str]:
    """Every ``image:tag``, all tags of the first image first, like metadata-action's output.

    Image names are lower-cased (Docker refuses upper case in repositories) and checked with
    ``check_image_name``. No image at all (every one ``enable=false``) gives the bare tags,
    as metadata-action does.
    """
    names = list(dict.fromkeys(name.strip().lower() for name in images))
    if not names:
        return list(tags)
    references: list[str] = []
    for image in names:
        check_image_name(image)
        references.extend(f"{image}:{tag}" for tag in tags)
    return references
