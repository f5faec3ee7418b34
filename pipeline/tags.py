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
``image_references(images, tags) -> list[str]``
    ``image:tag`` for every image and tag, image by image (lower-cased like metadata-action).
``parse_rules(lines, source="metadata.tags") -> list[TagRule]``
``parse_flavor(lines, source="metadata.flavor") -> Flavor``
    Validate early (config load) so a typo fails before anything is built.
``sanitize_tag(value) -> str``
    What every produced tag goes through.
``parse_semver(text) -> SemVer | None`` / ``parse_pep440(text) -> Pep440Version | None``
    The two version grammars the ``semver`` and ``pep440`` rules accept.
``compile_template(text, names) -> Template`` / ``format_moment(moment, fmt) -> str``
    The ``{{...}}`` subset (``GLOBAL_NAMES``, ``SEMVER_NAMES``... say which names a place
    accepts) and moment.js date formatting, for callers checking templates of their own.
``RepoInfo``, ``Metadata``, ``TagRule``, ``Flavor``
    The data in and out. ``Metadata.tags`` are tag names in priority order, de-duplicated,
    ``latest`` (with its flavor prefix/suffix) last; ``Metadata.version`` is the first one.

Every bad rule, flavor line, pattern, regular expression or date format raises
``ConfigError`` naming the offending line. Things metadata-action only warns about (a tag
that is not semver, a regex that does not match) are returned in ``Metadata.warnings``.

Deliberate differences from metadata-action
-------------------------------------------
* Unknown attributes, unknown template names (``{{versoin}}``), duplicate attributes,
  non-integer priorities and unsupported moment tokens are errors, not silently ignored.
* Tags are also made valid for Docker: a leading ``.``/``-`` is dropped and the tag is cut to
  128 characters (metadata-action only replaces invalid characters).
* The ``latest`` tag is listed once even if a ``raw`` rule also produced ``latest``, and the
  flavor prefix/suffix on ``latest`` get their ``{{...}}`` expressions expanded.
* ``match=`` on semver/pep440 uses group 1 when the regex has a group, else the whole match.
* Templates support what tag rules use: ``{{name}}``, ``{{{name}}}``, helper calls with
  quoted arguments and ``tz=`` options, comments; no block helpers or partials.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from typing import NamedTuple, TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipeline.errors import ConfigError
from pipeline.git import Context

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


class TemplateError(ValueError):
    """A ``{{...}}`` template cannot be used; callers turn it into a ConfigError."""


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


# --- templates (the handlebars subset metadata-action's rules use) -------------------------


class _Path(NamedTuple):
    """An unquoted argument: handlebars looks it up in its data, where it is undefined."""

    name: str


_Param: TypeAlias = str | int | float | bool | None | _Path


class _Mustache(NamedTuple):
    name: str
    params: tuple[_Param, ...]
    options: tuple[tuple[str, _Param], ...]
    escape: bool


class _Spec(NamedTuple):
    """How a template name may be called: positional argument count and option names."""

    min_params: int = 0
    max_params: int = 0
    options: frozenset[str] = frozenset()


_VALUE = _Spec()
_DATE = _Spec(1, 1, frozenset({"tz"}))
DATE_NAMES: Mapping[str, _Spec] = {"date": _DATE, "commit_date": _DATE}
GLOBAL_NAMES: Mapping[str, _Spec] = {
    "branch": _VALUE,
    "tag": _VALUE,
    "sha": _VALUE,
    "base_ref": _VALUE,
    "is_default_branch": _VALUE,
    "is_not_default_branch": _VALUE,
    **DATE_NAMES,
}
PEP440_NAMES: Mapping[str, _Spec] = dict.fromkeys(
    ("raw", "version", "major", "minor", "patch"), _VALUE
)
SEMVER_NAMES: Mapping[str, _Spec] = {**PEP440_NAMES, "prerelease": _VALUE, "build": _VALUE}

