"""Tag rules, flavor and labels: docker/metadata-action's own test vectors, then hoist's.

``PORTED`` is metadata-action's ``__tests__/meta.test.ts`` table (contexts, rules, flavor,
expected version/tags/latest) restated as data: if hoist ever tags differently from
metadata-action for the same inputs, one of these fails. The contexts mirror its fixture
environments (``event_*.env``); its clock and commit date are frozen at 2020-01-10 00:30 UTC.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import pytest

from pipeline.context.model import Context
from pipeline.errors import ConfigError
from pipeline.tags.evaluate import Metadata, compute_metadata, sanitize_tag
from pipeline.tags.flavor import Flavor, parse_flavor
from pipeline.tags.images import image_references, parse_images
from pipeline.tags.moment import format_moment
from pipeline.tags.oci_labels import RepoInfo
from pipeline.tags.rules import DEFAULT_PRIORITIES, GLOBAL_NAMES, SEMVER_NAMES, parse_rules
from pipeline.tags.templates import TemplateError, compile_template
from pipeline.tags.versions import parse_pep440, parse_semver

FROZEN = datetime(2020, 1, 10, 0, 30, tzinfo=timezone.utc)
SHA_DEV = "860c1904a1ce19322e91ac35af1ab07466440c37"
SHA_MASTER = "266574110acf203503badf966df2ea24b5d732d7"
SHA_INVALID = "983315b5e8d46e46fc4c49869e85e7ee5fb289ba"
SHA_PR = "a9c8c5828b91be19d9728548b24759e352367ef1"
SHA_PR_HEAD = "3370e228f2209994d57af4427fe64e71bb79ac96"
HELLO = RepoInfo(
    name="Hello-World",
    description="This your first repo!",
    url="https://github.com/octocat/Hello-World",
    licenses="MIT",
)


def _ctx(event: str, ref: str, sha: str, **extra: Any) -> Context:
    return Context(event, ref, sha, "master", commit_date=FROZEN, **extra)


_PR: dict[str, Any] = {"pr_number": 15, "pr_head_sha": SHA_PR_HEAD, "pr_base_ref": "master"}
CONTEXTS = {
    "empty": _ctx("", "", ""),
    "push_dev": _ctx("push", "refs/heads/dev", SHA_DEV),
    "push_master": _ctx("push", "refs/heads/master", SHA_MASTER),
    "push_invalidchars": _ctx("push", "refs/heads/my/feature#1245", SHA_INVALID),
    "dispatch_master": _ctx("workflow_dispatch", "refs/heads/master", SHA_DEV),
    "dispatch_dev": _ctx("workflow_dispatch", "refs/heads/dev", SHA_DEV),
    "pr": _ctx("pull_request", "refs/pull/15/merge", SHA_PR, **_PR),
    "pr_head": _ctx("pull_request", "refs/pull/15/merge", SHA_PR_HEAD, **_PR),
    "pr_target": _ctx("pull_request_target", "refs/pull/15/merge", SHA_MASTER, **_PR),
    "pr_target_head": _ctx("pull_request_target", "refs/pull/15/merge", SHA_PR_HEAD, **_PR),
    "schedule": _ctx("schedule", "refs/heads/master", SHA_DEV),
    "release": _ctx("release", "refs/tags/v1.1.1", SHA_DEV),
    "create_branch": _ctx("create", "refs/heads/dev", SHA_DEV),
}


def context_for(key: str) -> Context:
    """``tag:<name>`` is a push of that tag (metadata-action's ``event_tag_<name>.env``)."""
    if key.startswith("tag:"):
        name = key[len("tag:") :]
        base_ref = "master" if name == "v1.1.1" else None  # only that fixture has a payload
        return _ctx("push", f"refs/tags/{name}", SHA_DEV, base_ref=base_ref)
    return CONTEXTS[key]


class Case(NamedTuple):
    id: str
    context: str
    rules: list[str]
    flavor: list[str]
    version: str
    tags: list[str]
    latest: bool


def run(case: Case, labels: dict[str, str] | None = None, short_sha_length: int = 7) -> Metadata:
    return compute_metadata(
        context_for(case.context),
        case.rules,
        case.flavor,
        HELLO,
        labels,
        now=FROZEN,
        short_sha_length=short_sha_length,
    )


PORTED = [
    Case("null01", "empty", [], [], "", [], False),
    Case("null02", "empty", ["type=sha", "type=raw,{{branch}}"], [], "", [], False),
    Case("push01", "push_dev", [], [], "dev", ["dev"], False),
    Case("push02", "push_master", ["type=edge"], [], "edge", ["edge"], False),
    Case("push03", "push_master", [], [], "master", ["master"], False),
    Case("push04", "dispatch_master", ["type=edge"], [], "edge", ["edge"], False),
    Case("push05", "push_dev", [], [], "dev", ["dev"], False),
    Case("push06", "push_master", ["type=edge"], [], "edge", ["edge"], False),
    Case(
        "push07",
        "push_dev",
        ["type=ref,event=branch", "type=sha"],
        [],
        "dev",
        ["dev", "sha-860c190"],
        False,
    ),
    Case(
        "push08",
        "push_master",
        ["type=edge", "type=sha"],
        [],
        "edge",
        ["edge", "sha-2665741"],
        False,
    ),
    Case(
        "push09",
        "push_dev",
        ["type=edge,branch=dev", "type=sha"],
        [],
        "edge",
        ["edge", "sha-860c190"],
        False,
    ),
    Case(
        "push10",
        "push_master",
        ["type=edge,branch=dev", "type=sha"],
        [],
        "sha-2665741",
        ["sha-2665741"],
        False,
    ),
    Case(
        "push11",
        "push_invalidchars",
        ["type=edge", "type=sha"],
        [],
        "sha-983315b",
        ["sha-983315b"],
        False,
    ),
    Case(
        "push12",
        "push_invalidchars",
        ["type=semver,pattern={{version}}", "type=pep440,pattern={{version}}", "type=edge"],
        [],
        "",
        [],
        False,
    ),
    Case(
        "push13",
        "push_master",
        ["type=ref,priority=2000,event=branch", "type=edge"],
        [],
        "master",
        ["master", "edge"],
        False,
    ),
    Case(
        "push14",
        "push_master",
        [
            "type=semver,pattern={{version}},value=v1.2.3",
            "type=pep440,pattern={{version}},value=v1.2.3",
            "type=edge",
        ],
        [],
        "1.2.3",
        ["1.2.3", "edge", "latest"],
        True,
    ),
    Case(
        "push15",
        "push_master",
        ["type=match,pattern=v(.*),group=1,value=v1.2.3", "type=edge"],
        [],
        "1.2.3",
        ["1.2.3", "edge", "latest"],
        True,
    ),
    Case(
        "push16",
        "push_master",
        ["type=match,enable=false,pattern=v(.*),group=1,value=v1.2.3", "type=edge"],
        [],
        "edge",
        ["edge"],
        False,
    ),
    Case(
        "push17",
        "push_master",
        [
            "type=raw,value=mytag-{{branch}}",
            "type=raw,value=mytag-{{date 'YYYYMMDD'}}",
            "type=raw,value=mytag-cd-{{commit_date 'YYYYMMDD'}}",
            "type=raw,value=mytag-{{date 'YYYYMMDD-HHmmss' tz='Asia/Tokyo'}}",
            "type=raw,value=mytag-tag-{{tag}}",
            "type=raw,value=mytag-baseref-{{base_ref}}",
            "type=raw,value=mytag-defbranch,enable={{is_default_branch}}",
        ],
        [],
        "mytag-master",
        [
            "mytag-master",
            "mytag-20200110",
            "mytag-cd-20200110",
            "mytag-20200110-093000",
            "mytag-tag-",
            "mytag-baseref-",
            "mytag-defbranch",
        ],
        False,
    ),
    Case(
        "push18",
        "push_dev",
        ["type=ref,event=branch", "type=sha,format=long"],
        [],
        "dev",
        ["dev", "sha-860c1904a1ce19322e91ac35af1ab07466440c37"],
        False,
    ),
    Case(
        "push19",
        "push_dev",
        [
            "type=edge,branch=master",
            "type=ref,event=branch,enable=false",
            "type=sha,format=long",
            "type=raw,value=defbranch,enable={{is_default_branch}}",
        ],
        [],
        "sha-860c1904a1ce19322e91ac35af1ab07466440c37",
        ["sha-860c1904a1ce19322e91ac35af1ab07466440c37"],
        False,
    ),
    Case(
        "push20",
        "push_dev",
        ["type=edge,branch=master", "type=ref,event=branch,enable=false", "type=sha,format=long"],
        [],
        "sha-860c1904a1ce19322e91ac35af1ab07466440c37",
        ["sha-860c1904a1ce19322e91ac35af1ab07466440c37"],
        False,
    ),
    Case(
        "push21",
        "push_master",
        [
            "type=raw,value=mytag-{{branch}}",
            "type=raw,value=mytag-{{date 'YYYYMMDD'}}",
            "type=raw,value=mytag-{{date 'YYYYMMDD-HHmmss' tz='Asia/Tokyo'}}",
            "type=raw,value=mytag-src-{{commit_date 'YYYYMMDD'}}",
            "type=raw,value=mytag-tag-{{tag}}",
            "type=raw,value=mytag-baseref-{{base_ref}}",
            "type=raw,value=mytag-defbranch,enable={{is_default_branch}}",
        ],
        [],
        "mytag-master",
        [
            "mytag-master",
            "mytag-20200110",
            "mytag-20200110-093000",
            "mytag-src-20200110",
            "mytag-tag-",
            "mytag-baseref-",
            "mytag-defbranch",
        ],
        False,
    ),
    Case(
        "push22",
        "push_dev",
        [
            "type=edge,branch=master",
            "type=sha,format=long",
            "type=raw,value=notdefbranch,enable={{is_not_default_branch}}",
        ],
        [],
        "notdefbranch",
        ["notdefbranch", "sha-860c1904a1ce19322e91ac35af1ab07466440c37"],
        False,
    ),
    Case("tag01", "tag:release1", [], [], "release1", ["release1", "latest"], True),
    Case("tag02", "tag:20200110-RC2", [], [], "20200110-RC2", ["20200110-RC2", "latest"], True),
    Case(
        "tag03",
        "tag:20200110-RC2",
        ["type=match,pattern=\\d{8}"],
        ["latest=false"],
        "20200110",
        ["20200110"],
        False,
    ),
    Case(
        "tag04",
        "tag:20200110-RC2",
        ["type=match,pattern=(.*)-RC,group=1"],
        ["latest=false"],
        "20200110",
        ["20200110"],
        False,
    ),
    Case(
        "tag05",
        "tag:v1.1.1",
        ['type=match,"pattern=\\d.\\d.\\d"'],
        [],
        "1.1.1",
        ["1.1.1", "latest"],
        True,
    ),
    Case(
        "tag06",
        "tag:v1.1.1",
        ['type=match,"pattern=^v(\\d.\\d.\\d)$",group=1'],
        [],
        "1.1.1",
        ["1.1.1", "latest"],
        True,
    ),
    Case(
        "tag07",
        "tag:v2.0.8-beta.67",
        ['type=match,"pattern=\\d.\\d.\\d-(alpha|beta).\\d+"'],
        [],
        "2.0.8-beta.67",
        ["2.0.8-beta.67", "latest"],
        True,
    ),
    Case(
        "tag08",
        "tag:v2.0.8-beta.67",
        ['type=match,"pattern=\\d.\\d"'],
        [],
        "2.0",
        ["2.0", "latest"],
        True,
    ),
    Case(
        "tag09",
        "tag:v2.0.8-beta.67",
        [
            'type=match,"pattern=v(.*)-beta.(.*)",group=1',
            'type=match,"pattern=v(.*)-beta.(.*)",group=2',
        ],
        [],
        "2.0.8",
        ["2.0.8", "67", "latest"],
        True,
    ),
    Case("tag10", "tag:sometag", ['type=match,"pattern=\\d.\\d"'], [], "", [], False),
    Case(
        "tag11",
        "tag:v1.1.1",
        [
            "type=semver,pattern={{version}}",
            "type=semver,pattern={{major}}.{{minor}}",
            "type=semver,pattern={{major}}",
        ],
        [],
        "1.1.1",
        ["1.1.1", "1.1", "1", "latest"],
        True,
    ),
    Case(
        "tag12",
        "tag:v1.1.1",
        ["type=semver,pattern={{version}}", "type=semver,pattern={{major}}.{{minor}}.{{patch}}"],
        [],
        "1.1.1",
        ["1.1.1", "latest"],
        True,
    ),
    Case(
        "tag13",
        "tag:v2.0.8-beta.67",
        ["type=semver,pattern={{major}}.{{minor}}", "type=semver,pattern={{major}}"],
        [],
        "2.0.8-beta.67",
        ["2.0.8-beta.67"],
        False,
    ),
    Case(
        "tag14",
        "tag:sometag",
        [
            "type=ref,event=tag",
            "type=semver,pattern={{version}}",
            "type=semver,pattern={{major}}.{{minor}}",
            "type=semver,pattern={{major}}",
        ],
        ["latest=false"],
        "sometag",
        ["sometag"],
        False,
    ),
    Case(
        "tag15",
        "tag:v2.0.8-beta.67",
        [
            "type=raw,priority=2000,foo",
            "type=semver,pattern={{version}}",
            'type=match,"pattern=\\d.\\d"',
        ],
        [],
        "foo",
        ["foo", "2.0.8-beta.67", "2.0"],
        False,
    ),
    Case(
        "tag16",
        "tag:v1.1.1",
        ["type=raw,priority=2000,foo", "type=ref,event=tag", "type=edge"],
        [],
        "foo",
        ["foo", "v1.1.1"],
        False,
    ),
    Case(
        "tag17",
        "tag:p1/v1.0.0",
        [
            'type=match,"pattern=/^v(\\d.\\d.\\d)$/ig",group=1',
            "type=match,pattern=\\d.\\d.\\d",
            "type=match,pattern=\\d.\\d",
            "type=ref,event=pr",
            "type=sha",
        ],
        [],
        "1.0.0",
        ["1.0.0", "1.0", "sha-860c190", "latest"],
        True,
    ),
    Case(
        "tag18",
        "tag:p1/v1.0.0",
        [
            "type=match,pattern=p1/v(\\d.\\d.\\d),group=1",
            "type=match,pattern=p1/v(\\d.\\d),group=1",
            "type=match,pattern=p1/v(\\d.\\d),group=3",
            "type=ref,event=pr",
            "type=sha",
        ],
        [],
        "1.0.0",
        ["1.0.0", "1.0", "sha-860c190", "latest"],
        True,
    ),
    Case(
        "tag19",
        "tag:p1/v1.0.0",
        [
            "type=match,pattern=p1/v(\\d.\\d.\\d),group=1",
            "type=match,pattern=p1/v(\\d.\\d),group=1,suffix=",
            "type=ref,event=pr",
            "type=sha",
        ],
        ["suffix=-dev"],
        "1.0.0-dev",
        ["1.0.0-dev", "1.0", "sha-860c190-dev", "latest"],
        True,
    ),
    Case(
        "tag20",
        "tag:v1.1.1",
        [
            "type=raw,{{tag}}-{{sha}}-foo",
            "type=raw,{{base_ref}}-foo",
            "type=raw,defbranch-foo,enable={{is_default_branch}}",
        ],
        [],
        "v1.1.1-860c190-foo",
        ["v1.1.1-860c190-foo", "master-foo"],
        False,
    ),
    Case(
        "tag21",
        "tag:v1.1.1",
        ["type=semver,pattern={{version}}", "type=semver,pattern={{major}}.{{minor}}.{{patch}}"],
        ["suffix=-dev,onlatest=true"],
        "1.1.1-dev",
        ["1.1.1-dev", "latest-dev"],
        True,
    ),
    Case(
        "tag22",
        "tag:v1.1.1",
        ["type=semver,pattern={{version}}", "type=semver,pattern={{major}}.{{minor}}.{{patch}}"],
        ["prefix=foo-,onlatest=true", "suffix=-dev,onlatest=true"],
        "foo-1.1.1-dev",
        ["foo-1.1.1-dev", "foo-latest-dev"],
        True,
    ),
    Case(
        "tag23",
        "tag:v1.1.1",
        ["type=pep440,pattern={{raw}}", "type=pep440,pattern={{major}}.{{minor}}"],
        [],
        "v1.1.1",
        ["v1.1.1", "1.1", "latest"],
        True,
    ),
    Case(
        "tag24",
        "tag:1.2",
        ["type=pep440,pattern={{version}}", "type=pep440,pattern={{major}}.{{minor}}"],
        [],
        "1.2",
        ["1.2", "latest"],
        True,
    ),
    Case(
        "tag25",
        "tag:1.1beta2",
        ["type=pep440,pattern={{major}}.{{minor}}", "type=pep440,pattern={{major}}"],
        [],
        "1.1b2",
        ["1.1b2"],
        False,
    ),
    Case(
        "tag26",
        "tag:1.0dev4",
        ["type=pep440,pattern={{major}}.{{minor}}", "type=pep440,pattern={{major}}"],
        [],
        "1.0.dev4",
        ["1.0.dev4"],
        False,
    ),
    Case(
        "tag27",
        "tag:1.2.3rc2",
        [
            "type=pep440,pattern={{raw}}",
            "type=pep440,pattern={{version}}",
            "type=pep440,pattern={{major}}.{{minor}}",
            "type=pep440,pattern={{major}}",
        ],
        [],
        "1.2.3rc2",
        ["1.2.3rc2"],
        False,
    ),
    Case(
        "tag28",
        "tag:v1.1.1",
        [
            "type=pep440,pattern={{version}}",
            "type=pep440,pattern={{major}}.{{minor}}.{{patch}}",
            "type=pep440,pattern={{major}}.{{minor}}",
            "type=pep440,pattern={{major}}",
        ],
        [],
        "1.1.1",
        ["1.1.1", "1.1", "1", "latest"],
        True,
    ),
    Case(
        "tag29",
        "tag:1.2post1",
        [
            "type=pep440,pattern={{version}}",
            "type=pep440,pattern={{major}}.{{minor}}",
            "type=pep440,pattern={{major}}",
        ],
        [],
        "1.2.post1",
        ["1.2.post1"],
        False,
    ),
    Case(
        "tag30",
        "tag:sometag",
        [
            "type=ref,event=tag",
            "type=pep440,pattern={{version}}",
            "type=pep440,pattern={{major}}.{{minor}}",
            "type=pep440,pattern={{major}}",
        ],
        ["latest=false"],
        "sometag",
        ["sometag"],
        False,
    ),
    Case(
        "tag31",
        "tag:v2.0.8-beta.67",
        ["type=semver,pattern={{raw}}"],
        [],
        "v2.0.8-beta.67",
        ["v2.0.8-beta.67"],
        False,
    ),
    Case(
        "tag32",
        "tag:v1.2.3rc2",
        ["type=pep440,pattern={{raw}}", "type=pep440,pattern={{major}}.{{minor}}"],
        [],
        "v1.2.3rc2",
        ["v1.2.3rc2", "1.2.3rc2"],
        False,
    ),
    Case(
        "tag33",
        "tag:v1.1.1",
        [
            "type=pep440,pattern={{version}}",
            "type=pep440,pattern={{major}}.{{minor}}.{{patch}}",
            "type=pep440,pattern={{major}}.{{minor}}",
            "type=pep440,pattern={{major}}",
        ],
        [],
        "1.1.1",
        ["1.1.1", "1.1", "1", "latest"],
        True,
    ),
    Case(
        "tag34",
        "tag:p1/v1.0.0",
        ['type=semver,pattern={{version}},"match=v(\\d.\\d.\\d)$"'],
        [],
        "1.0.0",
        ["1.0.0", "latest"],
        True,
    ),
    Case(
        "push35",
        "push_master",
        [
            'type=semver,pattern={{version}},value=p1/v1.2.3,"match=v(\\d.\\d.\\d)$"',
            'type=pep440,pattern={{version}},value=p1/v1.2.3,"match=v(\\d.\\d.\\d)$"',
            "type=edge",
        ],
        [],
        "1.2.3",
        ["1.2.3", "edge", "latest"],
        True,
    ),
    Case(
        "latest01",
        "tag:release1",
        ['type=match,"pattern=^release\\d{1,2}"'],
        [],
        "release1",
        ["release1", "latest"],
        True,
    ),
    Case(
        "latest02",
        "tag:20200110-RC2",
        ['type=match,"pattern=^\\d+-RC\\d{1,2}"'],
        [],
        "20200110-RC2",
        ["20200110-RC2", "latest"],
        True,
    ),
    Case(
        "latest03",
        "tag:20200110-RC2",
        ["type=match,pattern=\\d{8}"],
        [],
        "20200110",
        ["20200110", "latest"],
        True,
    ),
    Case(
        "latest04",
        "tag:v1.1.1",
        ['type=match,"pattern=\\d.\\d.\\d"'],
        [],
        "1.1.1",
        ["1.1.1", "latest"],
        True,
    ),
    Case("latest05", "tag:v1.1.1", [], [], "v1.1.1", ["v1.1.1", "latest"], True),
    Case(
        "latest06",
        "tag:v2.0.8-beta.67",
        ['type=match,"pattern=\\d.\\d.\\d"'],
        [],
        "2.0.8",
        ["2.0.8", "latest"],
        True,
    ),
    Case(
        "latest07",
        "tag:v1.1.1",
        ["type=ref,event=tag"],
        ["latest=false"],
        "v1.1.1",
        ["v1.1.1"],
        False,
    ),
    Case(
        "latest08",
        "tag:v1.1.1",
        ["type=ref,event=tag"],
        ["latest=false"],
        "v1.1.1",
        ["v1.1.1"],
        False,
    ),
    Case(
        "latest09",
        "tag:v1.1.1",
        ["type=ref,event=tag"],
        ["latest=false"],
        "v1.1.1",
        ["v1.1.1"],
        False,
    ),
    Case(
        "latest10",
        "tag:v2.0.8-beta.67",
        ['type=match,"pattern=\\d.\\d.\\d"'],
        [],
        "2.0.8",
        ["2.0.8", "latest"],
        True,
    ),
    Case("pr01", "pr", [], [], "pr-15", ["pr-15"], False),
    Case("pr02", "pr", [], [], "pr-15", ["pr-15"], False),
    Case(
        "pr03",
        "pr",
        ["type=ref,event=pr", "type=sha"],
        [],
        "pr-15",
        ["pr-15", "sha-a9c8c58"],
        False,
    ),
    Case(
        "pr04",
        "pr",
        ["type=sha,priority=2000", "type=ref,event=pr"],
        [],
        "sha-a9c8c58",
        ["sha-a9c8c58", "pr-15"],
        False,
    ),
    Case(
        "pr05",
        "pr",
        ["type=ref,event=pr"],
        ["prefix=glo-", "suffix=-bal"],
        "pr-15-bal",
        ["pr-15-bal"],
        False,
    ),
    Case(
        "pr06",
        "pr",
        ["type=ref,event=pr,prefix="],
        ["prefix=glo-", "suffix=-bal"],
        "15-bal",
        ["15-bal"],
        False,
    ),
    Case(
        "pr07",
        "pr_target",
        ["type=sha,priority=2000", "type=ref,event=pr"],
        [],
        "sha-2665741",
        ["sha-2665741", "pr-15"],
        False,
    ),
    Case(
        "pr08",
        "pr_target",
        ["type=ref,event=pr,prefix="],
        ["prefix=glo-", "suffix=-bal"],
        "15-bal",
        ["15-bal"],
        False,
    ),
    Case(
        "pr09",
        "pr_target",
        [
            "type=ref,event=tag",
            "type=ref,event=pr",
            "type=ref,event=branch",
            "type=sha",
            "type=sha,format=long",
        ],
        [],
        "pr-15",
        ["pr-15", "sha-2665741", "sha-266574110acf203503badf966df2ea24b5d732d7"],
        False,
    ),
    Case(
        "pr10",
        "pr_target",
        [
            "type=raw,value=mytag-{{base_ref}}",
            "type=raw,mytag-defbranch,enable={{is_default_branch}}",
        ],
        [],
        "mytag-master",
        ["mytag-master"],
        False,
    ),
    Case(
        "pr11",
        "pr",
        [
            "type=raw,value=mytag-{{base_ref}}",
            "type=raw,mytag-defbranch,enable={{is_default_branch}}",
        ],
        [],
        "mytag-master",
        ["mytag-master"],
        False,
    ),
    Case(
        "pr12",
        "pr",
        ["type=raw,value={{commit_date YYYY-MM-DD-HHmmSS}}"],
        [],
        "2020-01-10T00-30-00Z",
        ["2020-01-10T00-30-00Z"],
        False,
    ),
    Case("prhead-pr01", "pr_head", [], [], "pr-15", ["pr-15"], False),
    Case("prhead-pr02", "pr_head", [], [], "pr-15", ["pr-15"], False),
    Case(
        "prhead-pr03",
        "pr_head",
        ["type=ref,event=pr", "type=sha"],
        [],
        "pr-15",
        ["pr-15", "sha-3370e22"],
        False,
    ),
    Case(
        "prhead-pr04",
        "pr_head",
        ["type=sha,priority=2000", "type=ref,event=pr"],
        [],
        "sha-3370e22",
        ["sha-3370e22", "pr-15"],
        False,
    ),
    Case(
        "prhead-pr05",
        "pr_head",
        ["type=ref,event=pr"],
        ["prefix=glo-", "suffix=-bal"],
        "pr-15-bal",
        ["pr-15-bal"],
        False,
    ),
    Case(
        "prhead-pr06",
        "pr_head",
        ["type=ref,event=pr,prefix="],
        ["prefix=glo-", "suffix=-bal"],
        "15-bal",
        ["15-bal"],
        False,
    ),
    Case(
        "prhead-pr07",
        "pr_target_head",
        ["type=sha,priority=2000", "type=ref,event=pr"],
        [],
        "sha-3370e22",
        ["sha-3370e22", "pr-15"],
        False,
    ),
    Case(
        "prhead-pr08",
        "pr_target_head",
        ["type=ref,event=pr,prefix="],
        ["prefix=glo-", "suffix=-bal"],
        "15-bal",
        ["15-bal"],
        False,
    ),
    Case(
        "prhead-pr09",
        "pr_target_head",
        [
            "type=ref,event=tag",
            "type=ref,event=pr",
            "type=ref,event=branch",
            "type=sha",
            "type=sha,format=long",
        ],
        [],
        "pr-15",
        ["pr-15", "sha-3370e22", "sha-3370e228f2209994d57af4427fe64e71bb79ac96"],
        False,
    ),
    Case(
        "prhead-pr10",
        "pr_target_head",
        [
            "type=raw,value=mytag-{{base_ref}}",
            "type=raw,mytag-defbranch,enable={{is_default_branch}}",
        ],
        [],
        "mytag-master",
        ["mytag-master"],
        False,
    ),
    Case(
        "prhead-pr11",
        "pr_head",
        [
            "type=raw,value=mytag-{{base_ref}}",
            "type=raw,mytag-defbranch,enable={{is_default_branch}}",
        ],
        [],
        "mytag-master",
        ["mytag-master"],
        False,
    ),
    Case(
        "prhead-pr12",
        "pr_head",
        ["type=raw,value=src-{{commit_date YYYY-MM-DD}}"],
        [],
        "src-2020-01-10T00-30-00Z",
        ["src-2020-01-10T00-30-00Z"],
        False,
    ),
    Case("schedule01", "schedule", [], [], "nightly", ["nightly", "master"], False),
    Case(
        "schedule02",
        "schedule",
        [
            "type=schedule,pattern={{date 'YYYYMMDD'}}",
            "type=schedule,pattern=source-date-{{commit_date 'YYYY-MM-DD'}}",
        ],
        [],
        "20200110",
        ["20200110", "source-date-2020-01-10"],
        False,
    ),
    Case(
        "schedule03",
        "schedule",
        ["type=schedule,pattern={{date 'YYYYMMDD-HHmmss'}}"],
        [],
        "20200110-003000",
        ["20200110-003000"],
        False,
    ),
    Case("schedule04", "schedule", [], [], "nightly", ["nightly", "master"], False),
    Case(
        "schedule05",
        "schedule",
        ["type=schedule", "type=sha"],
        [],
        "nightly",
        ["nightly", "sha-860c190"],
        False,
    ),
    Case(
        "schedule06",
        "schedule",
        [
            "type=schedule",
            "type=sha,priority=2000",
            "type=raw,value=defbranch,enable={{is_default_branch}}",
        ],
        [],
        "sha-860c190",
        ["sha-860c190", "nightly", "defbranch"],
        False,
    ),
    Case(
        "schedule07",
        "schedule",
        ["type=schedule"],
        ["prefix=glo-", "suffix=-bal"],
        "glo-nightly-bal",
        ["glo-nightly-bal"],
        False,
    ),
    Case(
        "schedule08",
        "schedule",
        [
            "type=schedule,pattern={{date 'YYYYMMDD-HHmmss' tz='Asia/Tokyo'}}",
            "type=schedule,pattern=src-{{commit_date 'YYYYMMDD-HHmmss' tz='Asia/Tokyo'}}",
        ],
        [],
        "20200110-093000",
        ["20200110-093000", "src-20200110-093000"],
        False,
    ),
    Case("release01", "release", [], [], "v1.1.1", ["v1.1.1", "latest"], True),
    Case(
        "release02",
        "release",
        [
            "type=ref,event=tag",
            "type=raw,value=baseref-{{base_ref}}",
            "type=raw,value=defbranch,enable={{is_default_branch}}",
        ],
        [],
        "v1.1.1",
        ["v1.1.1", "baseref-", "latest"],
        True,
    ),
    Case(
        "release03",
        "release",
        [
            "type=raw,value=src-{{commit_date 'YYYYMMDD-HHmmss'}}",
            "type=raw,value={{date 'YYYYMMDD-HHmmss'}}",
        ],
        [],
        "src-20200110-003000",
        ["src-20200110-003000", "20200110-003000"],
        False,
    ),
    Case(
        "raw01",
        "push_dev",
        ["type=ref,event=branch", "type=raw,my", "type=raw,custom", "type=raw,tags"],
        [],
        "dev",
        ["dev", "my", "custom", "tags"],
        False,
    ),
    Case(
        "raw02",
        "push_dev",
        ["type=ref,event=branch", "type=raw,my"],
        [],
        "dev",
        ["dev", "my"],
        False,
    ),
    Case(
        "raw03",
        "tag:release1",
        ["type=ref,event=tag", "type=raw,my", "type=raw,custom", "type=raw,tags"],
        [],
        "release1",
        ["release1", "my", "custom", "tags", "latest"],
        True,
    ),
    Case(
        "raw04",
        "tag:20200110-RC2",
        ["type=match,pattern=\\d{8}", "type=raw,my", "type=raw,custom", "type=raw,tags"],
        ["latest=false"],
        "20200110",
        ["20200110", "my", "custom", "tags"],
        False,
    ),
    Case(
        "raw05",
        "tag:v1.1.1",
        [
            "type=semver,pattern={{version}}",
            "type=semver,pattern={{major}}.{{minor}}",
            "type=semver,pattern={{major}}",
            "type=raw,my",
            "type=raw,custom",
            "type=raw,tags",
        ],
        [],
        "1.1.1",
        ["1.1.1", "1.1", "1", "my", "custom", "tags", "latest"],
        True,
    ),
    Case(
        "raw06",
        "tag:v1.1.1",
        ["type=raw,my", "type=raw,custom", "type=raw,tags"],
        [],
        "my",
        ["my", "custom", "tags"],
        False,
    ),
    Case(
        "raw07",
        "push_dev",
        ["type=ref,priority=90,event=branch", "type=raw,my", "type=raw,custom", "type=raw,tags"],
        ["latest=true"],
        "my",
        ["my", "custom", "tags", "dev", "latest"],
        True,
    ),
    Case(
        "raw08",
        "push_dev",
        ["type=match,pattern=\\d{8}", "type=raw,my", "type=raw,custom", "type=raw,tags"],
        ["latest=false"],
        "my",
        ["my", "custom", "tags"],
        False,
    ),
    Case(
        "raw09",
        "push_dev",
        [
            "type=match,pattern=\\d{8}",
            "type=raw,my,prefix=foo-,suffix=-bar",
            "type=raw,custom",
            "type=raw,tags",
        ],
        ["latest=false", "prefix=glo-", "suffix=-bal"],
        "foo-my-bar",
        ["foo-my-bar", "glo-custom-bal", "glo-tags-bal"],
        False,
    ),
    Case(
        "raw10",
        "push_dev",
        ["type=raw,foo", "type=raw,bar,enable=false", "type=raw,baz,enable=true"],
        ["latest=false"],
        "foo",
        ["foo", "baz"],
        False,
    ),
]


# hoist's own cases: every rule type and flavor option in the contexts hoist meets.
CONTEXTS["push_amp"] = _ctx("push", "refs/heads/feat&fix", SHA_DEV)
EXTRA = [
    Case("dispatch-branch", "dispatch_dev", [], [], "dev", ["dev"], False),
    Case("dispatch-edge-other-branch", "dispatch_dev", ["type=edge"], [], "", [], False),
    Case("dispatch-no-schedule", "dispatch_master", ["type=schedule"], [], "", [], False),
    Case(
        "dispatch-latest-on-default-branch",
        "dispatch_master",
        ["type=raw,value=latest,enable={{is_default_branch}}", "type=ref,event=branch"],
        [],
        "master",
        ["master", "latest"],
        False,
    ),
    Case(
        "create-is-default",
        "create_branch",
        ["type=raw,d,enable={{is_default_branch}}"],
        [],
        "d",
        ["d"],
        False,
    ),
    Case(
        "pr-no-semver",
        "pr",
        ["type=semver,pattern={{version}}", "type=ref,event=pr"],
        [],
        "pr-15",
        ["pr-15"],
        False,
    ),
    Case(
        "pr-no-branch-no-tag",
        "pr",
        ["type=ref,event=branch", "type=ref,event=tag", "type=sha"],
        [],
        "sha-a9c8c58",
        ["sha-a9c8c58"],
        False,
    ),
    Case(
        "pr-prefix-suffix",
        "pr",
        ["type=ref,event=pr,prefix=pull-,suffix=-ci"],
        [],
        "pull-15-ci",
        ["pull-15-ci"],
        False,
    ),
    Case(
        "pr-latest-true",
        "pr",
        ["type=ref,event=pr"],
        ["latest=true"],
        "pr-15",
        ["pr-15", "latest"],
        True,
    ),
    Case(
        "pr-branch-expression-empty", "pr", ["type=raw,value=b-{{branch}}"], [], "b-", ["b-"], False
    ),
    Case(
        "schedule-tz",
        "schedule",
        ["type=schedule,pattern={{date 'YYYYMMDD-HHmm' tz='America/New_York'}}"],
        [],
        "20200109-1930",
        ["20200109-1930"],
        False,
    ),
    Case(
        "schedule-not-on-push", "push_master", ["type=schedule,pattern=nightly"], [], "", [], False
    ),
    Case(
        "schedule-latest-true",
        "schedule",
        ["type=schedule"],
        ["latest=true"],
        "nightly",
        ["nightly", "latest"],
        True,
    ),
    Case(
        "schedule-prefix-attr",
        "schedule",
        ["type=schedule,prefix=n-,pattern={{date 'YYYY'}}"],
        ["prefix=glo-"],
        "n-2020",
        ["n-2020"],
        False,
    ),
    Case(
        "tag-major-zero",
        "tag:v0.1.2",
        [
            "type=semver,pattern={{version}}",
            "type=semver,pattern={{major}}.{{minor}}",
            "type=semver,pattern={{major}},enable=false",
        ],
        [],
        "0.1.2",
        ["0.1.2", "0.1", "latest"],
        True,
    ),
    Case(
        "tag-semver-build",
        "tag:v1.2.3+build.5",
        ["type=semver,pattern={{version}}", "type=semver,pattern={{raw}}"],
        [],
        "1.2.3",
        ["1.2.3", "v1.2.3-build.5", "latest"],
        True,
    ),
    Case(
        "tag-not-semver-falls-back",
        "tag:v1.2",
        ["type=semver,pattern={{version}}", "type=ref,event=tag"],
        [],
        "v1.2",
        ["v1.2", "latest"],
        True,
    ),
    Case(
        "tag-prerelease-prefix",
        "tag:v2.0.8-beta.67",
        ["type=semver,pattern={{major}}.{{minor}},prefix=v"],
        [],
        "v2.0.8-beta.67",
        ["v2.0.8-beta.67"],
        False,
    ),
    Case(
        "push-semver-value",
        "push_master",
        ["type=semver,pattern={{major}},value=v3.4.5"],
        [],
        "3",
        ["3", "latest"],
        True,
    ),
    Case(
        "push-semver-value-expr",
        "push_dev",
        ["type=semver,pattern={{version}},value={{branch}}"],
        [],
        "",
        [],
        False,
    ),
    Case(
        "tag-pep440-epoch-local",
        "tag:1!2.0.0+ubuntu.1",
        ["type=pep440,pattern={{version}}", "type=pep440,pattern={{major}}"],
        [],
        "1-2.0.0-ubuntu.1",
        ["1-2.0.0-ubuntu.1", "2", "latest"],
        True,
    ),
    Case(
        "tag-pep440-post",
        "tag:1.2.3post1",
        ["type=pep440,pattern={{major}}.{{minor}}"],
        [],
        "1.2.3.post1",
        ["1.2.3.post1"],
        False,
    ),
    Case(
        "tag-pep440-beta",
        "tag:1.2.3beta2",
        ["type=pep440,pattern={{major}}.{{minor}}"],
        [],
        "1.2.3b2",
        ["1.2.3b2"],
        False,
    ),
    Case(
        "tag-pep440-implicit-post",
        "tag:1.0-1",
        ["type=pep440,pattern={{version}}"],
        [],
        "1.0.post1",
        ["1.0.post1"],
        False,
    ),
    Case(
        "tag-pep440-short-release",
        "tag:3",
        ["type=pep440,pattern={{major}}.{{minor}}.{{patch}}"],
        [],
        "3.0.0",
        ["3.0.0", "latest"],
        True,
    ),
    Case(
        "tag-match-flags",
        "tag:RELEASE-42",
        ["type=match,pattern=/release-(\\d+)/i,group=1"],
        [],
        "42",
        ["42", "latest"],
        True,
    ),
    Case(
        "tag-match-named-group",
        "tag:v1.2.3",
        ['type=match,"pattern=v(?<major>\\d+)",group=1'],
        [],
        "1",
        ["1", "latest"],
        True,
    ),
    Case(
        "tag-match-optional-group-unset",
        "tag:v1",
        ["type=match,pattern=v(\\d)(-rc)?,group=2"],
        [],
        "",
        [],
        False,
    ),
    Case("tag-match-no-match", "tag:v1.2.3", ["type=match,pattern=nomatch"], [], "", [], False),
    Case(
        "tag-match-latest-false",
        "tag:v1.2.3",
        ["type=match,pattern=\\d.\\d"],
        ["latest=false"],
        "1.2",
        ["1.2"],
        False,
    ),
    Case(
        "tag-onlatest-prefix",
        "tag:v1.1.1",
        ["type=ref,event=tag"],
        ["prefix=app-,onlatest=true"],
        "app-v1.1.1",
        ["app-v1.1.1", "app-latest"],
        True,
    ),
    Case(
        "tag-suffix-not-on-latest",
        "tag:v1.1.1",
        ["type=ref,event=tag"],
        ["suffix=-alpine"],
        "v1.1.1-alpine",
        ["v1.1.1-alpine", "latest"],
        True,
    ),
    Case(
        "tag-onlatest-false",
        "tag:v1.1.1",
        ["type=ref,event=tag"],
        ["suffix=-alpine,onlatest=false"],
        "v1.1.1-alpine",
        ["v1.1.1-alpine", "latest"],
        True,
    ),
    Case(
        "tag-raw-latest-once",
        "tag:v1.1.1",
        ["type=ref,event=tag", "type=raw,value=latest"],
        [],
        "v1.1.1",
        ["v1.1.1", "latest"],
        True,
    ),
    Case("tag-no-edge", "tag:v1.1.1", ["type=edge", "type=ref,event=branch"], [], "", [], False),
    Case(
        "push-latest-true-raw",
        "push_dev",
        ["type=raw,value=foo"],
        ["latest=true"],
        "foo",
        ["foo", "latest"],
        True,
    ),
    Case(
        "push-sha-prefix-expression",
        "push_dev",
        ["type=sha,prefix={{branch}}-"],
        [],
        "dev-860c190",
        ["dev-860c190"],
        False,
    ),
    Case(
        "push-sha-long-no-prefix",
        "push_dev",
        ["type=sha,prefix=,format=long"],
        [],
        SHA_DEV,
        [SHA_DEV],
        False,
    ),
    Case(
        "push-flavor-prefix-not-on-sha",
        "push_dev",
        ["type=sha", "type=ref,event=branch"],
        ["prefix=x-"],
        "x-dev",
        ["x-dev", "sha-860c190"],
        False,
    ),
    Case(
        "push-priority-stable",
        "push_dev",
        [
            "type=sha,priority=1",
            "type=raw,value=b,priority=300",
            "type=raw,value=a,priority=300",
            "type=ref,event=branch",
        ],
        [],
        "dev",
        ["dev", "b", "a", "sha-860c190"],
        False,
    ),
    Case("push-edge-branch", "push_dev", ["type=edge,branch=dev"], [], "edge", ["edge"], False),
    Case(
        "push-branch-sanitized",
        "push_invalidchars",
        [],
        [],
        "my-feature-1245",
        ["my-feature-1245"],
        False,
    ),
    Case(
        "push-expression-escaped",
        "push_amp",
        ["type=ref,event=branch", "type=raw,value=x-{{branch}}", "type=raw,value=y-{{{branch}}}"],
        [],
        "feat-fix",
        ["feat-fix", "x-feat-amp-fix", "y-feat-fix"],
        False,
    ),
    Case(
        "push-leading-dash-dropped", "push_dev", ["type=raw,value=--foo"], [], "foo", ["foo"], False
    ),
    Case(
        "push-leading-dot-dropped",
        "push_dev",
        ["type=raw,value=.{{branch}}"],
        [],
        "dev",
        ["dev"],
        False,
    ),
    Case(
        "push-too-long-cut",
        "push_dev",
        ["type=raw,value=" + "a" * 200],
        [],
        "a" * 128,
        ["a" * 128],
        False,
    ),
    Case(
        "push-prefix-alone",
        "push_dev",
        ["type=raw,value={{tag}},prefix=p-"],
        [],
        "p-",
        ["p-"],
        False,
    ),
    Case(
        "push-comments-and-blanks",
        "push_dev",
        ["# the branch", "", "type=ref,event=branch"],
        [],
        "dev",
        ["dev"],
        False,
    ),
    Case(
        "push-block-entry",
        "push_dev",
        ["type=ref,event=branch\ntype=sha"],
        [],
        "dev",
        ["dev", "sha-860c190"],
        False,
    ),
    Case("push-quoted-comma", "push_dev", ['type=raw,"value=a,b"'], [], "a-b", ["a-b"], False),
    Case("push-bare-value", "push_dev", ["acustomtag"], [], "acustomtag", ["acustomtag"], False),
    Case(
        "push-not-default-branch",
        "push_dev",
        ["type=raw,nd,enable={{is_not_default_branch}}"],
        [],
        "nd",
        ["nd"],
        False,
    ),
    Case(
        "release-base-ref-empty", "release", ["type=raw,value=b{{base_ref}}"], [], "b", ["b"], False
    ),
    Case(
        "empty-everything",
        "empty",
        ["type=edge", "type=sha", "type=schedule", "type=semver,pattern={{version}}"],
        [],
        "",
        [],
        False,
    ),
]


@pytest.mark.parametrize("case", PORTED, ids=[case.id for case in PORTED])
def test_metadata_action_case(case: Case) -> None:
    meta = run(case)
    assert (meta.version, meta.tags, meta.latest) == (case.version, case.tags, case.latest)


@pytest.mark.parametrize("case", EXTRA, ids=[case.id for case in EXTRA])
def test_hoist_case(case: Case) -> None:
    meta = run(case)
    assert (meta.version, meta.tags, meta.latest) == (case.version, case.tags, case.latest)


def test_version_label_follows_main_tag() -> None:
    meta = run(Case("x", "tag:v1.1.1", ["type=semver,pattern={{major}}"], [], "", [], False))
    assert meta.labels["org.opencontainers.image.version"] == meta.version == "1"


def test_default_rules_are_metadata_actions() -> None:
    rules = parse_rules([])
    assert [rule.line for rule in rules] == [
        "type=schedule",
        "type=ref,event=branch",
        "type=ref,event=tag",
        "type=ref,event=pr",
    ]
    assert DEFAULT_PRIORITIES == {
        "schedule": 1000,
        "semver": 900,
        "pep440": 900,
        "match": 800,
        "edge": 700,
        "ref": 600,
        "raw": 200,
        "sha": 100,
    }


def test_short_sha_length_applies_to_sha_rule_and_expression() -> None:
    case = Case("x", "push_dev", ["type=sha", "type=raw,value=c-{{sha}}"], [], "", [], False)
    assert run(case, short_sha_length=12).tags == ["c-860c1904a1ce", "sha-860c1904a1ce"]


def test_commit_date_and_build_date_differ() -> None:
    context = Context(
        "push",
        "refs/heads/dev",
        SHA_DEV,
        commit_date=datetime(2019, 5, 6, 23, 0, tzinfo=timezone.utc),
    )
    rules = ["type=raw,value=c{{commit_date 'YYYYMMDD'}}", "type=raw,value=b{{date 'YYYYMMDD'}}"]
    assert compute_metadata(context, rules, now=FROZEN).tags == ["c20190506", "b20200110"]
    later = compute_metadata(context, ["type=raw,value={{commit_date 'MMDD' tz='Asia/Tokyo'}}"])
    assert later.tags == ["0507"]


def test_commit_date_falls_back_to_now() -> None:
    context = Context("push", "refs/heads/dev", SHA_DEV)
    meta = compute_metadata(context, ["type=raw,value={{commit_date 'YYYY'}}"], now=FROZEN)
    assert meta.tags == ["2020"]


def test_naive_now_is_utc() -> None:
    naive = FROZEN.replace(tzinfo=None)
    meta = compute_metadata(CONTEXTS["push_dev"], ["type=raw,{{date 'HHmm'}}"], now=naive)
    assert meta.tags == ["0030"]


def test_warnings_explain_skipped_rules() -> None:
    meta = run(
        Case(
            "x",
            "tag:sometag",
            [
                "type=semver,pattern={{version}}",
                "type=pep440,pattern={{version}}",
                "type=match,pattern=\\d",
            ],
            [],
            "",
            [],
            False,
        )
    )
    assert meta.tags == []
    assert meta.warnings == [
        "sometag is not a valid semver (https://semver.org/)",
        "sometag does not conform to PEP 440",
        "\\d does not match sometag",
    ]


def test_semver_match_that_fails_keeps_the_tag() -> None:
    case = Case(
        "x", "tag:v1.2.3", ['type=semver,pattern={{version}},"match=^p(\\d)"'], [], "", [], False
    )
    meta = run(case)
    assert meta.tags == ["1.2.3", "latest"]
    assert meta.warnings == ["^p(\\d) does not match v1.2.3"]


# --- rule parsing ----------------------------------------------------------------------------

# metadata-action's __tests__/tag.test.ts "parse" table: (line, (type, priority, attrs) | None)

PARSE = [
    (
        "type=schedule,enable=true,pattern={{date 'YYYYMMDD'}}",
        ("schedule", 1000, {"enable": "true", "pattern": "{{date 'YYYYMMDD'}}"}),
    ),
    (
        "type=schedule,enable=true,pattern={{date 'YYYYMMDD' tz='Asia/Tokyo'}}",
        ("schedule", 1000, {"enable": "true", "pattern": "{{date 'YYYYMMDD' tz='Asia/Tokyo'}}"}),
    ),
    (
        "type=semver,enable=true,pattern={{version}}",
        ("semver", 900, {"enable": "true", "pattern": "{{version}}", "value": "", "match": ""}),
    ),
    (
        "type=semver,priority=1,enable=true,pattern={{version}}",
        ("semver", 1, {"enable": "true", "pattern": "{{version}}", "value": "", "match": ""}),
    ),
    (
        "type=semver,priority=1,enable=true,pattern={{version}},value=v1.0.0",
        ("semver", 1, {"enable": "true", "pattern": "{{version}}", "value": "v1.0.0", "match": ""}),
    ),
    (
        'type=semver,priority=1,enable=true,pattern={{version}},value=p1/v1.0.0,"match=v(\\d.\\d.\\d)$"',
        (
            "semver",
            1,
            {
                "enable": "true",
                "pattern": "{{version}}",
                "value": "p1/v1.0.0",
                "match": "v(\\d.\\d.\\d)$",
            },
        ),
    ),
    (
        "type=match,enable=true,pattern=v(.*),group=1",
        ("match", 800, {"enable": "true", "pattern": "v(.*)", "group": "1", "value": ""}),
    ),
    (
        'type=match,enable=true,"pattern=^v(\\d.\\d.\\d)$",group=1',
        (
            "match",
            800,
            {"enable": "true", "pattern": "^v(\\d.\\d.\\d)$", "group": "1", "value": ""},
        ),
    ),
    (
        "type=match,priority=700,enable=true,pattern=v(.*),group=1",
        ("match", 700, {"enable": "true", "pattern": "v(.*)", "group": "1", "value": ""}),
    ),
    (
        "type=match,enable=true,pattern=v(.*),group=1,value=v1.2.3",
        ("match", 800, {"enable": "true", "pattern": "v(.*)", "group": "1", "value": "v1.2.3"}),
    ),
    ("type=match,enable=true,pattern=v(.*),group=foo", None),
    ("type=edge", ("edge", 700, {"enable": "true", "branch": ""})),
    ("type=edge,enable=true,branch=master", ("edge", 700, {"enable": "true", "branch": "master"})),
    ("type=ref,event=tag", ("ref", 600, {"enable": "true", "event": "tag"})),
    ("type=ref,event=branch", ("ref", 600, {"enable": "true", "event": "branch"})),
    ("type=ref,event=pr", ("ref", 600, {"enable": "true", "prefix": "pr-", "event": "pr"})),
    ("type=ref,event=foo", None),
    ("type=ref", None),
    ("acustomtag", ("raw", 200, {"enable": "true", "value": "acustomtag"})),
    ("type=raw", None),
    ("type=raw,value=acustomtag2", ("raw", 200, {"enable": "true", "value": "acustomtag2"})),
    (
        "type=raw,enable=true,value=acustomtag4",
        ("raw", 200, {"enable": "true", "value": "acustomtag4"}),
    ),
    (
        "type=raw,enable=false,value=acustomtag5",
        ("raw", 200, {"enable": "false", "value": "acustomtag5"}),
    ),
    ("type=sha", ("sha", 100, {"enable": "true", "prefix": "sha-", "format": "short"})),
    ("type=sha,format=long", ("sha", 100, {"enable": "true", "prefix": "sha-", "format": "long"})),
    ("type=sha,prefix=", ("sha", 100, {"enable": "true", "prefix": "", "format": "short"})),
    (
        "type=sha,enable=false",
        ("sha", 100, {"enable": "false", "prefix": "sha-", "format": "short"}),
    ),
    ("type=semver", None),
    ("type=match", None),
    ("type=foo", None),
    ("type=sha,format=foo", None),
]


@pytest.mark.parametrize(("line", "expected"), PARSE, ids=[line for line, _ in PARSE])
def test_parse_rule(line: str, expected: tuple[str, int, dict[str, str]] | None) -> None:
    if expected is None:
        with pytest.raises(ConfigError) as error:
            parse_rules([line])
        assert repr(line) in str(error.value)
        return
    (rule,) = parse_rules([line])
    attrs = {key: value for key, value in rule.attrs.items() if key != "priority"}
    assert (rule.type, rule.priority, attrs) == expected


BAD_RULES = [
    ("type=sha,pattern=x", "unknown attribute 'pattern'"),
    ("type=raw,value=a,value=b", "given twice"),
    ("type=raw,a,priority=high", "priority must be an integer"),
    ("type=semver,pattern={{versoin}}", "unknown expression {{versoin}}"),
    ("type=semver,pattern={{sha}}", "unknown expression {{sha}}"),
    ("type=raw,value={{date}}", "takes 1 argument"),
    ("type=raw,value={{date 'YYYY' zone='UTC'}}", "unknown zone attribute"),
    ("type=schedule,pattern={{date 'YYYY' tz='Mars/Base'}}", "unknown time zone"),
    ("type=schedule,pattern={{date 'yyyy'}}", "not supported"),
    ("type=raw,value={{branch", "unclosed"),
    ("type=raw,value={{#if branch}}x{{/if}}", "unsupported expression"),
    ("type=match,pattern=(", "missing )"),
    ("type=match,pattern=/x/q", "unsupported regular expression flag"),
    ('type=semver,pattern={{version}},"match=(["', "unterminated character set"),
    ('type=raw,va"lue=x', "unexpected quote"),
    ('type=raw,"value=x', "unclosed quote"),
    ('type=raw,"value=x"y', "closing quote"),
    ("Type=Semver,pattern={{version}}", "unknown tag type 'Semver'"),
]


@pytest.mark.parametrize(("line", "problem"), BAD_RULES, ids=[line for line, _ in BAD_RULES])
def test_bad_rule_is_config_error_naming_it(line: str, problem: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_rules([line], source="pipeline.yaml: metadata.tags")
    assert problem in str(error.value)
    assert repr(line) in str(error.value)
    assert error.value.exit_code == 2


def test_enable_must_render_true_or_false() -> None:
    with pytest.raises(ConfigError, match="enable must be true or false, got 'yes'"):
        compute_metadata(CONTEXTS["push_dev"], ["type=raw,a,enable=yes"])


def test_rules_keep_written_order_within_a_priority() -> None:
    rules = parse_rules(["type=raw,a", "type=sha", "type=raw,b", "type=edge"])
    assert [rule.line for rule in rules] == ["type=edge", "type=raw,a", "type=raw,b", "type=sha"]


def test_attribute_keys_are_case_insensitive() -> None:
    (rule,) = parse_rules(["TYPE=sha,Format=long"])
    assert (rule.type, rule.attrs["format"]) == ("sha", "long")


# --- flavor ----------------------------------------------------------------------------------

# metadata-action's __tests__/flavor.test.ts table: (lines, Flavor | None when invalid)
FLAVORS: list[tuple[list[str], Flavor | None]] = [
    (["randomstr", "latest=auto"], None),
    (["unknwown=foo"], None),
    (["latest"], None),
    (["latest=true"], Flavor(latest="true")),
    (["latest=false"], Flavor(latest="false")),
    (["latest=auto"], Flavor(latest="auto")),
    (["latest=foo"], None),
    (["prefix=sha-"], Flavor(prefix="sha-")),
    (["suffix=-alpine"], Flavor(suffix="-alpine")),
    (["latest=false", "prefix=dev-", "suffix=-alpine"], Flavor("false", "dev-", False, "-alpine")),
    (["prefix=dev-,onlatest=true"], Flavor(prefix="dev-", prefix_latest=True)),
    (["suffix=-alpine,onlatest=true"], Flavor(suffix="-alpine", suffix_latest=True)),
    (
        ["prefix=dev-,onlatest=true", "suffix=-alpine,onlatest=true"],
        Flavor(prefix="dev-", prefix_latest=True, suffix="-alpine", suffix_latest=True),
    ),
    (["prefix= "], Flavor()),
    (["prefix=a,onlatest=maybe"], None),
    (["prefix={{nope}}"], None),
]


@pytest.mark.parametrize(("lines", "expected"), FLAVORS, ids=[",".join(x) for x, _ in FLAVORS])
def test_parse_flavor(lines: list[str], expected: Flavor | None) -> None:
    if expected is None:
        with pytest.raises(ConfigError):
            parse_flavor(lines)
    else:
        assert parse_flavor(lines) == expected


def test_flavor_affix_expressions_apply_to_latest() -> None:
    meta = compute_metadata(
        context_for("tag:v1.1.1"),
        ["type=ref,event=tag"],
        ["suffix=-{{sha}},onlatest=true"],
    )
    assert meta.tags == ["v1.1.1-860c190", "latest-860c190"]


# --- labels ----------------------------------------------------------------------------------

OCI = "org.opencontainers.image"


def test_labels_are_metadata_actions_defaults() -> None:
    meta = run(Case("push01", "push_dev", [], [], "", [], False))
    assert list(meta.labels.items()) == [
        (f"{OCI}.created", "2020-01-10T00:30:00.000Z"),
        (f"{OCI}.description", "This your first repo!"),
        (f"{OCI}.licenses", "MIT"),
        (f"{OCI}.revision", SHA_DEV),
        (f"{OCI}.source", "https://github.com/octocat/Hello-World"),
        (f"{OCI}.title", "Hello-World"),
        (f"{OCI}.url", "https://github.com/octocat/Hello-World"),
        (f"{OCI}.version", "dev"),
    ]


def test_labels_without_tags_or_sha_are_empty_not_missing() -> None:
    meta = run(Case("null01", "empty", [], [], "", [], False))
    assert meta.labels[f"{OCI}.revision"] == ""
    assert meta.labels[f"{OCI}.version"] == ""


def test_user_labels_override_and_sort() -> None:
    """metadata-action's latest09 and json07 cases."""
    labels = {
        "maintainer": "CrazyMax",
        f"{OCI}.description": 'this is a "good" example',
        f"{OCI}.title": "MyCustom=Title",
        f"{OCI}.vendor": "MyCompany",
        "foo": "",
    }
    case = Case("latest09", "tag:v1.1.1", ["type=ref,event=tag"], ["latest=false"], "", [], False)
    meta = run(case, labels=labels)
    assert list(meta.labels.items()) == [
        ("foo", ""),
        ("maintainer", "CrazyMax"),
        (f"{OCI}.created", "2020-01-10T00:30:00.000Z"),
        (f"{OCI}.description", 'this is a "good" example'),
        (f"{OCI}.licenses", "MIT"),
        (f"{OCI}.revision", SHA_DEV),
        (f"{OCI}.source", "https://github.com/octocat/Hello-World"),
        (f"{OCI}.title", "MyCustom=Title"),
        (f"{OCI}.url", "https://github.com/octocat/Hello-World"),
        (f"{OCI}.vendor", "MyCompany"),
        (f"{OCI}.version", "v1.1.1"),
    ]


def test_label_values_take_expressions() -> None:
    """metadata-action's push21: the created label pinned to the commit date."""
    labels = {f"{OCI}.created": "{{commit_date 'YYYY-MM-DDTHH:mm:ss.SSS[Z]'}}", "ref": "{{branch}}"}
    context = CONTEXTS["push_master"]
    meta = compute_metadata(context, labels=labels, now=FROZEN + timedelta(days=3))
    assert meta.labels[f"{OCI}.created"] == "2020-01-10T00:30:00.000Z"
    assert meta.labels["ref"] == "master"


def test_bad_label_expression_names_the_label() -> None:
    with pytest.raises(ConfigError, match="metadata.labels: build: unknown expression"):
        compute_metadata(CONTEXTS["push_dev"], labels={"build": "{{nope}}"})


def test_repo_info_falls_back_to_context_url() -> None:
    context = Context(
        "push", "refs/heads/dev", SHA_DEV, repository_url="https://github.com/acme/shop"
    )
    labels = compute_metadata(context, now=FROZEN).labels
    assert labels[f"{OCI}.url"] == labels[f"{OCI}.source"] == "https://github.com/acme/shop"
    assert labels[f"{OCI}.title"] == "shop"
    explicit = RepoInfo(name="Shop", url="https://shop.example", source="https://git.example/shop")
    labels = compute_metadata(context, repo=explicit, now=FROZEN).labels
    assert (labels[f"{OCI}.title"], labels[f"{OCI}.url"], labels[f"{OCI}.source"]) == (
        "Shop",
        "https://shop.example",
        "https://git.example/shop",
    )


def test_created_label_is_utc_with_milliseconds() -> None:
    tokyo = datetime(2020, 1, 10, 9, 30, 0, 123456, tzinfo=timezone(timedelta(hours=9)))
    meta = compute_metadata(CONTEXTS["push_dev"], now=tokyo)
    assert meta.labels[f"{OCI}.created"] == "2020-01-10T00:30:00.123Z"


# --- image references ------------------------------------------------------------------------


def test_image_references_image_by_image() -> None:
    """metadata-action's push07 and latest08 (image names are lower-cased)."""
    refs = image_references(["org/app", "ghcr.io/MyUSER/MyApp", "org/app"], ["dev", "sha-860c190"])
    assert refs == [
        "org/app:dev",
        "org/app:sha-860c190",
        "ghcr.io/myuser/myapp:dev",
        "ghcr.io/myuser/myapp:sha-860c190",
    ]


def test_image_references_keep_registry_port_and_allow_no_tags() -> None:
    assert image_references(["localhost:5000/app"], ["1.0"]) == ["localhost:5000/app:1.0"]
    assert image_references(["org/app"], []) == []


@pytest.mark.parametrize("image", ["org/app:1.0", "org/app@sha256:abc", " "])
def test_image_references_refuse_tagged_names(image: str) -> None:
    with pytest.raises(ConfigError, match="without a tag or digest"):
        image_references([image], ["dev"])


def test_image_references_of_images_input_with_a_disabled_image() -> None:
    """metadata-action's push20: ``images: [org/app, 'ghcr.io/user/app,enable=false']``."""
    case = next(c for c in PORTED if c.id == "push20")
    images = parse_images(["org/app", "ghcr.io/user/app,enable=false"])

    refs = image_references([i.name for i in images if i.enable], run(case).tags)

    assert refs == ["org/app:sha-860c1904a1ce19322e91ac35af1ab07466440c37"]


def test_image_references_without_any_image_are_the_bare_tags() -> None:
    """metadata-action's getTags: no (enabled) image, the tags alone."""
    assert image_references([], ["dev", "sha-860c190"]) == ["dev", "sha-860c190"]


# --- sanitising, versions, templates, dates --------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("my/feature#1245", "my-feature-1245"),
        ("a  b//c", "a-b-c"),
        ("v1.2.3_rc", "v1.2.3_rc"),
        ("-.x", "x"),
        ("_x", "_x"),
        ("é", ""),
        ("x" * 130, "x" * 128),
    ],
)
def test_sanitize_tag(value: str, expected: str) -> None:
    assert sanitize_tag(value) == expected


