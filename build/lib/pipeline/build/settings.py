"""``build:`` of pipeline.yaml: context, Dockerfile, args, target, the base-image ARG."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.config.fields import Fields

KEYS = ("context", "dockerfile", "args", "target", "base_arg")
_SECRET_ARG_RE = re.compile(r"TOKEN|PASSWORD|PASSWD|SECRET|KEY|CREDENTIAL", re.IGNORECASE)


@dataclass(frozen=True)
class BuildConfig:
    context: Path
    dockerfile: Path
    args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    base_arg: str = "BASE_IMAGE"


def parse_build(top: Fields, root: Path) -> BuildConfig:
    """The ``build`` section, with context and Dockerfile resolved against ``root`` and checked."""
    return _resolve_paths(_build(top.section("build", KEYS)), root, top)


def _build(section: Fields) -> BuildConfig:
    args = section.str_map("args")
    for name in args:
        if _SECRET_ARG_RE.search(name):
            raise section.error(
                f"args.{name}",
                "looks like a secret; build args are stored in the image history",
                hint="pass secrets as build secrets (RUN --mount=type=secret), never as args",
            )
    base_arg = section.text("base_arg", "BASE_IMAGE")
    assert base_arg is not None
    return BuildConfig(
        context=Path(section.text("context", ".") or "."),
        dockerfile=Path(section.text("dockerfile", "Dockerfile") or "Dockerfile"),
        args=args,
        target=section.text("target"),
        base_arg=base_arg,
    )


def _resolve_paths(build: BuildConfig, root: Path, top: Fields) -> BuildConfig:
    context = (root / build.context).resolve()
    if not context.is_dir():
        raise top.error("build.context", f"directory {build.context} not found (next to the file)")
    dockerfile = (context / build.dockerfile).resolve()
    if not dockerfile.is_relative_to(context):
        raise top.error(
            "build.dockerfile",
            f"{build.dockerfile} is outside the build context {build.context}",
            hint="put the Dockerfile inside the context directory",
        )
    if not dockerfile.is_file():
        raise top.error(
            "build.dockerfile",
            f"{build.dockerfile} not found in {build.context}",
            hint="create it or set build.dockerfile",
        )
    try:
        dockerfile.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        problem = f"{build.dockerfile} is not UTF-8 text (byte {exc.start})"
        raise top.error("build.dockerfile", problem) from None
    return BuildConfig(context, dockerfile, build.args, build.target, build.base_arg)