Helpers: TypeAlias = Mapping[str, Callable[..., object]]


@dataclass(frozen=True)
class Template:
    """A compiled ``{{...}}`` template: literal text and expressions, checked by name."""

    source: str
    nodes: tuple[str | _Mustache, ...]

    @property
    def is_raw_statement(self) -> bool:
        """True when the whole pattern is ``{{raw}}`` (pre-releases then keep the raw tag)."""
        if len(self.nodes) != 1 or isinstance(self.nodes[0], str):
            return False
        return self.nodes[0].name == "raw" and not self.nodes[0].params

    def render(self, helpers: Helpers) -> str:
        """Fill in the expressions; ``{{x}}`` output is HTML-escaped as handlebars does."""
        out: list[str] = []
        for node in self.nodes:
            if isinstance(node, str):
                out.append(node)
                continue
            params = [None if isinstance(p, _Path) else p for p in node.params]
            options = {k: None if isinstance(v, _Path) else v for k, v in node.options}
            text = _stringify(helpers[node.name](*params, **options))
            out.append(_html_escape(text) if node.escape else text)
        return "".join(out)


_VERSION_TEMPLATE = Template("{{version}}", (_Mustache("version", (), (), True),))


def compile_template(text: str, names: Mapping[str, _Spec]) -> Template:
    """Parse ``text`` and check every expression against ``names``; TemplateError if not."""
    nodes: list[str | _Mustache] = []
    for literal, body, escape in _split_mustaches(text):
        if literal:
            nodes.append(literal)
        if body is not None:
            mustache = _parse_mustache(body, escape)
            if mustache is not None:
                _check_mustache(mustache, names)
                nodes.append(mustache)
    return Template(text, tuple(nodes))


