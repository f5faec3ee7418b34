"""Read a path of a (created, never started) container through the engine's archive endpoint.

Structure tests look at the image's filesystem without running anything in it, which also works
for images without a shell. ``GET /containers/{id}/archive`` answers with a stat header (Go's
``os.FileMode`` bits — exactly what container-structure-test prints as permissions) and a tar
stream whose first member is the path itself (owner ids, content). The stream is closed after
that first member: asking for ``/`` would otherwise tar the whole filesystem.

docker-py's public ``get_archive`` returns a generator that cannot be closed early, so the
request goes through the client's own session (``_get``/``_url``, stable in docker-py for
years) with compression off.
"""

from __future__ import annotations

import base64
import json
import tarfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import docker

MAX_READ = 16 * 1024 * 1024
MAX_LINKS = 8

# Go's os.FileMode type bits, high to low, with the letter FileMode.String() prints for each.
_GO_TYPE_BITS = [(1 << (31 - i), ch) for i, ch in enumerate("dalTLDpSugct?")]
_GO_DIR, _GO_SYMLINK = 1 << 31, 1 << 27
_GO_DEVICE, _GO_PIPE, _GO_SOCKET = 1 << 26, 1 << 25, 1 << 24
_GO_SETUID, _GO_SETGID, _GO_CHAR, _GO_STICKY = 1 << 23, 1 << 22, 1 << 21, 1 << 20


class ContainerPathError(Exception):
    """The engine could not give the path for another reason than "it does not exist"."""


@dataclass(frozen=True)
class PathInfo:
    path: str
    mode: int  # Go os.FileMode bits (type bits + permission bits)
    uid: int
    gid: int
    size: int
    link_target: str

    @property
    def is_dir(self) -> bool:
        return bool(self.mode & _GO_DIR)

    @property
    def is_symlink(self) -> bool:
        return bool(self.mode & _GO_SYMLINK)

    @property
    def permissions(self) -> int:
        return self.mode & 0o777


def go_mode_string(mode: int) -> str:
    """What Go's ``FileMode.String()`` prints (``-rw-r--r--``, ``drwxr-xr-x``, ``urwxr-xr-x``)."""
    prefix = "".join(ch for bit, ch in _GO_TYPE_BITS if mode & bit) or "-"
    return prefix + _rwx(mode & 0o777)


def ls_mode_string(mode: int) -> str:
    """What ``ls -l`` prints for the same mode (``-rwsr-xr-x`` for a setuid file)."""
    kind = (
        "d" if mode & _GO_DIR else "l" if mode & _GO_SYMLINK
        else "p" if mode & _GO_PIPE else "s" if mode & _GO_SOCKET
        else ("c" if mode & _GO_CHAR else "b") if mode & _GO_DEVICE else "-"
    )  # fmt: skip
    chars = list(_rwx(mode & 0o777))
    for flag, index, letter in ((_GO_SETUID, 2, "s"), (_GO_SETGID, 5, "s"), (_GO_STICKY, 8, "t")):
        if mode & flag:
            chars[index] = letter if chars[index] == "x" else letter.upper()
    return kind + "".join(chars)


def _rwx(bits: int) -> str:
    return "".join(ch if bits & (1 << (8 - i)) else "-" for i, ch in enumerate("rwxrwxrwx"))


def _request(client: docker.DockerClient, container_id: str, path: str) -> Any:
    api = client.api
    response = api._get(
        api._url("/containers/{0}/archive", container_id),
        params={"path": path},
        stream=True,
        headers={"Accept-Encoding": "identity"},
    )
    if response.status_code == 200:
        return response
    try:
        message = response.json().get("message", "")
    except ValueError:
        message = response.text
    finally:
        response.close()
    if response.status_code == 404 or "not a directory" in message or "no such file" in message:
        return None
    raise ContainerPathError(f"{path}: {message.strip() or response.status_code}")


def stat(client: docker.DockerClient, container_id: str, path: str) -> PathInfo | None:
    """The path's own entry (a symlink is not followed), or None if it does not exist."""
    response = _request(client, container_id, path)
    if response is None:
        return None
    try:
        header = json.loads(base64.b64decode(response.headers["X-Docker-Container-Path-Stat"]))
        with tarfile.open(fileobj=response.raw, mode="r|") as archive:
            member = archive.next()
        uid, gid = (member.uid, member.gid) if member else (-1, -1)
        return PathInfo(
            path,
            int(header["mode"]),
            uid,
            gid,
            int(header.get("size", 0)),
            str(header.get("linkTarget") or ""),
        )
    except (KeyError, ValueError, tarfile.TarError) as exc:
        raise ContainerPathError(f"{path}: unreadable archive answer ({exc})") from None
    finally:
        response.close()


def read_file(client: docker.DockerClient, container_id: str, path: str) -> bytes | None:
    """A regular file's content, following symlinks; None if it does not exist."""
    for _ in range(MAX_LINKS):
        info = stat(client, container_id, path)
        if info is None:
            return None
        if info.is_symlink:
            path = info.link_target  # the engine resolves it to an absolute path
            continue
        if info.is_dir:
            raise ContainerPathError(f"{path} is a directory, not a file")
        return _content(client, container_id, path)
    raise ContainerPathError(f"{path}: more than {MAX_LINKS} symbolic links")


def _content(client: docker.DockerClient, container_id: str, path: str) -> bytes | None:
    response = _request(client, container_id, path)
    if response is None:
        return None
    try:
        with tarfile.open(fileobj=response.raw, mode="r|") as archive:
            member = archive.next()
            handle = archive.extractfile(member) if member else None
            if handle is None:
                raise ContainerPathError(f"{path} is not a regular file")
            data = handle.read(MAX_READ + 1)
        if len(data) > MAX_READ:
            raise ContainerPathError(f"{path} is larger than {MAX_READ // 2**20} MiB")
        return data
    except tarfile.TarError as exc:
        raise ContainerPathError(f"{path}: unreadable archive answer ({exc})") from None
    finally:
        response.close()
