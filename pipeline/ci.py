"""GitHub Actions awareness: the same run, shown the way each place expects.

Locally a stage starts with a ``==> stage`` header and the run ends with the summary table.
When ``GITHUB_ACTIONS=true`` each stage is a ``::group::`` fold, secrets are masked with
``::add-mask::``, lint findings become ``::error file=...,line=...::`` annotations on the pull
request, outputs (image, tags, digests) go to ``$GITHUB_OUTPUT`` and the summary is appended to
``$GITHUB_STEP_SUMMARY`` as Markdown — see the workflow commands reference of GitHub Actions.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from pathlib import Path

from pipeline.report import RunReport, render_markdown, render_summary


def escape_data(value: str) -> str:
    """Escape a workflow command's message (GitHub's toolkit rules: %, CR, LF)."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """Escape a workflow command's property value (also : and ,)."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


class LocalOutput:
    """Plain, readable output for a terminal."""

    def __init__(self) -> None:
        self._open = False

    def stage(self, name: str) -> None:
        print(f"==> {name}", flush=True)

    def end_stage(self) -> None:
        pass

    def mask(self, secret: str) -> None:
        pass

    def summary(self, report: RunReport, path: Path) -> None:
        print("", flush=True)
        print(render_summary(report), flush=True)
        print(f"report: {path}", flush=True)


class GitHubOutput(LocalOutput):
    """Workflow commands for GitHub Actions, plus outputs and the job summary."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        super().__init__()
        self.environ = environ

    def stage(self, name: str) -> None:
        self.end_stage()
        print(f"::group::{escape_data(name)}", flush=True)
        self._open = True

    def end_stage(self) -> None:
        if self._open:
            print("::endgroup::", flush=True)
            self._open = False

    def mask(self, secret: str) -> None:
        for line in secret.splitlines():
            if line.strip():
                print(f"::add-mask::{escape_data(line)}", flush=True)

    def annotate(self, level: str, message: str, file: str, line: int) -> None:
        command = "error" if level == "error" else "warning" if level == "warning" else "notice"
        props = f"file={escape_property(file)},line={line}"
        print(f"::{command} {props}::{escape_data(message)}", flush=True)

    def summary(self, report: RunReport, path: Path) -> None:
        super().summary(report, path)
        self._write_outputs(report)
        summary_file = self.environ.get("GITHUB_STEP_SUMMARY")
        if summary_file:
            with open(summary_file, "a", encoding="utf-8") as out:
                out.write(render_markdown(report))

    def _write_outputs(self, report: RunReport) -> None:
        output_file = self.environ.get("GITHUB_OUTPUT")
        if not output_file:
            return
        digests = {p.target: p.digest for p in report.pushes if p.digest}
        values = {
            "image": report.image,
            "version": report.version,
            "tags": "\n".join(report.tags),
            "image-id": report.image_id or "",
            "digests": json.dumps(digests),
            "digest": next(iter(digests.values()), ""),
            "result": "success" if report.ok else "failure",
        }
        with open(output_file, "a", encoding="utf-8") as out:
            for name, value in values.items():
                if "\n" in value:
                    delimiter = f"ghadelimiter_{secrets.token_hex(8)}"
                    out.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
                else:
                    out.write(f"{name}={value}\n")


def output_for(environ: Mapping[str, str]) -> LocalOutput:
    if environ.get("GITHUB_ACTIONS") == "true":
        return GitHubOutput(environ)
    return LocalOutput()