def _split_mustaches(text: str) -> Iterable[tuple[str, str | None, bool]]:
    """Yield (literal text, expression body or None, escape?) in order; ``\\{{`` is literal."""
    pos = 0
    while True:
        start = text.find("{{", pos)
        if start < 0:
            yield text[pos:], None, True
            return
        if start > 0 and text[start - 1] == "\\":
            yield text[pos : start - 1] + "{{", None, True
            pos = start + 2
            continue
        triple = text.startswith("{{{", start)
        opener, closer = ("{{{", "}}}") if triple else ("{{", "}}")
        end = text.find(closer, start + len(opener))
        if end < 0:
            raise TemplateError(f"unclosed {opener} in {text!r}")
        yield text[pos:start], text[start + len(opener) : end], not triple
        pos = end + len(closer)


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<key>[A-Za-z_][\w-]*)=(?=\S)
      | '(?P<single>(?:\\.|[^'\\])*)'
      | "(?P<double>(?:\\.|[^"\\])*)"
      | (?P<word>[^\s'"=]+)
    )""",
    re.VERBOSE,
)


def _parse_mustache(body: str, escape: bool) -> _Mustache | None:
    stripped = body.strip()
    if stripped.startswith("!"):
        return None  # a comment
    if not stripped or stripped[0] in "#/^>&~" or stripped.endswith("~") or stripped == "else":
        raise TemplateError(f"unsupported expression {{{{{stripped}}}}}")
    tokens = _tokens(stripped)
    kind, name = tokens[0]
    if kind != "word":
        raise TemplateError(f"expression {{{{{stripped}}}}} must start with a name")
    params: list[_Param] = []
    options: list[tuple[str, _Param]] = []
    rest = iter(tokens[1:])
    for kind, value in rest:
        if kind == "key":
            next_token = next(rest, None)
            if next_token is None or next_token[0] == "key":
                raise TemplateError(f"option {value}= has no value in {{{{{stripped}}}}}")
            options.append((value, _param(*next_token)))
        else:
            params.append(_param(kind, value))
    return _Mustache(name, tuple(params), tuple(options), escape)


def _tokens(body: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(body):
        match = _TOKEN.match(body, pos)
        if not match or match.end() == pos:
            raise TemplateError(f"cannot parse {{{{{body}}}}} at {body[pos:]!r}")
        kind = match.lastgroup or "word"
        tokens.append((kind, match.group(kind)))
        pos = match.end()
        while pos < len(body) and body[pos].isspace():
            pos += 1
    return tokens


def _param(kind: str, value: str) -> _Param:
    if kind == "single":
        return value.replace("\\'", "'")
    if kind == "double":
        return value.replace('\\"', '"')
    literals: dict[str, _Param] = {"true": True, "false": False, "null": None, "undefined": None}
    if value in literals:
        return literals[value]
    if re.fullmatch(r"-?\d+", value):
        return int(value)
    if re.fullmatch(r"-?\d+\.\d+", value):
        return float(value)
    return _Path(value)


def _check_mustache(mustache: _Mustache, names: Mapping[str, _Spec]) -> None:
    spec = names.get(mustache.name)
    if spec is None:
        known = ", ".join(names) or "none"
        raise TemplateError(f"unknown expression {{{{{mustache.name}}}}} (known: {known})")
    count = len(mustache.params)
    if not spec.min_params <= count <= spec.max_params:
        raise TemplateError(f"{{{{{mustache.name}}}}} takes {spec.max_params} argument(s)")
    for key, _ in mustache.options:
        if key not in spec.options:
            raise TemplateError(f"unknown {key} attribute for {{{{{mustache.name}}}}}")
    if spec is _DATE:
        _check_date_call(mustache)


def _check_date_call(mustache: _Mustache) -> None:
    fmt = mustache.params[0]
    if not isinstance(fmt, (str, _Path)):
        raise TemplateError(f"{{{{{mustache.name}}}}} needs a quoted format like 'YYYYMMDD'")
    if isinstance(fmt, str):
        check_moment_format(fmt)
    for _, zone in mustache.options:
        if not isinstance(zone, str):
            raise TemplateError("tz= needs a quoted time zone like 'Europe/Paris'")
        _zone(zone)


def _stringify(value: object) -> str:
    """How handlebars prints a value: nothing for null, JS spelling for booleans and lists."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(_stringify(item) for item in value)
    return str(value)


_HTML_ESCAPES = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    "'": "&#x27;",
    "`": "&#x60;",
    "=": "&#x3D;",
}


def _html_escape(text: str) -> str:
    """Handlebars escapes ``{{x}}`` output; kept so odd branch names give identical tags."""
    return "".join(_HTML_ESCAPES.get(char, char) for char in text)


# --- dates (moment.js format tokens, English locale) ---------------------------------------

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_WEEKDAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_LONG_FORMATS = {
    "LTS": "h:mm:ss A",
    "LT": "h:mm A",
    "LLLL": "dddd, MMMM D, YYYY h:mm A",
    "LLL": "MMMM D, YYYY h:mm A",
    "LL": "MMMM D, YYYY",
    "L": "MM/DD/YYYY",
    "llll": "ddd, MMM D, YYYY h:mm A",
    "lll": "MMM D, YYYY h:mm A",
    "ll": "MMM D, YYYY",
    "l": "M/D/YYYY",
}
_LONG_FORMAT_TOKEN = re.compile(r"(\[[^\[]*\])|(\\)?(LTS|LT|LL?L?L?|l{1,4})")
_FORMAT_TOKEN = re.compile(
    r"(\[[^\[]*\])|(\\)?([Hh]mm(?:ss)?|Mo|MM?M?M?|Do|DDDo|DD?D?D?|ddd?d?|do?|w[o|w]?|W[o|W]?"
    r"|Qo?|N{1,5}|YYYYYY|YYYYY|YYYY|YY|y{2,4}|yo?|gg(?:ggg?)?|GG(?:GGG?)?|e|E|a|A|hh?|HH?"
    r"|kk?|mm?|ss?|S{1,9}|x|X|zz?|ZZ?|.)",
    re.S,
)
_UNSUPPORTED_TOKENS = re.compile(r"N{1,5}|y{2,4}|yo?")


