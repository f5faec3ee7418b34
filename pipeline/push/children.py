"""Which child manifest each platform's image became at each repository, kept between runs.

Why: a platform's image goes to the registry by digest through an OCI layout
(``skopeo.push_from_engine``), which exports and compresses every layer again on every run —
seconds per platform even when the registry already holds that very child. The engine keeps
no record of it (no RepoDigest: nothing was tagged), so hoist keeps one: per repository, the
image id and the manifest digest it was pushed as. A kept digest is believed only after the
registry was asked: it must serve that manifest, for the platform it was built for. That is
the same image content, not merely the same name: the image id is the digest of the image's
config (which lists every layer's digest), the manifest digest that of the manifest bytes
(naming the config and layer blobs), and a registry serves a manifest only with its blobs.
(The manifest's config is not the engine's byte for byte: skopeo writes it as an OCI config,
so the image id itself cannot be looked up in the registry — hence the record.)
A record that cannot be read or kept costs the next run the shortcut, never its result.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path

from pipeline.atomic import replace_text
from pipeline.build.platforms import Platform
from pipeline.errors import PipelineError
from pipeline.paths import state_dir
from pipeline.push import index
from pipeline.push.index import Child
from pipeline.push.registries.kinds import Target
from pipeline.push.registry_api import RegistryClient

KEPT = 200  # images per repository: the newest are kept, older ones are pushed again


def _record(target: Target) -> Path:
    key = hashlib.sha256(target.push_repository.encode()).hexdigest()[:16]
    return state_dir() / "children" / f"{key}.json"


def _kept(target: Target) -> dict[str, str]:
    try:
        loaded = json.loads(_record(target).read_text())
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def known_child(
    registry: RegistryClient, target: Target, image_id: str, platform: Platform
) -> Child | None:
    """The child the registry already serves for ``image_id``, or None: push it."""
    digest = _kept(target).get(image_id)
    if not isinstance(digest, str):
        return None
    try:
        found = index.child(registry, target.path, digest)
    except PipelineError:
        return None  # gone, or unreadable: the push will say what is wrong, with its retries
    return found if found.platform.matches(platform) else None


def remember_child(target: Target, image_id: str, digest: str) -> None:
    """Keep ``image_id`` -> ``digest`` for this repository (after the registry verified it)."""
    with contextlib.suppress(OSError):
        path = _record(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        kept = {k: v for k, v in _kept(target).items() if k != image_id} | {image_id: digest}
        newest = dict(list(kept.items())[-KEPT:])
        replace_text(path, json.dumps(newest, indent=1))
