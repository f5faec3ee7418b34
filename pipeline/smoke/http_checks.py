"""HTTP checks against a running service: what ``smoke.checks`` (and deploy's health section) ask,
parsed, sent and compared — status, body, JSON fields, headers, latency — with one line saying
what came back when it is not what was expected."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from pipeline.config.fields import Fields, kind_of
from pipeline.http_failures import no_answer_reason
from pipeline.smoke.verdicts import CheckFailed, clip

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


REQUEST_TIMEOUT = 10.0


LATENCY_ATTEMPTS = 3  # a cold first request must not fail a latency limit the service meets


BODY_READ_BYTES = 4096  # of a readiness answer's body: enough for the message and the diff


EXCERPT_CHARS = 80  # of a body or health output in the one-line failure message


_CHECK_KEYS = (
    "name", "method", "path", "headers", "body", "expect_status", "expect_body", "expect_json",
    "expect_headers", "max_latency_ms",
)  # fmt: skip


@dataclass(frozen=True)
class HttpCheck:
    name: str
    method: str = "GET"
    path: str = "/"
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    expect_status: int = 200
    expect_body: str | None = None
    expect_json: dict[str, Any] = field(default_factory=dict)
    expect_headers: dict[str, str] = field(default_factory=dict)
    max_latency_ms: int | None = None

    @classmethod
    def get(cls, path: str, expect_status: int, expect_body: str | None) -> HttpCheck:
        """The plain ``GET path`` check both smoke (``smoke.path``) and deploy (``health``)
        start with."""
        return cls(
            name=f"GET {path}", path=path, expect_status=expect_status, expect_body=expect_body
        )


def parse_checks(smoke: Fields) -> list[HttpCheck]:
    """``smoke.checks``: a list of requests and what their answers must look like."""

    raw = smoke.data.get("checks")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise smoke.error("checks", f"expected a list of requests, got {kind_of(raw)}")
    checks: list[HttpCheck] = []
    for i, item in enumerate(raw):
        f = Fields(smoke.source, smoke.where(f"checks[{i}]"), item, _CHECK_KEYS)
        check = _check(f)
        if any(c.name == check.name for c in checks):
            raise f.error("name", f"duplicate check name {check.name!r}")
        checks.append(check)
    return checks


def _check(f: Fields) -> HttpCheck:

    method = (f.text("method", "GET") or "GET").upper()
    if method not in METHODS:
        raise f.error("method", f"{method!r} is not one of {', '.join(METHODS)}")
    path = f.text("path", required=True)
    assert path is not None
    if not path.startswith("/"):
        raise f.error("path", f"{path!r} must start with /")
    body = f.data.get("body")
    headers = f.str_map("headers")
    if isinstance(body, (Mapping, list)):  # structured body: sent as JSON
        body = json.dumps(body)
        headers = {"Content-Type": "application/json", **headers}
    elif body is not None:
        body = f.text("body")
    expect_json = f.data.get("expect_json") or {}
    if not isinstance(expect_json, Mapping) or not all(isinstance(k, str) for k in expect_json):
        problem = f"expected a mapping of dotted paths to values, got {kind_of(expect_json)}"
        raise f.error("expect_json", problem)
    expect_headers = f.str_map("expect_headers")
    patterns = {"expect_body": f.text("expect_body")}
    patterns.update({f"expect_headers.{name}": p for name, p in expect_headers.items()})
    for key, pattern in patterns.items():
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise f.error(key, f"invalid regular expression: {exc}") from None
    latency = None
    if f.data.get("max_latency_ms") is not None:
        latency = f.integer("max_latency_ms", 0, low=1, high=600_000)
    return HttpCheck(
        name=f.text("name") or f"{method} {path}",
        method=method,
        path=path,
        headers=headers,
        body=body,
        expect_status=f.integer("expect_status", 200, low=100, high=599),
        expect_body=f.text("expect_body"),
        expect_json=dict(expect_json),
        expect_headers=expect_headers,
        max_latency_ms=latency,
    )


def http_check(base_url: str, check: HttpCheck) -> str:
    """Send the request and compare; raises ``CheckFailed`` naming the first mismatch."""
    attempts = LATENCY_ATTEMPTS if check.max_latency_ms and check.method in ("GET", "HEAD") else 1
    best: tuple[float, requests.Response] | None = None
    for _ in range(attempts):
        started = time.monotonic()
        try:
            response = requests.request(
                check.method,
                base_url + check.path,
                headers=check.headers,
                data=check.body,
                timeout=REQUEST_TIMEOUT,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise CheckFailed(
                f"{check.method} {check.path} failed: {no_answer_reason(exc)}"
            ) from None
        elapsed = (time.monotonic() - started) * 1000
        if best is None or elapsed < best[0]:
            best = (elapsed, response)
        if not check.max_latency_ms or elapsed <= check.max_latency_ms:
            break
    assert best is not None
    elapsed, response = best
    _compare(check, response)
    if check.max_latency_ms and elapsed > check.max_latency_ms:
        raise CheckFailed(
            f"{check.method} {check.path} took {elapsed:.0f} ms, over max_latency_ms "
            f"{check.max_latency_ms} (best of {attempts})",
            f"<= {check.max_latency_ms} ms",
            f"{elapsed:.0f} ms",
        )
    return f"{response.status_code} in {elapsed:.0f} ms"


def _compare(check: HttpCheck, response: Any) -> None:
    request = f"{check.method} {check.path}"
    text = response.text
    if response.status_code != check.expect_status:
        raise CheckFailed(
            f"{request} returned {response.status_code}, expected {check.expect_status}",
            f"status {check.expect_status}",
            f"status {response.status_code}: {clip(text, 300)}",
        )
    for name, pattern in check.expect_headers.items():
        value = response.headers.get(name)
        if value is None or not re.search(pattern, value):
            raise CheckFailed(
                f"{request} header {name} is {value!r}, expected /{pattern}/",
                f"{name}: /{pattern}/",
                f"{name}: {value}" if value is not None else f"no {name} header",
            )
    if check.expect_body is not None and not re.search(check.expect_body, text):
        raise CheckFailed(
            f"{request} body does not match {check.expect_body!r}", f"/{check.expect_body}/", text
        )
    if check.expect_json:
        try:
            document = json.loads(text)
        except ValueError:
            shown = clip(text, 300)
            raise CheckFailed(f"{request} body is not JSON", "a JSON body", shown) from None
        for dotted, expected in check.expect_json.items():
            found, actual = json_field(document, dotted)
            if not found or not _same_json(expected, actual):
                got = json.dumps(actual) if found else "missing"
                raise CheckFailed(
                    f"{request} JSON field {dotted} is {got}, expected {json.dumps(expected)}",
                    f"{dotted} = {json.dumps(expected)}",
                    f"{dotted} = {got}",
                )


def json_field(document: Any, dotted: str) -> tuple[bool, Any]:
    """``a.b[0].c`` or ``a.b.0.c`` inside a decoded JSON document; (found, value)."""
    value = document
    for part in re.findall(r"[^.\[\]]+", dotted):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and _index(part, len(value)) is not None:
            value = value[int(part)]
        else:
            return False, None
    return True, value


def _index(part: str, length: int) -> int | None:
    """``part`` as a list index valid for ``length`` items (negative counts from the end)."""
    if not part.lstrip("-").isdigit():
        return None
    index = int(part)
    return index if -length <= index < length else None


def _same_json(expected: Any, actual: Any) -> bool:
    """Equal, but ``true`` is not ``1`` (Python would say it is)."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    return bool(expected == actual)


def one_line(text: str, limit: int = EXCERPT_CHARS, *, keep_end: bool = False) -> str:
    """``text`` on one line, whitespace collapsed, cut to ``limit`` characters with ``...``.

    The start of an HTTP body says what it is; the end of a command's output says what failed.
    """
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return "..." + flat[-(limit - 3) :] if keep_end else flat[: limit - 3] + "..."


def quoted(excerpt: str, empty: str) -> str:
    """An excerpt in quotes with control characters escaped (repr), or ``empty``."""
    return repr(excerpt) if excerpt else empty
