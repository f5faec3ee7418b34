"""The ``{{...}}`` template language of tag rules: the subset of Handlebars they use.

metadata-action expands rule attributes (``value=``, ``prefix=``, ``pattern=`` ...) and label
values with Handlebars, so hoist must expand them the same way, HTML escaping of ``{{x}}``
included, or odd branch names would give different tags. This module is that engine and
knows no names: a caller says which names a place accepts (a ``Spec`` per name: argument
count, options, an optional check of the values) and supplies the functions behind them at
render time. Checking at compile time is the point: a misspelt ``{{versoin}}`` or a bad
argument fails when the config is loaded, not halfway through a release.

``compile_template(text, names) -> Template``
    Parse ``text`` and check every expression against ``names``; ``TemplateError`` if not.
``Template.render(helpers) -> str``
    Call each expression's helper with its arguments and options and join the results;
    ``{{x}}`` output is HTML-escaped like Handlebars, ``{{{x}}}`` is not.

Supported is what tag rules use: ``{{name}}``, ``{{{name}}}``, helper calls with quoted,
number, boolean and ``null`` arguments and ``key=value`` options (``tz=``), ``{{! comments}}``
and ``\\{{`` for a literal ``{{``. Deliberately unlike Handlebars, block helpers
(``{{#if}}``), partials and whitespace control are refused rather than guessed at, and an
unknown name is an error, not empty output. An unquoted argument is a path, which is always
undefined (there is no data to look it up in).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple, TypeAlias


class TemplateError(ValueError):
    """A ``{{...}}`` template cannot be used; callers turn it into a ConfigError."""


class PathExpression(NamedTuple):
    """An unquoted argument: handlebars looks it up in its data, where it is undefined."""

    name: str


Param: TypeAlias = str | int | float | bool | None | PathExpression


class Mustache(NamedTuple):
    """One ``{{...}}`` expression: a name, its arguments and options, and whether its output
    is HTML-escaped (``{{x}}``) or not (``{{{x}}}``)."""

    name: str
    params: tuple[Param, ...]
    options: tuple[tuple[str, Param], ...]
    escape: bool


class Spec(NamedTuple):
    """How a template name may be called: positional argument count and option names, and
    ``check``, which may refuse a call's argument values (raising TemplateError)."""

    min_params: int = 0
    max_params: int = 0
    options: frozenset[str] = frozenset()
    check: Callable[[Mustache], None] | None = None


Helpers: TypeAlias = Mapping[str, Callable[..., object]]


@dataclass(frozen=True)
class Template:
    """A compiled ``{{...}}`` template: literal text and expressions, checked by name."""

    source: str
    nodes: tuple[str | Mustache, ...]

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
            params = [None if isinstance(p, PathExpression) else p for p in node.params]
            options = {k: None if isinstance(v, PathExpression) else v for k, v in node.options}
            text = _stringify(helpers[node.name](*params, **options))
            out.append(_html_escape(text) if node.escape else text)
        return "".join(out)


def compile_template(text: str, names: Mapping[str, Spec]) -> Template:
    """Parse ``text`` and check every expression against ``names``; TemplateError if not."""
    nodes: list[str | Mustache] = []
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


def _parse_mustache(body: str, escape: bool) -> Mustache | None:
    stripped = body.strip()
    if stripped.startswith("!"):
        return None  # a comment
    if not stripped or stripped[0] in "#/^>&~" or stripped.endswith("~") or stripped == "else":
        raise TemplateError(f"unsupported expression {{{{{stripped}}}}}")
    tokens = _tokens(stripped)
    kind, name = tokens[0]
    if kind != "word":
        raise TemplateError(f"expression {{{{{stripped}}}}} must start with a name")
    params: list[Param] = []
    options: list[tuple[str, Param]] = []
    rest = iter(tokens[1:])
    for kind, value in rest:
        if kind == "key":
            next_token = next(rest, None)
            if next_token is None or next_token[0] == "key":
                raise TemplateError(f"option {value}= has no value in {{{{{stripped}}}}}")
            options.append((value, _param(*next_token)))
        else:
            params.append(_param(kind, value))
    return Mustache(name, tuple(params), tuple(options), escape)


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


def _param(kind: str, value: str) -> Param:
    if kind == "single":
        return value.replace("\\'", "'")
    if kind == "double":
        return value.replace('\\"', '"')
    literals: dict[str, Param] = {"true": True, "false": False, "null": None, "undefined": None}
    if value in literals:
        return literals[value]
    if re.fullmatch(r"-?\d+", value):
        return int(value)
    if re.fullmatch(r"-?\d+\.\d+", value):
        return float(value)
    return PathExpression(value)


def _check_mustache(mustache: Mustache, names: Mapping[str, Spec]) -> None:
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
    if spec.check is not None:
        spec.check(mustache)


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
