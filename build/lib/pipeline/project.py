"""pipeline.yaml -> a typed, validated ``PipelineConfig``: every stage's section, put together.

Why hand-written validation rather than a schema library: every error must be one line that
names the file and the field path (``pipeline.yaml: smoke.port: expected an integer, got 'x'``)
and what to do, and the core dependencies are fixed. Each stage package parses its own section
(``<stage>/settings.py``) with ``pipeline.config.fields.Fields``; unknown keys are refused so a
typo never silently falls back to a default.

Paths in the file are relative to the file's own directory, so ``invoke ci --config
other-app/pipeline.yaml`` works from anywhere; without ``--config`` the nearest pipeline.yaml
from the current directory up is used, as git finds its repository.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pipeline.build.settings import BuildConfig, parse_build
from pipeline.config.fields import Fields
from pipeline.config.names import IMAGE_NAME_RE
from pipeline.config.source import DEFAULT_CONFIG, read_yaml
from pipeline.deploy.settings import (
    DeployEnvironment,
    Deployment,
    default_environment,
    parse_deploy,
    select_environment,
)
from pipeline.errors import ConfigError
from pipeline.lint.settings import LintConfig, parse_lint
from pipeline.paths import find_config, use_project
from pipeline.push.registries.base import TargetConfig
from pipeline.push.settings import default_registries, parse_registries
from pipeline.smoke.settings import SmokeConfig, parse_smoke
from pipeline.tags.settings import MetadataConfig, parse_metadata

SECTIONS = ("image", "build", "metadata", "lint", "smoke", "registries", "deploy")


@dataclass(frozen=True)
class PipelineConfig:
    path: Path
    image: str
    build: BuildConfig
    metadata: MetadataConfig
    lint: LintConfig
    smoke: SmokeConfig
    registries: list[TargetConfig]
    deploy: dict[str, DeployEnvironment] = field(default_factory=dict)
    registries_given: bool = True  # False: no registries: in the file, see in_environment

    @property
    def root(self) -> Path:
        return self.path.parent

    def in_environment(self, environ: Mapping[str, str]) -> PipelineConfig:
        """This configuration as a run in ``environ`` uses it: without ``registries:`` the
        targets are that environment's default (GHCR in GitHub Actions: ``default_registries``),
        and a deploy environment's ``registry`` must name one of them."""
        if self.registries_given:
            return self
        targets = default_registries(environ)
        names = [t.name for t in targets]
        for env in self.deploy.values():
            if env.registry is not None and env.registry not in names:
                raise ConfigError(
                    self.path.name,
                    f"deploy.{env.name}.registry",
                    f"no push target named {env.registry!r}: with no registries: listed, "
                    f"this run pushes to {', '.join(names)}",
                    hint="list the target under registries:",
                )
        return replace(self, registries=targets)

    def deployment(self, env_name: str | None) -> Deployment:
        """``--env NAME`` (or the only environment, or the defaults) with what deploy needs
        from the other sections."""
        default = default_environment(self.image, self.smoke)
        env = select_environment(self.deploy, env_name, default, self.path.name)
        targets, checks = tuple(self.registries), tuple(self.smoke.checks)
        return Deployment(env, self.image, targets, checks, self.path)


def open_project(path: str | Path | None, environ: Mapping[str, str]) -> PipelineConfig:
    """The pipeline.yaml a task runs (``--config``, else the nearest one) as ``environ`` uses
    it (``in_environment``), with this process's state (``.hoist/``) kept beside it."""
    config = load_config(path).in_environment(environ)
    use_project(config.root)
    return config


def load_config(path: str | Path | None = None) -> PipelineConfig:
    """Read and validate a pipeline.yaml (None: the nearest one from the current directory
    up); every problem is a ``ConfigError`` (exit code 2)."""
    if path is None:
        config_path = _nearest_config()
        source = os.path.relpath(config_path)  # how errors name it: ../pipeline.yaml
    else:
        config_path, source = Path(path).absolute(), str(path)
        if config_path.is_dir():
            config_path = config_path / DEFAULT_CONFIG
            source = str(Path(path) / DEFAULT_CONFIG)
    return parse_config(read_yaml(config_path, source), config_path, source)


def _nearest_config() -> Path:
    found = find_config(Path.cwd())
    if found is None:
        raise ConfigError(
            DEFAULT_CONFIG,
            None,
            f"not found in {Path.cwd()} or any directory above it",
            hint="run hoist inside your project, or pass --config PATH",
        )
    return found


def parse_config(data: Any, config_path: Path, source: str) -> PipelineConfig:
    """Each section in the order the stages run: later sections may default from earlier ones
    (deploy's health rules from smoke's, its ``registry`` must name a push target)."""
    if data is None:
        raise ConfigError(source, None, "file is empty", hint="see the project's pipeline.yaml")
    top = Fields(source, "", data, SECTIONS)
    root = config_path.parent
    image = _image_name(top)
    smoke = parse_smoke(top, root)
    registries = parse_registries(top)
    given = top.data.get("registries") is not None
    return PipelineConfig(
        path=config_path,
        image=image,
        build=parse_build(top, root),
        metadata=parse_metadata(top),
        lint=parse_lint(top),
        smoke=smoke,
        registries=registries,
        # without registries: the targets are known only in the run (in_environment checks)
        deploy=parse_deploy(top, root, image, smoke, registries if given else []),
        registries_given=given,
    )


def _image_name(top: Fields) -> str:
    image = top.text("image", required=True)
    assert image is not None
    if ":" in image.rsplit("/", 1)[-1] or "@" in image:
        raise top.error("image", f"{image!r} must be a name without a tag or digest")
    if not IMAGE_NAME_RE.match(image):
        raise top.error(
            "image",
            f"{image!r} is not a valid image name",
            hint="use lower-case letters, digits and . _ - separated by /",
        )
    return image
