"""``signing:`` of pipeline.yaml: sign every pushed image and attach what was proven about it.

The section's presence turns signing on. Keys are named the way cosign names them: a path
(relative to pipeline.yaml) or ``env://VAR``; the defaults are cosign's GitHub secrets
(``COSIGN_PRIVATE_KEY``, ``COSIGN_PASSWORD``). ``public_key`` is what ``invoke verify`` and
``invoke deploy`` check against; deploy verifies only when it is set. ``required: false`` lets
a run without the key variable (a laptop, a fork) push unsigned, and say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.config.fields import Fields

SIGNING_KEYS = ("key", "password", "public_key", "attestations", "sbom", "required")
ATTESTATIONS = ("sbom", "provenance", "gate")
SBOM_FORMATS = ("cyclonedx", "spdx")
ENV_PREFIX = "env://"


@dataclass(frozen=True)
class KeyRef:
    """Where a key (or its password) is: ``env://VAR`` or a file."""

    variable: str | None = None
    path: Path | None = None

    def __str__(self) -> str:
        return f"{ENV_PREFIX}{self.variable}" if self.variable else str(self.path)


@dataclass(frozen=True)
class SigningConfig:
    key: KeyRef
    password: KeyRef
    public_key: KeyRef | None = None
    attestations: tuple[str, ...] = ATTESTATIONS
    sbom: tuple[str, ...] = ("cyclonedx",)
    required: bool = True
    """False: a key given as ``env://VAR`` whose variable is unset or empty (a laptop, a fork's
    CI without the secret) means "not signed, and said so" instead of an error."""


def key_ref(text: str, root: Path) -> KeyRef:
    if text.startswith(ENV_PREFIX):
        return KeyRef(variable=text[len(ENV_PREFIX) :])
    path = Path(text)
    return KeyRef(path=path if path.is_absolute() else root / path)


def parse_signing(top: Fields, root: Path) -> SigningConfig | None:
    if "signing" not in top.data:
        return None
    section = top.section("signing", SIGNING_KEYS)
    refs = {}
    for name, default in (
        ("key", "env://COSIGN_PRIVATE_KEY"),
        ("password", "env://COSIGN_PASSWORD"),
    ):
        text = section.text(name, default)
        assert text is not None
        if text == ENV_PREFIX:
            raise section.error(name, "env:// needs a variable name, e.g. env://COSIGN_PASSWORD")
        refs[name] = key_ref(text, root)
    public = section.text("public_key")
    return SigningConfig(
        key=refs["key"],
        password=refs["password"],
        public_key=key_ref(public, root) if public else None,
        attestations=_choice(section, "attestations", ATTESTATIONS, ATTESTATIONS),
        sbom=_choice(section, "sbom", SBOM_FORMATS, ("cyclonedx",)),
        required=section.boolean("required", True),
    )


def _choice(
    section: Fields, key: str, allowed: tuple[str, ...], default: tuple[str, ...]
) -> tuple[str, ...]:
    if key not in section.data:
        return default
    chosen = section.str_list(key)
    for item in chosen:
        if item not in allowed:
            raise section.error(
                key, f"unknown {key.rstrip('s')} {item!r}", hint=f"one of {', '.join(allowed)}"
            )
    return tuple(dict.fromkeys(chosen))