SEMVERS = [
    ("1.2.3", "1.2.3"),
    ("v1.2.3", "1.2.3"),
    (" v1.2.3 ", "1.2.3"),
    ("1.2.3-0beta", "1.2.3-0beta"),
    ("2.0.8-beta.67", "2.0.8-beta.67"),
    ("1.2.3-rc.1+build.9", "1.2.3-rc.1"),
    ("1.2.3+build", "1.2.3"),
    ("V1.2.3", None),
    ("=1.2.3", None),
    ("1.2", None),
    ("01.2.3", None),
    ("1.2.3-beta.01", None),
    ("1.2.3.4", None),
    ("1.2.3-", None),
    ("9007199254740992.0.0", None),
    ("sometag", None),
]


@pytest.mark.parametrize(("text", "version"), SEMVERS)
def test_parse_semver(text: str, version: str | None) -> None:
    parsed = parse_semver(text)
    assert (parsed.version if parsed else None) == version


PEP440S = [
    ("1.0", "1.0", False),
    ("v1.0", "1.0", False),
    ("01.002", "1.2", False),
    ("1.0a1", "1.0a1", True),
    ("1.0alpha1", "1.0a1", True),
    ("1.0-beta.2", "1.0b2", True),
    ("1.0c1", "1.0rc1", True),
    ("1.0.preview3", "1.0rc3", True),
    ("1.0RC", "1.0rc0", True),
    ("1.0post", "1.0.post0", True),
    ("1.0-r2", "1.0.post2", True),
    ("1.0rev1", "1.0.post1", True),
    ("1.0-1", "1.0.post1", True),
    ("1.0.dev", "1.0.dev0", True),
    ("1.0a1.post2.dev3", "1.0a1.post2.dev3", True),
    ("2!1.0", "2!1.0", False),
    ("1.0+Ubuntu-01", "1.0+ubuntu.1", False),
    ("2.0.8-beta.67", "2.0.8b67", True),
    ("sometag", None, False),
    ("release1", None, False),
    ("1.0-", None, False),
    ("1..0", None, False),
    ("1.0+", None, False),
    ("1.0 foo", None, False),
    (" 1.0", None, False),  # packaging strips blanks; metadata-action's pep440.valid refuses them
    ("1.0\n", None, False),
]


