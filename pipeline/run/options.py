"""What a task asks of a run: which stages, to which targets, and the explicit ways around."""

from __future__ import annotations

from dataclasses import dataclass

STAGES = ("lint", "build", "smoke", "push")


@dataclass(frozen=True)
class RunOptions:
    stages: tuple[str, ...] = STAGES
    targets: tuple[str, ...] = ()
    skip_smoke: bool = False
    sarif: str | None = None  # write lint findings as SARIF 2.1.0 here
    junit: str | None = None  # write smoke results as JUnit XML here (default: state dir)
    reuse_verdicts: bool = True  # False: --no-cache, every stage runs again
    platform: str | None = None  # build only this one of build.platforms (a matrix job)
    by_digest: bool = False  # push each platform by digest, nothing tagged (`invoke merge`)

    @property
    def planned(self) -> tuple[str, ...]:
        """The stages that will run, in flow order (smoke left out by ``--skip-smoke``)."""
        return tuple(
            s for s in STAGES if s in self.stages and not (s == "smoke" and self.skip_smoke)
        )