def check_moment_format(fmt: str) -> None:
    """Refuse moment tokens hoist does not render (eras), instead of printing them raw."""
    for match in _FORMAT_TOKEN.finditer(_expand_long_formats(fmt)):
        token = match.group(3)
        if token and not match.group(2) and _UNSUPPORTED_TOKENS.fullmatch(token):
            raise TemplateError(f"date token {token!r} is not supported (use YYYY for years)")


def format_moment(moment: datetime, fmt: str | None) -> str:
    """Render ``moment`` like moment.js ``format(fmt)`` does; no format gives ISO 8601."""
    if fmt is None:
        utc = moment.utcoffset() == timedelta(0)
        fmt = "YYYY-MM-DDTHH:mm:ss[Z]" if utc else "YYYY-MM-DDTHH:mm:ssZ"
    out: list[str] = []
    for match in _FORMAT_TOKEN.finditer(_expand_long_formats(fmt)):
        bracketed, escaped, token = match.groups()
        if bracketed:
            out.append(bracketed[1:-1])
        elif escaped or token not in _MOMENT_TOKENS:
            out.append(token)
        else:
            out.append(_MOMENT_TOKENS[token](moment))
    return "".join(out)


def _expand_long_formats(fmt: str) -> str:
    def expand(match: re.Match[str]) -> str:
        if match.group(1) or match.group(2):
            return match.group(0)
        return _LONG_FORMATS[match.group(3)]

    return _LONG_FORMAT_TOKEN.sub(expand, fmt)


def _ordinal(number: int) -> str:
    if (number % 100) // 10 == 1:
        return f"{number}th"
    return f"{number}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(number % 10, 'th') }"


def _locale_week(day: date) -> tuple[int, int]:
    """moment's English week: starts on Sunday, week 1 is the one holding January 1st."""
    start = day - timedelta(days=(day.weekday() + 1) % 7)
    week_year = (start + timedelta(days=6)).year
    jan1 = date(week_year, 1, 1)
    first = jan1 - timedelta(days=(jan1.weekday() + 1) % 7)
    return week_year, (start - first).days // 7 + 1


def _offset(moment: datetime, separator: str) -> str:
    minutes = int((moment.utcoffset() or timedelta(0)).total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}{separator}{mins:02d}"


def _fraction(digits: int) -> Callable[[datetime], str]:
    return lambda m: f"{m.microsecond // 1000:03d}{'0' * 6}"[:digits]


def _hour12(m: datetime) -> int:
    return m.hour % 12 or 12


