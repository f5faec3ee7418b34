"""What every linter's output becomes: a ``Finding`` on the one level scale hoist uses.

The scale is hadolint's (error > warning > info > style); other tools' severities are mapped
onto it where they are read, and ``lint.failure_threshold`` is a level of it (or ``none``).
The terminal, the GitHub annotations and the SARIF file all read it from here.
"""

from __future__ import annotations

from dataclasses import dataclass

LEVELS = ("error", "warning", "info", "style")
THRESHOLDS = (*LEVELS, "none")


def at_or_above(level: str, threshold: str) -> bool:
    """Whether a finding of ``level`` reaches ``threshold`` (an unknown level counts as error)."""
    if threshold not in LEVELS:
        return False
    rank = LEVELS.index(level) if level in LEVELS else 0
    return rank <= LEVELS.index(threshold)


@dataclass(frozen=True)
class Finding:
    tool: str
    file: str
    line: int
    rule: str
    level: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.level} {self.rule} {self.message} [{self.tool}]"


@dataclass(frozen=True)
class LintResult:
    findings: list[Finding]
    tools: list[str]
    skipped: list[str]

    def failing(self, threshold: str) -> list[Finding]:
        """Findings at or above ``threshold`` ("none" never fails)."""
        return [f for f in self.findings if at_or_above(f.level, threshold)]
