"""GitHub Actions awareness: the same run, shown the way each place expects.

Locally a stage starts with a ``==> stage`` header and the run ends with the summary table.
When ``GITHUB_ACTIONS=true`` each stage is a ``::group::`` fold, secrets are masked with
``::add-mask::``, lint findings become ``::error file=...,line=...::`` annotations on the pull
request, outputs (image, tags, digests) go to ``$GITHUB_OUTPUT`` and the summary is appended to
``$GITHUB_STEP_SUMMARY`` as Markdown — see the workflow commands reference of GitHub Actions.

Secrets. Whatever secret the pipeline obtains at run time (a registry password found by
credential discovery, an ECR/ACR/GCR token it exchanged for one) is unknown to the runner,
which only masks the repository's own ``secrets.*``. So the code that obtains one calls
``mask_secret`` at once, before any line could contain it — credential discovery
(``pipeline.push.registries.target_credentials``) does, for push, deploy and login alike: the
value is remembered for the whole process (the log is process-wide, like stdout) and the
active output is told (in Actions, one is made if the task has none). On GitHub
that prints ``::add-mask::`` — the runner hides that line and every later occurrence —; both
outputs also replace known secrets in the lines they print themselves, so a local terminal or
a log file never shows one either.

Lines are written whole, under one lock: push runs targets in threads, and ``print`` writes a
line and its newline separately, so another thread's text could otherwise land in front of a
``::add-mask::`` and the runner would not recognise the command (and show the secret).
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TextIO

if TYPE_CHECKING:
    from pipeline.push.registries.base import Credentials
    from pipeline.report import RunReport

MASK = "***"
MIN_SECRET_LENGTH = 4
"""Shorter values are not redacted by hoist itself: "***" for every "a" would garble logs.
(``::add-mask::`` is still sent for them: the runner decides.)"""

_LEVELS = ("error", "warning", "info", "style")
_lock = threading.RLock()
_secrets: set[str] = set()
_active: LocalOutput | None = None


class FindingLike(Protocol):
    """What an annotation needs from a lint finding (``pipeline.lint.stage.Finding``)."""

    tool: str
    file: str
    line: int
    rule: str
    level: str
    message: str


def escape_data(value: str) -> str:
    """Escape a workflow command's message (GitHub's toolkit rules: %, CR, LF)."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """Escape a workflow command's property value (also : and ,)."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def redact(text: str) -> str:
    """``text`` with every secret registered so far replaced by ``***`` (longest first)."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for value in known:
        if len(value) >= MIN_SECRET_LENGTH:
            text = text.replace(value, MASK)
    return text


def mask_secret(value: str | None) -> None:
    """Register a secret the pipeline just obtained, before anything could print it.

    Call it where the value enters the process (credential discovery, token exchange). Each
    line of a multi-line secret (a JSON key file) is masked on its own, because the runner
    matches line by line.
    """
    if not value:
        return
    parts = [value, *(line for line in value.splitlines() if line.strip())]
    with _lock:
        new = [part for part in dict.fromkeys(parts) if part not in _secrets]
        _secrets.update(new)
        output = _active
    if not new:
        return
    if output is not None:
        output.mask(value)
    elif os.environ.get("GITHUB_ACTIONS") == "true":
        # A task that prints without an output of its own (deploy, login) still runs in
        # Actions: make one, which announces every secret registered so far, this one too.
        output_for(os.environ)


def mask_credentials(credentials: Credentials | None) -> Credentials | None:
    """``mask_secret`` for a credential's secret half; returns it unchanged, for chaining.

    Usernames are not masked: they are not secret, and masking ``AWS`` or
    ``oauth2accesstoken`` would blank out unrelated words all over the log.
    """
    if credentials is not None:
        mask_secret(credentials.password)
    return credentials


class LocalOutput:
    """Plain, readable output for a terminal."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._open = False

    @property
    def stream(self) -> TextIO:
        """stdout as it is when writing (pytest's capsys swaps it after we were made)."""
        return self._stream or sys.stdout

    def write_line(self, line: str) -> None:
        """One whole line at once, under the output lock (see the module docstring)."""
        with _lock:
            self.stream.write(line + "\n")
            self.stream.flush()

    def say(self, line: str) -> None:
        """A progress line, with any known secret replaced by ``***``."""
        self.write_line(redact(line))

    def stage(self, name: str) -> None:
        self.say(f"==> {name}")

    def end_stage(self) -> None:
        pass

    def mask(self, secret: str) -> None:
        """Nothing to tell a terminal: ``say`` already redacts every registered secret."""

    def findings(self, findings: Iterable[FindingLike], root: Path, threshold: str) -> None:
        """Locally the lint stage already printed each finding as ``file:line: ...``."""

    def summary(self, report: RunReport, path: Path) -> None:
        from pipeline.report import render_summary

        self.say("")
        for line in render_summary(report).splitlines():
            self.say(line)
        self.say(f"report: {path}")


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
        """``::add-mask::`` for the value and, separately, for each of its lines.

        Never redacted (the runner must see the real value) and never logged otherwise: the
        runner removes the command line itself from the log.
        """
        for part in dict.fromkeys([secret, *secret.splitlines()]):
            if part.strip() and "\n" not in part and "\r" not in part:
                self.write_line(f"::add-mask::{escape_data(part)}")

    def annotate(
        self, level: str, message: str, file: str, line: int, title: str | None = None
    ) -> None:
        """``::error``/``::warning``/``::notice`` on ``file:line`` (shown on the PR diff)."""
        command = level if level in ("error", "warning") else "notice"
        props = f"file={escape_property(file)},line={max(line, 1)}"
        if title:
            props += f",title={escape_property(redact(title))}"
        self.write_line(f"::{command} {props}::{escape_data(redact(message))}")

    def findings(self, findings: Iterable[FindingLike], root: Path, threshold: str) -> None:
        """One annotation per finding; those that fail the lint gate are errors.

        Paths become relative to the workspace (what GitHub matches against the diff), even
        when pipeline.yaml sits in a subdirectory.
        """
        limit = _LEVELS.index(threshold) if threshold in _LEVELS else -1
        for finding in findings:
            level_index = _LEVELS.index(finding.level) if finding.level in _LEVELS else 0
            if level_index <= limit:
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
        from pipeline.report import render_markdown

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
    target to its own.
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
    """The output for this environment, made the active one (``mask_secret`` reaches it).

    Secrets registered before it existed are announced to it at once, so the order in which
    a task creates its output and discovers credentials does not matter.
    """
    global _active
    github = environ.get("GITHUB_ACTIONS") == "true"
    output: LocalOutput = GitHubOutput(environ) if github else LocalOutput()
    with _lock:
        _active = output
        known = [value for value in _secrets if "\n" not in value]
    for value in known:
        output.mask(value)
    return output
