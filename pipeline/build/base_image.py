"""The base image a Dockerfile starts from, and an offline stand-in when it cannot be pulled.

Dockerfiles name their base through an ``ARG`` (``ARG BASE_IMAGE=node:20-bookworm-slim`` then
``FROM ${BASE_IMAGE}``). When that image is neither present nor pullable (no registry access),
hoist can build a stand-in from Debian packages (debootstrap minbase + the family's runtime) and
pass it through the same ARG. It never retags an official name: the stand-in has its own name
(``hoist-offline/node:bookworm``) and the build summary says it was used.

Another platform's stand-in (``build.platforms``) is made the same way, debootstrap
``--arch`` with its package scripts run under qemu, and named per platform
(``hoist-offline/node:bookworm-linux-arm64``): BuildKit takes a local base image only when
its platform is the one being built, so one name cannot serve two platforms.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from docker.errors import APIError, ImageNotFound

from pipeline.build.backend import find_cli
from pipeline.build.buildkit import cli_environment
from pipeline.build.platforms import Platform, engine_platform, image_platform, parse_platform
from pipeline.build.settings import BuildConfig
from pipeline.errors import ConfigError, PipelineError
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


def stand_in_name(image: str, platform: Platform | None = None) -> str:
    """The stand-in's name; ``platform`` is given only for one that is not the engine's own
    (whose stand-in keeps the name it always had)."""
    suffix = f"-{platform.slug}" if platform is not None else ""
    return f"hoist-offline/{family_of(image)}:{SUITE}{suffix}"


def has_image(client: docker.DockerClient, name: str, platform: Platform | None = None) -> bool:
    """Whether the engine holds ``name`` (for ``platform``, when one is given)."""
    try:
        attrs = client.images.get(name).attrs
    except ImageNotFound:
        return False
    return platform is None or image_platform(attrs).matches(platform)


def try_pull(
    client: docker.DockerClient, name: str, log: Log, platform: Platform | None = None
) -> bool:
    log(f"pulling base image {name}" + (f" for {platform}" if platform else ""))
    try:
        client.images.pull(name, platform=str(platform) if platform else None)
    except APIError as exc:
        log(f"cannot pull {name}: {exc.explanation or exc}")
        return False
    return True


def resolve_base(
    client: docker.DockerClient,
    dockerfile: Path,
    arg: str,
    override: str | None,
    log: Log,
    platform: Platform | None = None,
) -> BaseImage:
    """Decide the base: the configured one when present or pullable, else the stand-in;
    ``platform`` when building for one that is not the engine's own."""
    configured = override or declared_base(dockerfile, arg)
    if configured is None:
        return BaseImage(None, None)
    if has_image(client, configured, platform) or try_pull(client, configured, log, platform):
        return BaseImage(configured, configured)
    stand_in = stand_in_name(configured, platform)
    if family_of(configured) not in FAMILIES:
        raise PipelineError(
            f"base image {configured} cannot be pulled and hoist has no offline stand-in for it",
            hint=f"load it with `docker load`, or use one of: {', '.join(FAMILIES)}",
        )
    if not has_image(client, stand_in, platform):
        raise PipelineError(
            f"base image {configured} cannot be pulled and the offline stand-in {stand_in} "
            "is missing",
            hint="run `invoke base-image"
            + (f" --platform {platform}" if platform else "")
            + "` to build it from Debian packages",
        )
    log(f"base image {configured} cannot be pulled: using offline stand-in {stand_in}")
    return BaseImage(configured, stand_in)


