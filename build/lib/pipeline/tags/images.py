"""metadata-action's ``images`` input and the ``image:tag`` references it gives."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pipeline.config.names import IMAGE_NAME_RE
from pipeline.errors import ConfigError
from pipeline.tags.lines import csv_fields, rule_lines


@dataclass(frozen=True)
class ImageInput:
    """One image of metadata-action's ``images`` input; ``enable=false`` keeps it out."""

    name: str
    enable: bool = True


_IMAGE_HINT = "one image a line: IMAGE, IMAGE,enable=false or name=IMAGE,enable=true"


def parse_images(lines: Iterable[str], source: str = "images") -> list[ImageInput]:
    """metadata-action's ``images`` input: ``name=IMAGE,enable=BOOL``, ``IMAGE,enable=BOOL``
    or ``IMAGE``, one image a line; names lower-cased and checked.

    Its rules, so a workflow's input gives the same images here: fields are CSV (a field
    may be "double-quoted"), keys are case-insensitive, ``enable`` is exactly ``true`` or
    ``false``, an unknown attribute or an empty name is an error, blank lines and ``#``
    lines are skipped. A single line without any ``key=value`` is the older form, a
    comma-separated list of names (``org/app,ghcr.io/org/app``). Unlike metadata-action, a
    line naming two images (``org/app,name=org/other``) is an error rather than the last
    one silently winning.
    """
    texts = rule_lines(lines)
    images: list[ImageInput] = []
    for text in texts:
        try:
            fields = [f.strip() for f in csv_fields(text) if f.strip()]
            if len(texts) == 1 and not any("=" in f for f in fields):
                images.extend(ImageInput(f.lower()) for f in fields)  # the older list form
            else:
                images.append(_image_line(fields))
        except ValueError as exc:
            raise ConfigError(source, repr(text), str(exc), hint=_IMAGE_HINT) from None
    for image in images:
        check_image_name(image.name, source)
    return images


def _image_line(fields: Sequence[str]) -> ImageInput:
    name: str | None = None
    enable = True
    for text in fields:
        key, sep, value = text.partition("=")
        key, value = (key.strip().lower(), value.strip()) if sep else ("name", text)
        if key == "name":
            if name is not None:
                raise ValueError(f"names two images, {name!r} and {value!r}")
            name = value.lower()
        elif key == "enable":
            if value not in ("true", "false"):
                raise ValueError(f"enable must be true or false, got {value!r}")
            enable = value == "true"
        else:
            raise ValueError(f"unknown image attribute {key!r} (use name, enable)")
    if not name:
        raise ValueError("the image name is empty")
    return ImageInput(name, enable)


def check_image_name(image: str, source: str = "images") -> None:
    """A repository name without tag or digest (Docker refuses upper case: lower it first)."""
    if not image or "@" in image or ":" in image.rsplit("/", 1)[-1]:
        raise ConfigError(
            source,
            repr(image),
            "must be an image name without a tag or digest",
            hint="write ghcr.io/owner/app, not ghcr.io/owner/app:1.0",
        )
    if not IMAGE_NAME_RE.match(image):
        raise ConfigError(
            source,
            repr(image),
            "is not a valid image name",
            hint="letters, digits and . _ - separated by /, after an optional HOST[:PORT]/",
        )


def image_references(images: Sequence[str], tags: Sequence[str]) -> list[str]:
    """Every ``image:tag``, all tags of the first image first, like metadata-action's output.

    Image names are lower-cased (Docker refuses upper case in repositories) and checked with
    ``check_image_name``. No image at all (every one ``enable=false``) gives the bare tags,
    as metadata-action does.
    """
    names = list(dict.fromkeys(name.strip().lower() for name in images))
    if not names:
        return list(tags)
    references: list[str] = []
    for image in names:
        check_image_name(image)
        references.extend(f"{image}:{tag}" for tag in tags)
    return references
