"""Fan-out's copy over the registry API (``push.registry_copy``), between real registries.

A tiny image is pushed by docker to one distribution registry, then copied to another by the
copier alone: the digest is the source's, only what the destination lacks is uploaded, and
what the copier is not for (more missing bytes than it holds in memory, an image index) is
left untouched for skopeo. The fan-out takes the skopeo path when the copier declines.
"""

from __future__ import annotations

import json

import pytest

from pipeline.push import registry_copy
from pipeline.push.registries.base import Credentials, TargetConfig
from pipeline.push.registries.kinds import resolve_target
from pipeline.push.registries.retry import RetryPolicy
from pipeline.push.registry_api import RegistryClient
from pipeline.push.registry_copy import copy_small_image
from pipeline.push.stage import push_all

pytestmark = pytest.mark.integration

FAST = RetryPolicy(attempts=2, initial=0.1, max_wait=0.2)
INDEX = "application/vnd.oci.image.index.v1+json"


class CountingClient(RegistryClient):
    """A real client that also counts the blobs it uploads."""

    def __init__(self, name: str, endpoint: str, credentials: Credentials | None) -> None:
        super().__init__(name, endpoint, credentials)
        self.uploaded: list[str] = []

    def put_blob(self, path: str, digest: str, data: bytes) -> None:
        self.uploaded.append(digest)
        super().put_blob(path, digest, data)


def _client(server, cls=RegistryClient):  # type: ignore[no-untyped-def]
    return cls(server.address, server.address, Credentials(server.username, server.password))


@pytest.fixture
def pushed(docker_client, tiny_image, registry_factory):  # type: ignore[no-untyped-def]
    """The tiny image pushed by docker to a first registry: (server, its digest)."""
    server = registry_factory()
    environ = {"REGISTRY_USERNAME": server.username, "REGISTRY_PASSWORD": server.password}
    target = resolve_target(
        TargetConfig("generic", "first", f"{server.address}/team/app", None), "app", environ
    )
    [result] = push_all(docker_client, tiny_image, [target], ["1.0.0"], environ, print, FAST)
    assert result.error is None and result.digest
    return server, result.digest


def test_a_small_image_is_copied_with_its_digest_and_only_missing_blobs(  # type: ignore[no-untyped-def]
    pushed, registry_factory
):
    source_server, digest = pushed
    destination = _client(registry_factory(username="acme"), CountingClient)
    source = _client(source_server)
    written = copy_small_image(source, "team/app", digest, destination, "acme/app", "1.0.0")
    assert written == digest
    assert destination.manifest_digest("acme/app", "1.0.0") == digest
    manifest = json.loads(source.get_manifest("team/app", digest)[0])
    blobs = [manifest["config"]["digest"], *(layer["digest"] for layer in manifest["layers"])]
    assert sorted(destination.uploaded) == sorted(blobs)
    assert all(destination.has_blob("acme/app", blob) for blob in blobs)

    destination.uploaded = []  # a second tag: every blob is there, only the manifest is put
    assert copy_small_image(source, "team/app", digest, destination, "acme/app", "2") == digest
    assert destination.uploaded == []


def test_too_many_missing_bytes_or_an_index_are_left_to_skopeo(  # type: ignore[no-untyped-def]
    pushed, registry_factory
):
    source_server, digest = pushed
    source, destination = _client(source_server), _client(registry_factory(username="acme"))
    assert copy_small_image(source, "team/app", digest, destination, "acme/app", "1", 0) is None
    assert destination.manifest_digest("acme/app", "1") is None, "nothing written"
    body, media_type = source.get_manifest("team/app", digest)
    index = json.dumps({
        "schemaVersion": 2, "mediaType": INDEX,
        "manifests": [{"mediaType": media_type, "digest": digest, "size": len(body),
                       "platform": {"os": "linux", "architecture": "amd64"}}],
    }).encode()  # fmt: skip
    index_digest = source.put_manifest("team/app", "index", index, INDEX)
    assert copy_small_image(source, "team/app", index_digest, destination, "acme/app", "i") is None
    assert destination.manifest_digest("acme/app", "i") is None


def test_fan_out_copies_with_skopeo_when_the_copier_declines(  # type: ignore[no-untyped-def]
    docker_client, tiny_image, registry_factory, monkeypatch
):
    monkeypatch.setattr(registry_copy, "SMALL_COPY_BYTES", 0)  # every copy is "too big"
    servers = [registry_factory(), registry_factory(username="acme")]
    environ = {"REGISTRY_USERNAME": "ci-user", "REGISTRY_PASSWORD": servers[0].password,
               "DOCKERHUB_USERNAME": "acme", "DOCKERHUB_TOKEN": servers[1].password}  # fmt: skip
    configs = [
        TargetConfig("generic", "first", f"{servers[0].address}/team/app", None),
        TargetConfig("dockerhub", "hub", "acme/app", servers[1].address),
    ]
    targets = [resolve_target(c, "app", environ) for c in configs]
    results = push_all(docker_client, tiny_image, targets, ["1.0.0", "latest"], environ,
                       print, FAST)  # fmt: skip
    assert [r.error for r in results] == [None, None]
    assert results[1].copied_from == "first"
    copied = _client(servers[1])
    for tag in ("1.0.0", "latest"):
        assert copied.manifest_digest("acme/app", tag) == results[0].digest
