"""Reading docker's push stream: progress shown, digest found, error lines raised.

docker-py does not raise on registry errors during a push (docker-py issue 3161); they arrive
as ``{"error": ...}`` lines. These streams are shaped like the engine's real output.
"""

from __future__ import annotations

import pytest

from pipeline.errors import RegistryError
from pipeline.push.stream import classify_error, read_push_stream

DIGEST = "sha256:" + "ab" * 32


def test_digest_and_layer_progress() -> None:
    lines: list[str] = []
    stream = [
        {"status": "The push refers to repository [127.0.0.1:5000/app]"},
        {"status": "Preparing", "progressDetail": {}, "id": "f4587a0efce6"},
        {"status": "Pushing", "progressDetail": {"current": 512}, "id": "f4587a0efce6"},
        {"status": "Pushing", "progressDetail": {"current": 2048}, "id": "f4587a0efce6"},
        {"status": "Pushed", "progressDetail": {}, "id": "f4587a0efce6"},
        {"status": "Layer already exists", "progressDetail": {}, "id": "29b1dabea353"},
        {"status": f"dev: digest: {DIGEST} size: 1154"},
        {"progressDetail": {}, "aux": {"Tag": "dev", "Digest": DIGEST, "Size": 1154}},
    ]  # fmt: skip
    assert read_push_stream("local", stream, lines.append) == DIGEST
    assert lines == ["[local] f4587a0efce6: Pushed", "[local] 29b1dabea353: Layer already exists"]


@pytest.mark.parametrize(
    ("message", "transient"),
    [
        ("unauthorized: authentication required", False),
        ("denied: requested access to the resource is denied", False),
        ("name invalid: repository name not known to registry", False),
        ("received unexpected HTTP status: 503 Service Unavailable", True),
        ("Put http://127.0.0.1:5000/v2/app/blobs/uploads/x: EOF", True),
        ("dial tcp 127.0.0.1:5000: connect: connection refused", True),
        ("toomanyrequests: too many requests", True),
    ],
)
def test_error_line_raises_classified(message: str, transient: bool) -> None:
    stream = [
        {"status": "Preparing", "id": "f4587a0efce6"},
        {"errorDetail": {"message": message}, "error": message},
    ]
    with pytest.raises(RegistryError) as caught:
        read_push_stream("ghcr", stream, lambda line: None)
    assert caught.value.transient is transient
    assert str(caught.value).startswith(f"ghcr: {message}")


def test_stream_without_digest_returns_none() -> None:
    assert read_push_stream("local", [{"status": "Preparing", "id": "a"}], lambda _: None) is None


def test_permanent_errors_carry_a_hint() -> None:
    error = classify_error(
        "quay", "unauthorized: access to the requested resource is not authorized"
    )
    assert not error.transient
    assert error.hint and "credentials" in error.hint
