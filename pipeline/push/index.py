"""OCI image indexes: one tag for several platforms' images, made and checked over the
registry's HTTP API.

Why here and not docker: docker-py cannot make an index and the 20.10 CLI cannot push one;
the distribution API can — each platform's manifest is pushed by digest first
(``skopeo.push_from_engine``), then the index JSON listing them is PUT under every tag. The
index is built byte for byte by ``index_json`` (sorted keys, no spaces), so the same
children always give the same index digest, at every registry and on every rerun.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from pipeline.build.platforms import Platform, image_platform
from pipeline.errors import RegistryError
from pipeline.push.registry_api import RegistryClient

INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
INDEX_TYPES = (INDEX_TYPE, "application/vnd.docker.distribution.manifest.list.v2+json")
IMAGE_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)


def media_type_of(content_type: str, manifest: dict[str, Any]) -> str:
    """A manifest's media type: the registry's Content-Type without parameters, else the
    ``mediaType`` the manifest itself declares."""
    return content_type.split(";")[0].strip() or str(manifest.get("mediaType", ""))


@dataclass(frozen=True)
class Child:
    """One platform's manifest as the registry holds it."""

    platform: Platform
    digest: str
    size: int
    media_type: str


def index_json(children: list[Child]) -> bytes:
    """The OCI image index listing ``children`` in the order given."""
    index = {
        "schemaVersion": 2,
        "mediaType": INDEX_TYPE,
        "manifests": [
            {
                "mediaType": c.media_type,
                "digest": c.digest,
                "size": c.size,
                "platform": c.platform.descriptor(),
            }
            for c in children
        ],
    }
    return json.dumps(index, sort_keys=True, separators=(",", ":")).encode()


def digest_of(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def child(registry: RegistryClient, path: str, digest: str) -> Child:
    """The manifest ``digest`` in ``path`` and the platform its config says: a registry that
    lacks it, or holds an index there, is an error naming the digest."""
    got = registry.get_manifest(path, digest)
    if got is None:
        raise RegistryError(
            registry.name, f"{path}@{digest} is not in the registry", transient=False
        )
    body, content_type = got
    manifest = json.loads(body)
    media = media_type_of(content_type, manifest)
    if media not in IMAGE_TYPES:
        kind = media or "manifest of no known type"
        raise RegistryError(
            registry.name, f"{path}@{digest} is a {kind}, not one platform's image", transient=False
        )
    config = json.loads(registry.get_blob(path, manifest["config"]["digest"]))
    return Child(image_platform(config), digest, len(body), media)


def put_index(registry: RegistryClient, path: str, body: bytes, tags: list[str]) -> str:
    """PUT the index under every tag; each answer must be the index's own digest."""
    expected = digest_of(body)
    for tag in tags:
        answered = registry.put_manifest(path, tag, body, INDEX_TYPE)
        if answered not in (None, expected):
            raise RegistryError(
                registry.name,
                f"index under {tag} stored as {answered}, sent {expected}",
                transient=False,
            )
    return expected


def verify_index(
    registry: RegistryClient, path: str, tags: list[str], children: list[Child], expected: str
) -> None:
    """What the registry serves: every tag the index ``expected``, listing exactly
    ``children``, each of which it holds."""
    for tag in tags:
        served = registry.manifest_digest(path, tag)
        if served != expected:
            raise RegistryError(
                registry.name,
                f"serves {served or 'nothing'} for {path}:{tag}, put {expected}",
                transient=True,
            )
    got = registry.get_manifest(path, expected)
    listed = [m["digest"] for m in json.loads(got[0])["manifests"]] if got else []
    if listed != [c.digest for c in children]:
        raise RegistryError(registry.name, f"index {expected} lists {listed}", transient=False)
    for one in children:
        if registry.manifest_digest(path, one.digest) != one.digest:
            raise RegistryError(
                registry.name, f"{path}@{one.digest} ({one.platform}) is missing", transient=False
            )
