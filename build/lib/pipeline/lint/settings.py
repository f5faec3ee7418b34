"""``lint:`` of pipeline.yaml: which linters run and the level at which findings fail."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.config.fields import Fields
from pipeline.lint.findings import THRESHOLDS


@dataclass(frozen=True)
class LintConfig:
    hadolint: bool = True
    eslint: bool = True
    ruff: list[str] = field(default_factory=list)
    failure_threshold: str = "warning"
    workflows: bool = True  # zizmor + schema check of .github/workflows/*.yml when present


KEYS = tuple(LintConfig.__dataclass_fields__)


def parse_lint(top: Fields) -> LintConfig:
    section = top.section("lint", KEYS)
    threshold = section.text("failure_threshold", "warning")
    if threshold not in THRESHOLDS:
        raise section.error(
            "failure_threshold", f"{threshold!r} is not one of {', '.join(THRESHOLDS)}"
        )
    assert threshold is not None
    return LintConfig(
        hadolint=section.boolean("hadolint", True),
        eslint=section.boolean("eslint", True),
        workflows=section.boolean("workflows", True),
        ruff=section.str_list("ruff"),
        failure_threshold=threshold,
    )
