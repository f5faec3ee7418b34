"""Fan-out's fast path: copy one image from registry to registry over the distribution API.

Why: after the first target's docker push, the others receive what that registry serves.
``skopeo copy`` does it, but each copy is a process of its own (start, TLS context, the token
dance again) — in an incremental run, with one small layer new, the processes cost far more
than the bytes. Here the manifest is read once, each blob the destination lacks (``HEAD``) is
read from the source and uploaded in one request, and the manifest's exact bytes are put under
the tag, so the digest is the source's by construction.

Only for the case it is made for: one image manifest (no index) whose missing blobs are small
enough to hold in memory (``SMALL_COPY_BYTES``). Anything else — a big layer new to the
destination, an index — is ``None``, and the caller lets skopeo stream it.
"""

from __future__ import annotations

import json

from pipeline.errors import RegistryError
from pipeline.push.index import IMAGE_TYPES, media_type_of
from pipeline.push.registry_api import RegistryClient

SMALL_COPY_BYTES = 32 * 1024 * 1024  # missing blobs, in all; more is skopeo's to stream


def copy_small_image(
    source: RegistryClient,
    source_path: str,
    digest: str,
    destination: RegistryClient,
    destination_path: str,
    tag: str,
    limit: int | None = None,
) -> str | None:
    """Copy ``source_path@digest`` to ``destination_path:tag``; the digest the destination
    answers with, or None when this is not a small image copy (nothing was written then):
    an index, or more than ``limit`` bytes (default ``SMALL_COPY_BYTES``) of blobs missing."""
    found = source.get_manifest(source_path, digest)
    if found is None:
        raise RegistryError(source.name, f"{source_path}@{digest} is gone", transient=True)
    body, content_type = found
    manifest = json.loads(body)
    media_type = media_type_of(content_type, manifest)
    if media_type not in IMAGE_TYPES:
        return None
    blobs = [manifest["config"], *manifest.get("layers", [])]
    missing = [b for b in blobs if not destination.has_blob(destination_path, b["digest"])]
    allowed = SMALL_COPY_BYTES if limit is None else limit
    if sum(int(b.get("size", 0)) for b in missing) > allowed:
        return None
    for blob in missing:
        data = source.get_blob(source_path, blob["digest"])
        destination.put_blob(destination_path, blob["digest"], data)
    return destination.put_manifest(destination_path, tag, body, media_type)
