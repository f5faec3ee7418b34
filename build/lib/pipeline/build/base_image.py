"""The base image a Dockerfile starts from, and an offline stand-in when it cannot be pulled.

Dockerfiles name their base through an ``ARG`` (``ARG BASE_IMAGE=node:20-bookworm-slim`` then
``FROM ${BASE_IMAGE}``). When that image is neither present nor pullable (no registry access),
hoist can build a stand-in from Debian packages (debootstrap minbase + the family's runtime) and
pass it through the same ARG. It never retags an official name: the stand-in has its own name
(``hoist-offline/node:bookworm``) and the build summary says it was used.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from docker.errors import APIError, ImageNotFound

from pipeline.errors import PipelineError
from pipeline.result import Log

if TYPE_CHECKING:
    import docker

SUITE = "bookworm"

# Base image family (the repository's last path component) -> Debian packages and image config.
# Node's stand-in mirrors the official image: a `node` user with uid/gid 1000 and CMD node.
FAMILIES: dict[str, tuple[list[str], list[str]]] = {
    "node": (["nodejs", "ca-certificates"], ['CMD ["node"]']),
    "python": (["python3", "ca-certificates"], ['CMD ["python3"]']),
    "debian": ([], ['CMD ["bash"]']),
}


@dataclass(frozen=True)
class BaseImage:
    """What the build will start from: the configured name and what is actually used."""

    configured: str | None
    used: str | None

    @property
    def stand_in(self) -> bool:
        return self.used is not None and self.used != self.configured


def declared_base(dockerfile: Path, arg: str) -> str | None:
    """The default of ``ARG <arg>=...`` declared before the first FROM, if any."""
    pattern = re.compile(rf"^\s*ARG\s+{re.escape(arg)}=(\S+)\s*$", re.IGNORECASE)
    for line in dockerfile.read_text(errors="replace").splitlines():
        if re.match(r"^\s*FROM\s", line, re.IGNORECASE):
            return None
        match = pattern.match(line)
        if match:
            return match.group(1).strip("\"'")
    return None


def family_of(image: str) -> str:
    name = image.split("@")[0]
    name = name.rsplit("/", 1)[-1].split(":")[0]
    return "debian" if name == "ubuntu" else name


def stand_in_name(image: str) -> str:
    return f"hoist-offline/{family_of(image)}:{SUITE}"


def has_image(client: docker.DockerClient, name: str) -> bool:
    try:
        client.images.get(name)
    except ImageNotFound:
        return False
    return True


def try_pull(client: docker.DockerClient, name: str, log: Log) -> bool:
    log(f"pulling base image {name}")
    try:
        client.images.pull(name)
    except APIError as exc:
        log(f"cannot pull {name}: {exc.explanation or exc}")
        return False
    return True


def resolve_base(
    client: docker.DockerClient, dockerfile: Path, arg: str, override: str | None, log: Log
) -> BaseImage:
    """Decide the base: the configured one when present or pullable, else the stand-in."""
    configured = override or declared_base(dockerfile, arg)
    if configured is None:
        return BaseImage(None, None)
    if has_image(client, configured) or try_pull(client, configured, log):
        return BaseImage(configured, configured)
    stand_in = stand_in_name(configured)
    if family_of(configured) not in FAMILIES:
        raise PipelineError(
            f"base image {configured} cannot be pulled and hoist has no offline stand-in for it",
            hint=f"load it with `docker load`, or use one of: {', '.join(FAMILIES)}",
        )
    if not has_image(client, stand_in):
        raise PipelineError(
            f"base image {configured} cannot be pulled and the offline stand-in is missing",
            hint="run `invoke base-image` to build it from Debian packages",
        )
    log(f"base image {configured} cannot be pulled: using offline stand-in {stand_in}")
    return BaseImage(configured, stand_in)


def build_stand_in(client: docker.DockerClient, image: str, log: Log) -> str:
    """debootstrap a minimal Debian with the family's runtime and import it as an image."""
    family = family_of(image)
    if family not in FAMILIES:
        raise PipelineError(f"no offline stand-in recipe for {image}", hint=f"one of {FAMILIES}")
    packages, changes = FAMILIES[family]
    name = stand_in_name(image)
    if not shutil.which("debootstrap"):
        raise PipelineError("debootstrap is not installed", hint="run `make setup`")
    with tempfile.TemporaryDirectory(prefix="hoist-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        command = ["debootstrap", "--variant=minbase"]
        if packages:
            command.append(f"--include={','.join(packages)}")
        command += [SUITE, str(rootfs)]
        log(f"debootstrap {SUITE} minbase + {', '.join(packages) or 'nothing else'} (about 1 min)")
        _run(command)
        if family == "node":
            _run(["chroot", str(rootfs), "groupadd", "--gid", "1000", "node"])
            _run(["chroot", str(rootfs), "useradd", "--uid", "1000", "--gid", "node",
                  "--shell", "/bin/bash", "--create-home", "node"])  # fmt: skip
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
            shutil.rmtree(rootfs / cache, ignore_errors=True)
        tarball = Path(tmp) / "rootfs.tar"
        _run(["tar", "-C", str(rootfs), "-cf", str(tarball), "."])
        label = f'LABEL org.opencontainers.image.description="offline stand-in for {image}"'
        repository, tag = name.rsplit(":", 1)
        client.api.import_image_from_file(
            str(tarball), repository=repository, tag=tag, changes=[*changes, label]
        )
    log(f"built {name}")
    return name


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise PipelineError(f"{command[0]} failed (exit {result.returncode}): {last[0]}")
