"""The push engine's decisions that need no engine: error classes, stream reading, token
refresh, secret scrubbing, and refusing two targets that would push to the same place."""

from __future__ import annotations

import time

import pytest

import pipeline.push.target as push
from pipeline.errors import PipelineError, RegistryError
from pipeline.push.registries.base import TargetConfig
from pipeline.push.registries.kinds import Credentials, resolve_target
from pipeline.push.registries.retry import RetryPolicy
from pipeline.push.stage import push_all
from pipeline.push.stream import classify_error, read_push_stream


@pytest.mark.parametrize(
    ("message", "transient"),
    [
        ("unauthorized: authentication required", False),
        ("denied: requested access to the resource is denied", False),
        ("name unknown: The repository with name 'app' does not exist", False),
        ("tls: failed to verify certificate: x509: certificate signed by unknown authority", False),
        ('Get "https://r/v2/": http: server gave HTTP response to HTTPS client', False),
        ("received unexpected HTTP status: 503 Service Unavailable", True),
        ("toomanyrequests: too many requests", True),
        ("read tcp 127.0.0.1:1->127.0.0.1:2: read: connection reset by peer", True),
        ("dial tcp 127.0.0.1:1: connect: connection refused", True),
        ("net/http: TLS handshake timeout", True),
    ],
)
def test_classify_error(message: str, transient: bool) -> None:
    error = classify_error("t", message)
    assert error.transient is transient
    assert str(error).startswith(f"t: {message}")


def test_read_push_stream_follows_layers_and_raises_errors() -> None:
    lines: list[str] = []
    stream = [
        {"status": "The push refers to repository [r/app]"},
        {"id": "abc", "status": "Preparing"},
        {"id": "abc", "status": "Pushing", "progressDetail": {"current": 1, "total": 2}},
        {"id": "abc", "status": "Pushed"},
        {"id": "def", "status": "Mounted from other/app"},
        {"status": "1.0: digest: sha256:1 size: 528"},
        {"aux": {"Tag": "1.0", "Digest": "sha256:1", "Size": 528}},
    ]
    assert read_push_stream("t", stream, lines.append) == "sha256:1"
    assert lines == ["[t] abc: Pushed", "[t] def: Mounted from other/app"]
    with pytest.raises(RegistryError, match="t: denied: no") as caught:
        read_push_stream("t", [{"errorDetail": {"message": "denied: no"}, "error": "x"}], print)
    assert not caught.value.transient


def _target(name: str = "ghcr", endpoint: str | None = None):  # type: ignore[no-untyped-def]
    config = TargetConfig("ghcr", name, "ghcr.io/acme/app", endpoint)
    return resolve_target(config, "app", {})


def test_expired_tokens_are_fetched_again(monkeypatch: pytest.MonkeyPatch) -> None:
    fetched: list[Credentials] = []

    def fetch(target: object, environ: object) -> Credentials:
        fetched.append(Credentials("AWS", f"token-{len(fetched)}", expires_at=time.time() - 1))
        return fetched[-1]

    monkeypatch.setattr(push, "target_credentials", fetch)
    lines: list[str] = []
    one = push.TargetPush(None, _target(), {}, lines.append, RetryPolicy())  # type: ignore[arg-type]
    assert one._current_credentials().password == "token-0"  # type: ignore[union-attr]
    assert one._current_credentials().password == "token-1"  # type: ignore[union-attr]
    assert lines == ["[ghcr] credentials expired; fetching new ones"]


def test_fresh_tokens_are_fetched_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def fetch(target: object, environ: object) -> Credentials:
        calls.append(1)
        return Credentials("u", "p4ssword", expires_at=time.time() + 3600)

    monkeypatch.setattr(push, "target_credentials", fetch)
    one = push.TargetPush(None, _target(), {}, print, RetryPolicy())  # type: ignore[arg-type]
    one._current_credentials()
    one._current_credentials()
    assert len(calls) == 1


def test_two_targets_pushing_to_the_same_place_are_refused() -> None:
    first, second = _target("a", "127.0.0.1:5000"), _target("b", "127.0.0.1:5000")
    with pytest.raises(PipelineError, match="targets a and b both push to 127.0.0.1:5000/acme/app"):
        push_all(None, "sha256:x", [first, second], ["1"], {}, print)  # type: ignore[arg-type]
    with pytest.raises(PipelineError, match="no tags"):
        push_all(None, "sha256:x", [first], [], {}, print)  # type: ignore[arg-type]


def test_skopeo_gets_credentials_through_memory_files_not_argv(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import json
    import subprocess
    from pathlib import Path

    from pipeline.push.registries import skopeo

    seen: dict[str, object] = {}

    def fake_run(command: list[str], pass_fds: tuple[int, ...], **kw: object):  # type: ignore[no-untyped-def]
        seen["argv"] = command
        seen["auth"] = [json.loads(Path(f"/proc/self/fd/{fd}").read_text()) for fd in pass_fds]
        Path(command[command.index("--digestfile") + 1]).write_text("sha256:d")
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(subprocess, "run", fake_run)
    source = _target("src", "127.0.0.1:5000")
    dest = resolve_target(TargetConfig("dockerhub", "hub", "acme/app"), "app", {})
    written = skopeo.copy(
        source,
        Credentials("u", "src-secret"),
        "sha256:d",
        dest,
        Credentials("v", "dst-secret"),
        "1",
    )
    assert written == "sha256:d"
    argv = " ".join(seen["argv"])  # type: ignore[arg-type]
    assert "secret" not in argv
    assert "--src-tls-verify=false" in argv and "--dest-tls-verify=true" in argv
    assert "docker://127.0.0.1:5000/acme/app@sha256:d docker://docker.io/acme/app:1" in argv
    hub_auth = seen["auth"][1]["auths"]["https://index.docker.io/v1/"]["auth"]  # type: ignore[index]
    assert hub_auth == "djpkc3Qtc2VjcmV0"  # base64("v:dst-secret")


def test_skopeo_fatal_line_is_the_message() -> None:
    from pipeline.push.registries.skopeo import _fatal_line

    stderr = (
        'time="x" level=warning msg="ignored"\n'
        'time="y" level=fatal msg="initializing: pinging 127.0.0.1:1: Get \\"http://127.0.0.1:1/'
        'v2/\\": dial tcp 127.0.0.1:1: connect: connection refused"\n'
    )
    message = _fatal_line(stderr)
    assert message.endswith("connect: connection refused") and '"http://127.0.0.1:1/v2/"' in message
    assert classify_error("t", message).transient
