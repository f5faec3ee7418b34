"""Find secret-looking files in every layer of an image, including files deleted later.

``RUN rm .env`` does not remove ``.env`` from an image: the file stays in the layer that added
it and anyone who pulls the image can read it; the later layer only hides it. So the scan reads
the image as ``docker save`` exports it — each layer's own tar — rather than the final
filesystem, and reports which layer added the file and whether a later one hid it.

A layer is recognised by name rules (``.env``, ``id_rsa``...) and, where a name alone would
flag harmless files, by content: CA bundles are ``*.pem`` too, so a ``.pem``/``.key`` counts
only when it holds a private key, and ``.npmrc`` only with an auth token. The Dockerfile step
of a layer is named by its instruction only (``RUN``), never its text: the text may hold the
very secret.

Each layer's scan is kept under the state dir, keyed by the layer's diff_id (the digest of its
content) and by this module's own source (the rules). When every layer of an image was scanned
before and none holds a secret-looking file, the image is not exported again: ``docker save``
of a 200 MB image costs seconds of engine time on every run although nothing changed.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import io
import json
import os
import posixpath
import re
import tarfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from pipeline.paths import state_dir

if TYPE_CHECKING:
    import docker

CONTENT_LIMIT = 1024 * 1024
_DOTENV_HARMLESS = (".example", ".sample", ".template", ".dist", ".defaults")
_SSH_KEYS = ("id_rsa", "id_dsa", "id_ecdsa", "id_ed25519")
_PRIVATE_KEY_RE = re.compile(rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----")
# A literal token; `_authToken=${NPM_TOKEN}` reads the environment at install time and is fine.
_NPM_TOKEN_RE = re.compile(rb"(_authToken|_auth|_password)\s*=\s*(?!\$\{)\S")
_INSTRUCTIONS = ("RUN", "COPY", "ADD", "ENV", "WORKDIR", "USER")
_DOCKER_AUTH_RE = re.compile(rb'"auths?"\s*:\s*\{[^}]*"auth"\s*:\s*"[^"]')


@dataclass(frozen=True)
class SecretFile:
    path: str  # absolute path in the image
    reason: str
    layer: int  # 1-based, in image order
    layers: int
    step: str  # the instruction that made the layer (RUN, COPY, ADD...) or "" if unknown
    hidden_by: int | None = None  # the later layer that deleted it, if any

    def __str__(self) -> str:
        made = f" ({self.step})" if self.step else ""
        text = f"{self.path}: {self.reason} in layer {self.layer}/{self.layers}{made}"
        if self.hidden_by:
            text += f", deleted in layer {self.hidden_by} but still in the image"
        return text


def secret_reason(path: str, read: Callable[[], bytes]) -> str | None:
    """Why ``path`` looks like a secret, or None; ``read()`` gives the start of its content."""
    name = posixpath.basename(path)
    if name == ".env" or (name.startswith(".env.") and not name.endswith(_DOTENV_HARMLESS)):
        return "dotenv file"
    if name in _SSH_KEYS:
        return "SSH private key"
    if name == ".git-credentials":
        return "git credentials"
    if name.endswith((".pem", ".key")) and _PRIVATE_KEY_RE.search(read()):
        return "private key"
    if name == ".npmrc" and _NPM_TOKEN_RE.search(read()):
        return ".npmrc with an auth token"
    if path.endswith("/.docker/config.json") and _DOCKER_AUTH_RE.search(read()):
        return "docker credentials"
    return None


@dataclass
class _Layer:
    found: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    deleted: set[str] = field(default_factory=set)  # whiteouts: paths hidden from below
    opaque: set[str] = field(default_factory=set)  # directories whose lower content is hidden


def scan_image(
    client: docker.DockerClient,
    image_id: str,
    allow: Iterable[str] = (),
    stop: threading.Event | None = None,
) -> list[SecretFile]:
    """Stream ``docker save`` of the image and scan each layer tar as it passes by — unless
    every layer was scanned before and none holds a secret-looking file (see the cache above).

    ``stop`` ends the scan early (the smoke stage sets it on Ctrl-C/SIGTERM): the export of a
    large image takes seconds and must not hold up the cleanup."""
    allowed = list(allow)
    diff_ids = list(((client.api.inspect_image(image_id).get("RootFS") or {}).get("Layers")) or [])
    cached = [_cache_load(diff_id) for diff_id in diff_ids]
    if diff_ids and all(layer is not None and not _reportable(layer, allowed) for layer in cached):
        return []
    layers: dict[str, _Layer] = {}
    documents: dict[str, bytes] = {}
    api = client.api
    response = api._get(  # docker-py's get_image cannot be closed early; its session can
        api._url("/images/{0}/get", image_id),
        stream=True,
        headers={"Accept-Encoding": "identity"},
    )
    api._raise_for_status(response)
    try:
        stream = _StoppableReader(response.raw, stop or threading.Event())
        with tarfile.open(fileobj=stream, mode="r|") as saved:
            for member in saved:
                if not member.isfile():
                    continue
                handle = saved.extractfile(member)
                assert handle is not None
                if member.name.endswith(".json"):
                    documents[member.name] = handle.read(16 * 1024 * 1024)
                elif member.name.endswith("/layer.tar") or member.name.startswith("blobs/"):
                    scanned = _scan_layer(handle)
                    if scanned is not None:
                        layers[member.name] = scanned
    finally:
        response.close()
    _cache_store(layers, documents)
    return _findings(layers, documents, allowed)


def _reportable(layer: _Layer, allowed: list[str]) -> bool:
    return any(
        not any(fnmatch.fnmatch(path, pattern) for pattern in allowed) for path, _ in layer.found
    )


def _cache_dir() -> Path:
    return state_dir() / "cache" / f"layer-scan-{_rules_version()}"


@functools.cache
def _rules_version() -> str:
    """This module's own source: a change to any rule starts a new cache."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]


