"""The image's labels: one escaped ``LABEL`` instruction, refused when a value cannot be one,
and the test of whether an existing image already is what this build would make.

Every key and value goes in that one instruction, double-quoted with ``\\``, ``"`` and ``$``
escaped (the only escapes the Dockerfile's double quotes know; ``$`` would otherwise be
substituted), so a quote, a ``#`` or ``$HOME`` in a description arrives as written. What a
``LABEL`` line cannot carry is refused before anything is built: a ``=`` in a key (the parser
splits there before unquoting) and control characters (a line break ends the instruction; the
others are invisible or garble every terminal that shows labels).

An existing image *is* the one a build would make when it has the same layers and config as
the Dockerfile's own image and the same labels, only ``created`` older — however its history
came about (``Parent`` and ``Config.Image`` name the steps an image was built from, not what
it is).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from pipeline.errors import ConfigError

CREATED_LABEL = "org.opencontainers.image.created"


def unchanged(
    previous: Mapping[str, Any], built: Mapping[str, Any], labels: Mapping[str, str]
) -> bool:
    """Whether ``previous`` (an image's inspect) is ``built`` (the Dockerfile's own image)
    with ``labels``, only its ``created`` label older.

    Decided by what the images are — layers, platform, config — never by how they came
    about: ``Parent`` and ``Config.Image`` name the step an image was committed on top of,
    which differs for the same content built in another number of steps or on another run.
    """
    found = _labels_of(previous)
    wanted = {**_labels_of(built), **labels}  # the Dockerfile's own LABELs, then ours
    return (
        CREATED_LABEL in labels
        and CREATED_LABEL in found
        and _content_of(previous) == _content_of(built)
        and _without_created(found) == _without_created(wanted)
    )


def _content_of(image: Mapping[str, Any]) -> dict[str, Any]:
    config = image.get("Config") or {}
    return {
        "layers": (image.get("RootFS") or {}).get("Layers") or [],
        "platform": (image.get("Os"), image.get("Architecture"), image.get("Variant")),
        "config": {k: v for k, v in config.items() if k not in ("Labels", "Image")},
    }


def _labels_of(image: Mapping[str, Any]) -> dict[str, str]:
    return dict((image.get("Config") or {}).get("Labels") or {})


def _without_created(labels: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in labels.items() if k != CREATED_LABEL}


def check_labels(labels: Mapping[str, str]) -> None:
    """Refuse a label one ``LABEL`` instruction cannot carry as written.

    A ``=`` in a key: the Dockerfile parser splits ``key=value`` at the first ``=`` before it
    unquotes anything (``docker build --label`` splits there too). A control character in
    a key or value: a line break ends the instruction, and the others (tab, ESC, ...) are
    invisible or garble every terminal, UI and ``docker inspect`` that shows labels; every
    label hoist writes is one line of printable text. Keeping a per-label ``labels=`` step
    for them would bring back a build step per label for a value that is almost always a
    mistake (a YAML ``|`` block keeps its final line break).
    """
    for key, value in labels.items():
        for text, what in ((key, "name"), (value, "value")):
            control = next((c for c in text if unicodedata.category(c) == "Cc"), None)
            if control is not None:
                raise ConfigError(
                    "label",
                    key if what == "value" else repr(key),  # the error stays one line
                    f"the {what} holds a control character ({control!r}, U+{ord(control):04X});"
                    " a label is one line of printable text",
                    hint="write it on one line in pipeline.yaml's metadata; a YAML `|` block"
                    " keeps a final line break, `>-` folds the lines into one",
                )
        if "=" in key:
            raise ConfigError(
                "label",
                key,
                "a label name cannot contain '='",
                hint="rename it in pipeline.yaml's metadata.labels",
            )


def label_instruction(labels: Mapping[str, str]) -> str:
    """``LABEL "key"="value" ...``: every label in one instruction, so one build step.

    Inside Dockerfile double quotes ``\\``, ``"`` and ``$`` are the characters a backslash
    escapes (every other backslash stays as written) and ``$`` starts a substitution, so
    exactly those three are escaped; ``'``, ``#``, ``=``, spaces and any other printable
    character stand for themselves. ``check_labels`` has refused what cannot be written.
    """
    return "LABEL " + " ".join(f"{_quoted(k)}={_quoted(v)}" for k, v in labels.items())


def _quoted(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'
