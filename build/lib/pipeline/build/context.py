"""What the engine receives as the build context, and the one mistake in it worth stopping for."""

from __future__ import annotations

from pathlib import Path

from docker.utils.build import exclude_paths

from pipeline.errors import ConfigError


def context_files(context: Path, dockerfile: Path) -> set[str]:
    """The paths the engine will receive: the context minus .dockerignore, as docker-py sends it."""
    ignore = context / ".dockerignore"
    patterns: list[str] = []
    if ignore.is_file():
        lines = (line.strip() for line in ignore.read_text(errors="replace").splitlines())
        patterns = [line for line in lines if line and not line.startswith("#")]
    return set(exclude_paths(str(context), patterns, str(dockerfile.relative_to(context))))


def check_context(context: Path, dockerfile: Path) -> None:
    """Refuse a context whose files include a symlink leading outside it.

    Such a link works on the author's machine and means something else (or nothing) inside
    the image and on every other machine; it is almost always a mistake worth stopping for.
    """
    root = context.resolve()
    for relative in sorted(context_files(context, dockerfile)):
        path = context / relative
        if path.is_symlink() and not path.resolve().is_relative_to(root):
            raise ConfigError(
                str(context),
                relative,
                "is a symlink pointing outside the build context",
                hint="copy the file into the context or list it in .dockerignore",
            )
