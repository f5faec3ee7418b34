"""Platforms (``os/arch[/variant]``) as ``build.platforms`` names them, and the engine's own.

Why its own module: every stage that handles more than one platform (the build with
``--platform``, the stand-in base image per platform, the smoke test under emulation, the
image index) must agree on one spelling of a platform, and on which one the engine runs
natively — that one needs no emulation and keeps today's behaviour exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import docker

# The architectures hoist can build and emulate here (qemu-user-static), with the variant a
# bare name implies (OCI image-index spec: arm64 is v8, arm is v7) and the qemu binary's name.
ARCHITECTURES: dict[str, tuple[str | None, str]] = {
    "amd64": (None, "x86_64"),
    "arm64": ("v8", "aarch64"),
    "arm": ("v7", "arm"),
    "ppc64le": (None, "ppc64le"),
    "s390x": (None, "s390x"),
    "riscv64": (None, "riscv64"),
}
# `uname -m` (and Go's GOARCH aliases) to the OCI architecture name.
MACHINE_ALIASES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}
_FORM = re.compile(r"^([a-z0-9]+)/([a-z0-9]+)(?:/([a-z0-9]+))?$")
# Emulated steps run 5-20x slower than native ones: smoke timeouts are stretched by this.
EMULATION_FACTOR = 4.0


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None

    def __str__(self) -> str:
        """``linux/arm64``: the form ``--platform`` and ``build.platforms`` take (the implied
        default variant is left out, as docker prints it)."""
        default_variant = ARCHITECTURES.get(self.architecture, (None, ""))[0]
        shown = self.variant if self.variant and self.variant != default_variant else None
        return "/".join(p for p in (self.os, self.architecture, shown) if p)

    @property
    def slug(self) -> str:
        """``linux-arm64``: for names (tags, files, the stand-in) where ``/`` cannot go."""
        return str(self).replace("/", "-")

    @property
    def qemu(self) -> str:
        return ARCHITECTURES[self.architecture][1]

    @property
    def full_variant(self) -> str | None:
        """The variant, or the one the architecture implies (arm64: v8)."""
        return self.variant or ARCHITECTURES.get(self.architecture, (None, ""))[0]

    def descriptor(self) -> dict[str, str]:
        """The ``platform`` object of an OCI index entry."""
        found = {"os": self.os, "architecture": self.architecture}
        if self.full_variant:
            found["variant"] = self.full_variant
        return found

    def matches(self, other: Platform) -> bool:
        """The same platform, an implied variant counting as given (arm64 is arm64/v8)."""
        mine = (self.os, self.architecture, self.full_variant)
        return mine == (other.os, other.architecture, other.full_variant)


def parse_platform(text: str) -> Platform:
    """``linux/arm64`` -> Platform; ValueError with the reason for anything else."""
    match = _FORM.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not os/arch[/variant] (e.g. linux/arm64)")
    os, architecture, variant = match.groups()
    if os != "linux":
        raise ValueError(f"{text!r}: only linux images can be built and smoke-tested here")
    if architecture not in ARCHITECTURES:
        raise ValueError(f"{text!r}: unknown architecture (one of {', '.join(ARCHITECTURES)})")
    return Platform(os, architecture, variant)


def machine_platform(os: str, machine: str) -> Platform:
    """The platform an engine's OS and machine name say (``x86_64`` is ``amd64``)."""
    return Platform(os, MACHINE_ALIASES.get(machine, machine))


def engine_platform(client: docker.DockerClient) -> Platform:
    """The platform the engine runs natively (``docker version``'s Os/Arch)."""
    version = client.version()
    return machine_platform(str(version.get("Os", "linux")), str(version.get("Arch", "amd64")))


def image_platform(attrs: dict[str, object]) -> Platform:
    """The platform an image's inspect data (or config blob) says it is for."""
    arch = str(attrs.get("Architecture") or attrs.get("architecture") or "amd64")
    os = str(attrs.get("Os") or attrs.get("os") or "linux")
    variant = attrs.get("Variant") or attrs.get("variant")
    return Platform(os, arch, str(variant) if variant else None)
