"""Which platforms a run builds: ``build.platforms``, narrowed by ``--platform``, and the
refusals that must come before any build.

None means the run is the one-platform run it always was (no key, no flag): the same code
path, untouched. Anything else goes through ``platforms.stages``.
"""

from __future__ import annotations

from pipeline.build.platforms import Platform, parse_platform
from pipeline.errors import ConfigError
from pipeline.project import PipelineConfig


def run_platforms(
    config: PipelineConfig, platform: str | None, by_digest: bool, stages: tuple[str, ...]
) -> tuple[Platform, ...] | None:
    """The platforms this run builds (empty: only the engine's own, through the platform
    path because ``--by-digest`` asks for it), or None for today's path."""
    configured = config.build.platforms
    if by_digest and "push" not in stages:
        raise ConfigError(
            "--by-digest",
            None,
            "only means something when pushing",
            hint="use it with `invoke push`",
        )
    chosen = configured
    if platform:
        try:
            wanted = parse_platform(platform)
        except ValueError as exc:
            raise ConfigError("--platform", None, str(exc)) from None
        if configured and not any(wanted.matches(p) for p in configured):
            listed = ", ".join(str(p) for p in configured)
            raise ConfigError(
                "--platform",
                None,
                f"{wanted} is not in build.platforms ({listed})",
                hint="add it there, or pick one of those",
            )
        chosen = (wanted,)
    if not chosen and not by_digest:
        return None
    if config.build.backend == "classic":
        raise ConfigError(
            config.path.name,
            "build.backend",
            "is classic, and building for a platform needs BuildKit",
            hint="set build.backend: buildkit or auto",
        )
    return chosen