def build_stand_in(
    client: docker.DockerClient, image: str, log: Log, platform: Platform | None = None
) -> str:
    """debootstrap a minimal Debian with the family's runtime and import it as an image;
    ``platform`` for another architecture than the engine's (its steps run under qemu:
    ``scripts/ensure-platforms.sh`` enables it)."""
    family = family_of(image)
    if family not in FAMILIES:
        raise PipelineError(f"no offline stand-in recipe for {image}", hint=f"one of {FAMILIES}")
    packages, changes = FAMILIES[family]
    name = stand_in_name(image, platform)
    if not shutil.which("debootstrap"):
        raise PipelineError("debootstrap is not installed", hint="run `make setup`")
    with tempfile.TemporaryDirectory(prefix="hoist-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        command = ["debootstrap", "--variant=minbase"]
        if platform is not None:
            command.append(f"--arch={platform.architecture}")
        if packages:
            command.append(f"--include={','.join(packages)}")
        command += [SUITE, str(rootfs)]
        where = f" for {platform}" if platform else ""
        log(f"debootstrap {SUITE}{where} minbase + {', '.join(packages) or 'nothing else'} "
            f"(about {'2 min' if platform else '1 min'})")  # fmt: skip
        _run(command)
        if family == "node":
            _run(["chroot", str(rootfs), "groupadd", "--gid", "1000", "node"])
            _run(["chroot", str(rootfs), "useradd", "--uid", "1000", "--gid", "node",
                  "--shell", "/bin/bash", "--create-home", "node"])  # fmt: skip
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
            shutil.rmtree(rootfs / cache, ignore_errors=True)
        context = Path(tmp) / "context"
        context.mkdir()
        tarball = context / "rootfs.tar"
        _run(["tar", "-C", str(rootfs), "-cf", str(tarball), "."])
        label = f'LABEL org.opencontainers.image.description="offline stand-in for {image}"'
        _import(client, tarball, name, [*changes, label], platform)
    log(f"built {name}")
    return name


def _import(
    client: docker.DockerClient,
    tarball: Path,
    name: str,
    changes: list[str],
    platform: Platform | None,
) -> None:
    """``docker import`` of the rootfs; another platform's through a BuildKit build ``FROM
    scratch`` with ``--platform`` instead, as the 20.10 engine's import writes its own
    architecture into the image whatever platform it is told."""
    repository, tag = name.rsplit(":", 1)
    if platform is None:
        client.api.import_image_from_file(
            str(tarball), repository=repository, tag=tag, changes=changes
        )
        return
    cli, tried = find_cli(os.environ)
    if cli is None:
        raise PipelineError(
            f"the {platform} stand-in needs a docker CLI that drives BuildKit ({'; '.join(tried)})",
            hint="install a 20.10-22.x docker CLI (Debian's docker.io) or buildx",
        )
    dockerfile = ["FROM scratch", f"ADD {tarball.name} /", *changes]
    (tarball.parent / "Dockerfile").write_text("\n".join(dockerfile) + "\n")
    build = ["buildx", "build", "--load"] if cli.buildx else ["build"]
    command = [cli.path, *build, "--platform", str(platform), "--tag", name, str(tarball.parent)]
    _run(command, cli_environment(os.environ, None))


def _run(command: list[str], env: dict[str, str] | None = None) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if result.returncode != 0:
        last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise PipelineError(f"{command[0]} failed (exit {result.returncode}): {last[0]}")


def ensure_stand_in(
    client: docker.DockerClient, build: BuildConfig, platform: str, force: bool, log: Log
) -> None:
    """``invoke base-image [--platform P]``: the stand-in for the Dockerfile's base (for
    ``P`` when it is not the engine's own), built unless present or the base can be had."""
    try:
        wanted = parse_platform(platform) if platform else None
    except ValueError as exc:
        raise ConfigError("--platform", None, str(exc)) from None
    configured = build.args.get(build.base_arg) or declared_base(build.dockerfile, build.base_arg)
    if configured is None:
        log(f"{build.dockerfile.name} declares no ARG {build.base_arg}: nothing to do")
        return
    if wanted is not None and wanted.matches(engine_platform(client)):
        wanted = None  # the engine's own: the stand-in it always had
    stand_in = stand_in_name(configured, wanted)
    if not force and has_image(client, stand_in, wanted):
        log(f"offline stand-in {stand_in} is present")
    elif not force and (
        has_image(client, configured, wanted) or try_pull(client, configured, log, wanted)
    ):
        log(f"base image {configured} is available: no stand-in needed")
    else:
        build_stand_in(client, configured, log, wanted)
