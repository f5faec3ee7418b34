"""The names an image goes by: its local name, then each remote push target's repository."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pipeline.push.registries import resolve_target
from pipeline.push.registries.base import TargetConfig
from pipeline.tags.images import parse_images


def image_names(
    image: str,
    targets: Sequence[TargetConfig],
    environ: Mapping[str, str],
    given: Sequence[str] = (),
) -> list[str]:
    """The names an image goes by: the local name, then every remote target's repository.

    ``given`` (``invoke tags --image``) replaces them: metadata-action's ``images`` lines,
    where ``enable=false`` leaves an image out — all of them out means bare tags, as there.
    The embedded registry is left out: its references are the local name on a loopback
    address that only exists while it runs.
    """
    if given:
        return [image.name for image in parse_images(given, "--image") if image.enable]
    names = [image]
    for target in targets:
        if target.kind != "local":
            names.append(resolve_target(target, image, environ).repository)
    return names