@pytest.mark.parametrize(("text", "normalized", "special"), PEP440S)
def test_parse_pep440(text: str, normalized: str | None, special: bool) -> None:
    parsed = parse_pep440(text)
    assert (parsed.normalized if parsed else None) == normalized
    assert (parsed.is_special if parsed else False) == special


# metadata-action's isRawStatement table
@pytest.mark.parametrize(
    ("pattern", "raw"),
    [
        ("{{ raw }}.{{ version }}", False),
        ("{{ raw }}", True),
        ("{{ raw}}", True),
        ("{{raw}}", True),
    ],
)
def test_raw_statement(pattern: str, raw: bool) -> None:
    assert compile_template(pattern, SEMVER_NAMES).is_raw_statement is raw


def test_unclosed_pattern_is_an_error() -> None:
    with pytest.raises(TemplateError):
        compile_template("{{ version }},{{raw }.", SEMVER_NAMES)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("{{branch}}-{{ sha }}", "feat&amp;fix-860c190"),
        ("{{{branch}}}", "feat&fix"),
        ("a{{! a comment }}b", "ab"),
        ("\\{{branch}}", "{{branch}}"),
        ("{{date 'YYYY' tz=\"Asia/Tokyo\"}}", "2020"),
        ('{{date "[it\'s] YYYY"}}', "it&#x27;s 2020"),
    ],
)
def test_template_rendering(text: str, expected: str) -> None:
    meta = compute_metadata(CONTEXTS["push_amp"], labels={"x": text}, now=FROZEN)
    assert meta.labels["x"] == expected


