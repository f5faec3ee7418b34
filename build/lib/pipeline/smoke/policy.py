"""Image policy: what must be true of any image hoist ships, whatever the app.

* it does not run as root (``USER`` unset, ``0`` or ``root``) — on by default, because a
  container escape from root is a host compromise and Kubernetes' ``runAsNonRoot`` rejects it;
* it is not bigger than ``max_size`` (when set) — size is pull time on every deploy;
* no layer holds a secret-looking file (see ``pipeline.smoke.layers``) — deleting it in a later
  layer does not help, so every layer is read;
* it declares a HEALTHCHECK — only a warning by default: orchestrators have their own probes.

Each rule is one check result with the reason, so the smoke stage fails naming the rule.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline.config.fields import Fields
from pipeline.smoke.layers import scan_image
from pipeline.smoke.verdicts import CheckFailed, CheckWarning
from pipeline.units import human_size, parse_size

if TYPE_CHECKING:
    import docker

    from pipeline.smoke.layers import SecretFile

KEYS = ("non_root", "max_size", "secrets", "allow_files", "healthcheck")
HEALTHCHECK_MODES = ("warn", "require", "off")


@dataclass(frozen=True)
class PolicyConfig:
    non_root: bool = True
    max_size: int | None = None  # bytes
    secrets: bool = True
    allow_files: tuple[str, ...] = ()  # glob patterns of paths known not to be secrets
    healthcheck: str = "warn"


def parse_policy(smoke: Fields) -> PolicyConfig:
    section = smoke.section("policy", KEYS)
    max_size = None
    raw = section.data.get("max_size")
    if raw is not None:
        text = section.text("max_size") or ""
        max_size = parse_size(text)
        if not max_size:
            raise section.error(
                "max_size", f"{text!r} is not a size", hint="write e.g. 300MB, 1.5GB or 200MiB"
            )
    mode = section.text("healthcheck", "warn")
    if mode not in HEALTHCHECK_MODES:
        raise section.error("healthcheck", f"{mode!r} is not one of {', '.join(HEALTHCHECK_MODES)}")
    assert mode is not None
    return PolicyConfig(
        non_root=section.boolean("non_root", True),
        max_size=max_size,
        secrets=section.boolean("secrets", True),
        allow_files=tuple(section.str_list("allow_files")),
        healthcheck=mode,
    )


def non_root(attrs: dict[str, Any]) -> str:
    user = str((attrs.get("Config") or {}).get("User") or "")
    name = user.split(":", 1)[0]
    if name in ("", "0", "root"):
        shown = "USER is not set" if not user else f"USER {user}"
        raise CheckFailed(
            f"image runs as root ({shown})",
            "a non-root USER (e.g. USER 1000:1000)",
            shown,
        )
    return f"USER {user}"


def size_limit(attrs: dict[str, Any], limit: int) -> str:

    size = int(attrs.get("Size") or 0)
    if size > limit:
        raise CheckFailed(
            f"image is {human_size(size)}, over max_size {human_size(limit)}",
            f"<= {human_size(limit)}",
            human_size(size),
        )
    return f"{human_size(size)} <= {human_size(limit)}"


def healthcheck(attrs: dict[str, Any], mode: str) -> str:
    test = ((attrs.get("Config") or {}).get("Healthcheck") or {}).get("Test") or []
    if test and test[0] != "NONE":
        command = " ".join(test[1:])
        return command if len(command) <= 60 else command[:57] + "..."
    error = CheckFailed if mode == "require" else CheckWarning
    raise error("image declares no HEALTHCHECK", "a HEALTHCHECK instruction", "none")


def no_secrets(
    client: docker.DockerClient,
    image_id: str,
    allow: tuple[str, ...],
    stop: threading.Event | None = None,
) -> str:
    found = scan_image(client, image_id, allow, stop)
    if found:
        listing = "\n".join(str(f) for f in found)
        raise CheckFailed(_secrets_message(found), "no secret-looking files in any layer", listing)
    return "no secret-looking files in any layer"


def _secrets_message(found: list[SecretFile]) -> str:
    first = found[0]
    more = f" (+{len(found) - 1} more)" if len(found) > 1 else ""
    return f"secret-looking file in the image: {first}{more}"