_MOMENT_TOKENS: dict[str, Callable[[datetime], str]] = {
    "M": lambda m: str(m.month),
    "Mo": lambda m: _ordinal(m.month),
    "MM": lambda m: f"{m.month:02d}",
    "MMM": lambda m: _MONTHS[m.month - 1][:3],
    "MMMM": lambda m: _MONTHS[m.month - 1],
    "Q": lambda m: str((m.month - 1) // 3 + 1),
    "Qo": lambda m: _ordinal((m.month - 1) // 3 + 1),
    "D": lambda m: str(m.day),
    "Do": lambda m: _ordinal(m.day),
    "DD": lambda m: f"{m.day:02d}",
    "DDD": lambda m: str(m.timetuple().tm_yday),
    "DDDo": lambda m: _ordinal(m.timetuple().tm_yday),
    "DDDD": lambda m: f"{m.timetuple().tm_yday:03d}",
    "d": lambda m: str((m.weekday() + 1) % 7),
    "do": lambda m: _ordinal((m.weekday() + 1) % 7),
    "dd": lambda m: _WEEKDAYS[(m.weekday() + 1) % 7][:2],
    "ddd": lambda m: _WEEKDAYS[(m.weekday() + 1) % 7][:3],
    "dddd": lambda m: _WEEKDAYS[(m.weekday() + 1) % 7],
    "e": lambda m: str((m.weekday() + 1) % 7),
    "E": lambda m: str(m.isoweekday()),
    "w": lambda m: str(_locale_week(m.date())[1]),
    "wo": lambda m: _ordinal(_locale_week(m.date())[1]),
    "ww": lambda m: f"{_locale_week(m.date())[1]:02d}",
    "W": lambda m: str(m.isocalendar()[1]),
    "Wo": lambda m: _ordinal(m.isocalendar()[1]),
    "WW": lambda m: f"{m.isocalendar()[1]:02d}",
    "YY": lambda m: f"{m.year % 100:02d}",
    "YYYY": lambda m: f"{m.year:04d}",
    "YYYYY": lambda m: f"{m.year:05d}",
    "YYYYYY": lambda m: f"{'-' if m.year < 0 else '+'}{abs(m.year):06d}",
    "Y": lambda m: f"{m.year:04d}" if m.year <= 9999 else f"+{m.year}",
    "gg": lambda m: f"{_locale_week(m.date())[0] % 100:02d}",
    "gggg": lambda m: f"{_locale_week(m.date())[0]:04d}",
    "ggggg": lambda m: f"{_locale_week(m.date())[0]:05d}",
    "GG": lambda m: f"{m.isocalendar()[0] % 100:02d}",
    "GGGG": lambda m: f"{m.isocalendar()[0]:04d}",
    "GGGGG": lambda m: f"{m.isocalendar()[0]:05d}",
    "a": lambda m: "am" if m.hour < 12 else "pm",
    "A": lambda m: "AM" if m.hour < 12 else "PM",
    "H": lambda m: str(m.hour),
    "HH": lambda m: f"{m.hour:02d}",
    "h": lambda m: str(_hour12(m)),
    "hh": lambda m: f"{_hour12(m):02d}",
    "k": lambda m: str(m.hour or 24),
    "kk": lambda m: f"{m.hour or 24:02d}",
    "Hmm": lambda m: f"{m.hour}{m.minute:02d}",
    "Hmmss": lambda m: f"{m.hour}{m.minute:02d}{m.second:02d}",
    "hmm": lambda m: f"{_hour12(m)}{m.minute:02d}",
    "hmmss": lambda m: f"{_hour12(m)}{m.minute:02d}{m.second:02d}",
    "m": lambda m: str(m.minute),
    "mm": lambda m: f"{m.minute:02d}",
    "s": lambda m: str(m.second),
    "ss": lambda m: f"{m.second:02d}",
    **{"S" * n: _fraction(n) for n in range(1, 10)},
    "X": lambda m: str(int(m.timestamp())),
    "x": lambda m: str(int(m.timestamp() * 1000)),
    "Z": lambda m: _offset(m, ":"),
    "ZZ": lambda m: _offset(m, ""),
    "z": lambda m: m.tzname() or "",
    "zz": lambda m: m.tzname() or "",
}


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


# --- versions ------------------------------------------------------------------------------

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


def image_references(images: Sequence[str], tags: Sequence[str]) -> list[str]:
    """Every ``image:tag``, all tags of the first image first, like metadata-action's output.

    Image names are lower-cased (Docker refuses upper case in repositories) and must not
    already carry a tag or digest.
    """
    references: list[str] = []
    for image in dict.fromkeys(name.strip().lower() for name in images):
        if not image or "@" in image or ":" in image.rsplit("/", 1)[-1]:
            raise ConfigError(
                "images",
                repr(image),
                "must be an image name without a tag or digest",
                hint="write ghcr.io/owner/app, not ghcr.io/owner/app:1.0",
            )
        references.extend(f"{image}:{tag}" for tag in tags)
    return references
