"""GitHub Actions awareness: the same run, shown the way each place expects.

Locally a stage starts with a ``==> stage`` header and the run ends with the summary table
(``output.terminal``). When ``GITHUB_ACTIONS=true`` each stage is a ``::group::`` fold, secrets
are masked with ``::add-mask::`` (``pipeline.secrets`` decides what; this writes the commands),
lint findings become ``::error file=...,line=...::`` annotations on the pull request, outputs
(image, tags, digests) go to ``$GITHUB_OUTPUT`` and the summary is appended to
``$GITHUB_STEP_SUMMARY`` as Markdown — see the workflow commands reference of GitHub Actions.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TextIO

from pipeline.lint.findings import Finding, at_or_above
from pipeline.output.summary import render_markdown
from pipeline.output.terminal import LocalOutput
from pipeline.report import RunReport
from pipeline.secrets import announce_with, mask_commands, redact
from pipeline.workflow_commands import escape_data, escape_property


class GitHubOutput(LocalOutput):
    """Workflow commands for GitHub Actions, plus outputs and the job summary."""

    def __init__(self, environ: Mapping[str, str], stream: TextIO | None = None) -> None:
        super().__init__(stream)
        self.environ = environ

    def stage(self, name: str) -> None:
        self.end_stage()
        self.write_line(f"::group::{escape_data(redact(name))}")
        self._open = True

    def end_stage(self) -> None:
        if self._open:
            self.write_line("::endgroup::")
            self._open = False

    def mask(self, secret: str) -> None:
        """``::add-mask::`` for the value and each of its lines (``pipeline.secrets``)."""
        for command in mask_commands(secret):
            self.write_line(command)

    def annotate(
        self, level: str, message: str, file: str, line: int, title: str | None = None
    ) -> None:
        """``::error``/``::warning``/``::notice`` on ``file:line`` (shown on the PR diff)."""
        command = level if level in ("error", "warning") else "notice"
        props = f"file={escape_property(file)},line={max(line, 1)}"
        if title:
            props += f",title={escape_property(redact(title))}"
        self.write_line(f"::{command} {props}::{escape_data(redact(message))}")

    def findings(self, findings: Iterable[Finding], root: Path, threshold: str) -> None:
        """One annotation per finding; those that fail the lint gate are errors.

        Paths become relative to the workspace (what GitHub matches against the diff), even
        when pipeline.yaml sits in a subdirectory.
        """
        for finding in findings:
            if at_or_above(finding.level, threshold):
                level = "error"
            else:
                level = "warning" if finding.level in ("error", "warning") else "notice"
            self.annotate(
                level,
                f"{finding.message} ({finding.level})",
                self._workspace_path(root, finding.file),
                finding.line,
                title=f"{finding.tool} {finding.rule}".strip(),
            )

    def _workspace_path(self, root: Path, file: str) -> str:
        path = Path(file)
        absolute = path if path.is_absolute() else root / path
        workspace = self.environ.get("GITHUB_WORKSPACE")
        if workspace:
            try:
                return absolute.resolve().relative_to(Path(workspace).resolve()).as_posix()
            except ValueError:
                pass
        return file

    def summary(self, report: RunReport, path: Path) -> None:
        super().summary(report, path)
        if report.error:
            self.write_line(f"::error title=hoist::{escape_data(redact(report.error))}")
        self._write_outputs(report, path)
        summary_file = self.environ.get("GITHUB_STEP_SUMMARY")
        if summary_file:
            with open(summary_file, "a", encoding="utf-8") as out:
                out.write(redact(render_markdown(report)))

    def _write_outputs(self, report: RunReport, path: Path) -> None:
        output_file = self.environ.get("GITHUB_OUTPUT")
        if not output_file:
            return
        with open(output_file, "a", encoding="utf-8") as out:
            out.write(format_outputs(output_values(report, path)))


def output_values(report: RunReport, path: Path | None = None) -> dict[str, str]:
    """The step outputs a workflow reads (``steps.<id>.outputs.<name>``).

    ``digest`` is the first target's, for the common single-registry case and for deploy
    (the same image pushed everywhere has the same manifest digest); ``digests`` maps every
    target to its own. With ``build.platforms`` the digest is the image index's (by
    digest: the one platform's), and ``platforms`` maps each platform to its manifest.
    """
    digests = {p.target: p.digest for p in report.pushes if p.digest}
    references = [ref for p in report.pushes if p.ok for ref in p.references]
    return {
        "image": report.image,
        "version": report.version,
        "tags": "\n".join(report.tags),
        "image-id": report.image_id or "",
        "digests": json.dumps(digests),
        "digest": next(iter(digests.values()), ""),
        "references": "\n".join(references),
        "result": "success" if report.ok else "failure",
        "report": str(path) if path else "",
        "platforms": json.dumps({p.platform: p.digest for p in report.platforms if p.digest}),
    }


def format_outputs(values: Mapping[str, str]) -> str:
    """``$GITHUB_OUTPUT`` syntax: ``name=value``, or a heredoc with a random delimiter."""
    lines = []
    for name, value in values.items():
        if "\n" in value or "\r" in value:
            delimiter = f"ghadelimiter_{secrets.token_hex(8)}"
            lines.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
        else:
            lines.append(f"{name}={value}\n")
    return "".join(lines)


def output_for(environ: Mapping[str, str]) -> LocalOutput:
    """The output for this environment, made the one told of every secret (``announce_with``)."""
    github = environ.get("GITHUB_ACTIONS") == "true"
    output: LocalOutput = GitHubOutput(environ) if github else LocalOutput()
    announce_with(output.mask)
    return output
