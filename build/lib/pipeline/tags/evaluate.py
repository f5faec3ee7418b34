"""Tag rules and flavor evaluated against a ``Context``: the tags, the version and the labels.

``compute_metadata(context, rules, flavor, repo, labels, *, now, short_sha_length, source)``
gives ``Metadata``: ``tags`` are tag names in priority order, de-duplicated, ``latest`` (with
its flavor prefix/suffix) last; ``version`` is the first one. Every produced tag goes through
``sanitize_tag``. Things metadata-action only warns about (a tag that is not semver, a regex
that does not match) are returned in ``Metadata.warnings``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import NamedTuple

from pipeline.context.model import Context
from pipeline.errors import ConfigError
from pipeline.tags.flavor import Flavor, parse_flavor
from pipeline.tags.moment import format_moment, time_zone
from pipeline.tags.oci_labels import RepoInfo, oci_labels
from pipeline.tags.rules import GLOBAL_NAMES, TagRule, parse_rules
from pipeline.tags.templates import (
    Mustache,
    Template,
    compile_template,
)
from pipeline.tags.versions import parse_pep440, parse_semver

MAX_TAG_LENGTH = 128


DEFAULT_SHORT_SHA_LENGTH = 7


_INVALID_TAG_CHARS = re.compile(r"[^a-zA-Z0-9._-]+")


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


_VERSION_TEMPLATE = Template("{{version}}", (Mustache("version", (), (), True),))


def _date_helper(moment: datetime) -> Callable[..., str]:
    def render(fmt: object = None, tz: object = None) -> str:
        zone = time_zone(tz) if isinstance(tz, str) else timezone.utc  # needs no tz database
        return format_moment(moment.astimezone(zone), fmt if isinstance(fmt, str) else None)

    return render


class _Candidate(NamedTuple):
    """A rule's value before prefix/suffix, and whether ``latest=auto`` would add latest."""

    value: str
    auto_latest: bool


class Evaluation:
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


def _is_enabled(evaluation: Evaluation, rule: TagRule, source: str) -> bool:
    enabled = evaluation.expand(rule.templates["enable"])
    if enabled not in ("true", "false"):
        raise ConfigError(source, repr(rule.line), f"enable must be true or false, got {enabled!r}")
    return enabled == "true"


def _tag_or_value(evaluation: Evaluation, rule: TagRule) -> str | None:
    """The git tag, or the ``value=`` attribute when given (which also works off tags)."""
    if rule.attrs.get("value"):
        return evaluation.expand(rule.templates["value"])
    return evaluation.context.tag


def _version_text(evaluation: Evaluation, rule: TagRule) -> str | None:
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


def _semver_candidate(evaluation: Evaluation, rule: TagRule) -> _Candidate | None:
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


def _pep440_candidate(evaluation: Evaluation, rule: TagRule) -> _Candidate | None:
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


def _match_candidate(evaluation: Evaluation, rule: TagRule) -> _Candidate | None:
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


def _schedule_candidate(evaluation: Evaluation, rule: TagRule) -> _Candidate | None:
    if "schedule" not in evaluation.context.event_name:
        return None
    return _Candidate(rule.templates["pattern"].render(evaluation.date_helpers()), False)


def _ref_candidate(evaluation: Evaluation, rule: TagRule) -> _Candidate | None:
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


def _edge_candidate(evaluation: Evaluation, rule: TagRule) -> _Candidate | None:
    branch = evaluation.context.branch
    wanted = rule.attrs["branch"] or evaluation.context.default_branch
    if branch is None or branch != wanted:
        return None
    return _Candidate("edge", False)


def _raw_candidate(evaluation: Evaluation, rule: TagRule) -> _Candidate | None:
    return _Candidate(evaluation.expand(rule.templates["value"]), False)


def _sha_candidate(evaluation: Evaluation, rule: TagRule) -> _Candidate | None:
    sha = evaluation.context.sha
    if not sha:
        return None
    return _Candidate(sha if rule.attrs["format"] == "long" else evaluation.short_sha(sha), False)


_CANDIDATES: dict[str, Callable[[Evaluation, TagRule], _Candidate | None]] = {
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
    evaluation = Evaluation(
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
        labels=oci_labels(
            repo or RepoInfo(),
            context,
            evaluation.now,
            version,
            labels or {},
            evaluation.expand,
            source,
        ),
        latest=bool(evaluation.latest and evaluation.main),
        warnings=evaluation.warnings,
    )