def test_template_knows_global_names() -> None:
    assert set(GLOBAL_NAMES) == {
        "branch",
        "tag",
        "sha",
        "base_ref",
        "is_default_branch",
        "is_not_default_branch",
        "date",
        "commit_date",
    }


TOKYO = ZoneInfo("Asia/Tokyo")
MOMENTS = [
    (FROZEN, "YYYYMMDD", "20200110"),
    (FROZEN, "YYYYMMDD-HHmmss", "20200110-003000"),
    (FROZEN, "dddd, MMMM Do YYYY, h:mm:ss a", "Friday, January 10th 2020, 12:30:00 am"),
    (FROZEN, "YYYY-MM-DDTHH:mm:ss.SSS[Z]", "2020-01-10T00:30:00.000Z"),
    (FROZEN, None, "2020-01-10T00:30:00Z"),
    (FROZEN.astimezone(TOKYO), None, "2020-01-10T09:30:00+09:00"),
    (FROZEN.astimezone(TOKYO), "YYYYMMDD-HHmmss Z ZZ z", "20200110-093000 +09:00 +0900 JST"),
    (FROZEN, "X x", "1578616200 1578616200000"),
    (FROZEN, "Q Qo DDD DDDo DDDD", "1 1st 10 10th 010"),
    (FROZEN, "W WW Wo w ww wo E e d do dd ddd", "2 02 2nd 2 02 2nd 5 5 5 5th Fr Fri"),
    (FROZEN, "k kk h hh A Hmm hmm Hmmss", "24 24 12 12 AM 030 1230 03000"),
    (FROZEN, "M Mo MM MMM YY Y", "1 1st 01 Jan 20 2020"),
    (FROZEN, "[Week] w, \\YYYY", "Week 2, YYYY"),
    (FROZEN, "LT, LL, l", "12:30 AM, January 10, 2020, 1/10/2020"),
    (FROZEN.replace(microsecond=456789), "S SS SSS SSSS", "4 45 456 4560"),
    (datetime(2021, 1, 1, tzinfo=timezone.utc), "gggg-ww GGGG-WW", "2021-01 2020-53"),
    (datetime(2020, 1, 11, 13, 5, tzinfo=timezone.utc), "Do D dd h a", "11th 11 Sa 1 pm"),
    (datetime(2020, 1, 22, tzinfo=timezone.utc), "Do", "22nd"),
    (datetime(2020, 1, 3, tzinfo=timezone.utc), "Do", "3rd"),
]


@pytest.mark.parametrize(("moment", "fmt", "expected"), MOMENTS, ids=[m[2] for m in MOMENTS])
def test_moment_format(moment: datetime, fmt: str | None, expected: str) -> None:
    assert format_moment(moment, fmt) == expected