def _cache_load(diff_id: str) -> _Layer | None:
    try:
        data = json.loads((_cache_dir() / f"{diff_id.replace(':', '-')}.json").read_text())
        return _Layer(
            [(str(p), str(r)) for p, r in data["found"]], set(data["deleted"]), set(data["opaque"])
        )
    except (OSError, ValueError, LookupError, TypeError):
        return None


def _cache_store(layers: dict[str, _Layer], documents: dict[str, bytes]) -> None:
    """Remember each scanned layer under its diff_id (from the exported image's own config)."""
    try:
        manifest = json.loads(documents.get("manifest.json", b"[]"))[0]
        config = json.loads(documents.get(manifest["Config"], b"{}"))
        diff_ids = config["rootfs"]["diff_ids"]
        names = manifest["Layers"]
    except (ValueError, LookupError, TypeError):
        return
    if len(diff_ids) != len(names):
        return
    directory = _cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for name, diff_id in zip(names, diff_ids, strict=True):
            if name not in layers:
                continue
            layer = asdict(layers[name])
            data = {**layer, "deleted": sorted(layer["deleted"]), "opaque": sorted(layer["opaque"])}
            path = directory / f"{str(diff_id).replace(':', '-')}.json"
            aside = path.with_suffix(f".{os.getpid()}.tmp")
            aside.write_text(json.dumps(data))
            os.replace(aside, path)  # whole or not at all, also with a concurrent run
    except OSError:
        pass  # a cache that cannot be written only costs the next run an export


def _findings(
    layers: dict[str, _Layer], documents: dict[str, bytes], allowed: list[str]
) -> list[SecretFile]:
    order, steps = _layer_order(documents, list(layers))
    found: list[SecretFile] = []
    for index, name in enumerate(order, start=1):
        for path, reason in layers[name].found:
            if any(fnmatch.fnmatch(path, pattern) for pattern in allowed):
                continue
            later = range(index + 1, len(order) + 1)
            hidden = next((n for n in later if _hides(layers[order[n - 1]], path)), None)
            step = steps[index - 1] if index - 1 < len(steps) else ""
            found.append(SecretFile(path, reason, index, len(order), step, hidden))
    return found


class ScanStopped(Exception):
    """The scan was asked to stop before it finished."""


def _scan_layer(handle: IO[bytes]) -> _Layer | None:
    layer = _Layer()
    try:
        archive = tarfile.open(fileobj=handle, mode="r|*")  # noqa: SIM115 - closed below
    except tarfile.TarError:
        return None  # an OCI blob that is a config or manifest, not a layer
    with archive:
        for member in archive:
            path = "/" + member.name.lstrip("./").rstrip("/")
            directory, name = posixpath.split(path)
            if name == ".wh..wh..opq":
                layer.opaque.add(directory)
            elif name.startswith(".wh."):
                layer.deleted.add(posixpath.join(directory, name[4:]))
            elif member.isfile():
                content = _Lazy(archive, member)
                reason = secret_reason(path, content.read)
                if reason:
                    layer.found.append((path, reason))
    return layer


class _Lazy:
    """Read a member's content only if a rule needs it, and only once."""

    def __init__(self, archive: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        self.archive, self.member = archive, member
        self.data: bytes | None = None

    def read(self) -> bytes:
        if self.data is None:
            handle = self.archive.extractfile(self.member)
            self.data = handle.read(CONTENT_LIMIT) if handle else b""
        return self.data


def _hides(layer: _Layer, path: str) -> bool:
    """A whiteout of the path or a parent, or an opaque parent directory, hides it."""
    parents = list(_parents(path))
    return any(p in layer.deleted for p in [path, *parents]) or any(
        p in layer.opaque for p in parents
    )


def _parents(path: str) -> Iterator[str]:
    while path not in ("/", ""):
        path = posixpath.dirname(path)
        yield path


def _layer_order(documents: dict[str, bytes], names: list[str]) -> tuple[list[str], list[str]]:
    """Layer member names in image order, and the instruction that created each layer."""
    try:
        manifest = json.loads(documents.get("manifest.json", b"[]"))[0]
        order = [name for name in manifest["Layers"] if name in names]
        config = json.loads(documents.get(manifest["Config"], b"{}"))
    except (ValueError, LookupError, TypeError):
        return names, []
    steps = [
        _instruction(entry.get("created_by", ""))
        for entry in config.get("history", [])
        if not entry.get("empty_layer")
    ]
    return order or names, steps if len(steps) == len(order) else []


def _instruction(created_by: str) -> str:
    """``RUN``/``COPY``/``ADD``... from a history entry (classic builder or BuildKit)."""
    text = created_by.strip()
    if "#(nop)" in text:  # classic builder, non-RUN: "/bin/sh -c #(nop) COPY dir:... in /app"
        text = text.split("#(nop)", 1)[1].strip()
    elif text.startswith("/bin/sh -c"):  # classic builder RUN
        return "RUN"
    first = text.split(None, 1)[0] if text else ""
    return first if first in _INSTRUCTIONS else ""


class _StoppableReader(io.RawIOBase):
    """The export stream, for ``tarfile``'s stream mode, that gives up when ``stop`` is set."""

    def __init__(self, raw: IO[bytes], stop: threading.Event) -> None:
        self._raw = raw
        self._stop = stop

    def readable(self) -> bool:
        return True

    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._stop.is_set():
            raise ScanStopped("secret scan stopped")
        data = self._raw.read(len(target))
        target[: len(data)] = data
        return len(data)
