"""Copy an image already pushed to one registry into another with skopeo — the fan-out.

Why: ``docker push`` compresses every layer again for each registry (the 215 MB node image
took 15 s to a second local registry), while ``skopeo copy`` moves the already-compressed
blobs (0.65 s, same manifest digest). So the push engine pushes once with docker and copies
from there to the other targets.

Credentials reach skopeo as auth files that exist only in memory (``memfd_create``), passed
as ``/proc/self/fd/N``: never on disk, never on a command line (``ps`` would show
``--dest-creds``). Loopback endpoints are reached like docker reaches them (HTTP or
self-signed TLS allowed, 127.0.0.0/8 being insecure by default); any other endpoint must
present a certificate the host trusts (``/etc/docker/certs.d`` counts, as for docker).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from pipeline.push.registries.base import Credentials, Target
from pipeline.push.registries.credstore import server_key
from pipeline.push.registry_api import is_loopback

TIMEOUT = 1800.0


class CopyFailed(Exception):
    """skopeo's own error line (``level=fatal msg=...``), for the push engine to classify."""


def available() -> bool:
    return shutil.which("skopeo") is not None


@contextlib.contextmanager
def _auth_file(target: Target, credentials: Credentials | None) -> Iterator[int | None]:
    """An in-memory auth.json holding only this target's credentials; its descriptor."""
    if credentials is None:
        yield None
        return
    pair = f"{credentials.username}:{credentials.password}".encode()
    auth = {"auths": {server_key(target.endpoint): {"auth": base64.b64encode(pair).decode()}}}
    fd = os.memfd_create("hoist-auth")
    try:
        os.write(fd, json.dumps(auth).encode())
        yield fd
    finally:
        os.close(fd)


def _side(flag: str, target: Target, fd: int | None) -> list[str]:
    auth = [f"--{flag}-authfile=/proc/self/fd/{fd}"] if fd is not None else [f"--{flag}-no-creds"]
    return [*auth, f"--{flag}-tls-verify={'false' if is_loopback(target.endpoint) else 'true'}"]


def copy(
    source: Target,
    source_credentials: Credentials | None,
    digest: str,
    destination: Target,
    destination_credentials: Credentials | None,
    tag: str,
    everything: bool = False,
) -> str:
    """Copy ``source@digest`` to ``destination:tag`` unchanged; return the digest written.
    ``everything``: an image index with every image it lists (``--all``)."""
    with (
        _auth_file(source, source_credentials) as src,
        _auth_file(destination, destination_credentials) as dest,
        tempfile.TemporaryDirectory(prefix="hoist-copy-") as scratch,
    ):
        digest_file = Path(scratch) / "digest"
        command = [
            "skopeo", "copy", "--quiet", "--preserve-digests", *(["--all"] if everything else []),
            *_side("src", source, src), *_side("dest", destination, dest),
            "--digestfile", str(digest_file),
            f"docker://{source.push_repository}@{digest}",
            f"docker://{destination.push_repository}:{tag}",
        ]  # fmt: skip
        _skopeo(command, tuple(fd for fd in (src, dest) if fd is not None))
        return digest_file.read_text().strip()


def push_from_engine(
    engine: str, image_id: str, destination: Target, credentials: Credentials | None
) -> str:
    """Push an image of the engine at ``engine`` (a unix:// DOCKER_HOST) by digest, with no
    tag (what a per-platform image of an index needs): compressed once into an OCI layout in
    a private directory, whose manifest digest names the destination. Returns that digest."""
    with (
        _auth_file(destination, credentials) as dest,
        tempfile.TemporaryDirectory(prefix="hoist-by-digest-") as scratch,
    ):
        layout = f"oci:{scratch}/layout:image"
        _skopeo(["skopeo", "copy", "--quiet", "--src-daemon-host", engine,
                 f"docker-daemon:{image_id}", layout], ())  # fmt: skip
        index = json.loads((Path(scratch) / "layout" / "index.json").read_text())
        digest = str(index["manifests"][0]["digest"])
        command = [
            "skopeo", "copy", "--quiet", "--preserve-digests", *_side("dest", destination, dest),
            "--digestfile", f"{scratch}/digest",
            layout, f"docker://{destination.push_repository}@{digest}",
        ]  # fmt: skip
        _skopeo(command, (dest,) if dest is not None else ())
        written = (Path(scratch) / "digest").read_text().strip()
    if written != digest:
        raise CopyFailed(f"pushed {image_id[:19]} as {digest}, the registry wrote {written}")
    return digest


def _skopeo(command: list[str], fds: tuple[int, ...]) -> None:
    try:
        done = subprocess.run(
            command, pass_fds=fds, capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        raise CopyFailed(f"skopeo copy timed out after {TIMEOUT:.0f} s") from None
    if done.returncode != 0:
        raise CopyFailed(_fatal_line(done.stderr))


def _fatal_line(stderr: str) -> str:
    """The message of skopeo's last ``level=fatal msg="..."`` line (or its last line)."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else "skopeo failed without a message"
    match = re.search(r'msg="((?:[^"\\]|\\.)*)"', last)
    return match[1].replace('\\"', '"') if match else last
