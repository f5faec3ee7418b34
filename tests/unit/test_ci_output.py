"""pipeline.output.github and pipeline.secrets: workflow commands, masks, annotations,
$GITHUB_OUTPUT and the step summary.

The masking tests replay what GitHub's runner does with a job's stdout (``RunnerLog``): a
``::add-mask::`` line registers a value and is itself hidden; every later line has the
registered values replaced by ``***``. A secret must never survive that, and hoist's own
lines must not contain it even before the runner's masking (a local terminal has none).
"""

from __future__ import annotations

import io
import json
import re
import secrets
import threading
from pathlib import Path

import pytest

from pipeline import secrets as registered
from pipeline.lint.findings import Finding
from pipeline.output.github import GitHubOutput, format_outputs, output_for
from pipeline.output.terminal import LocalOutput
from pipeline.push.target import PushResult
from pipeline.report import RunReport
from pipeline.result import StageResult, Status
from pipeline.secrets import announce_with, mask_secret, redact
from pipeline.workflow_commands import escape_data, escape_property


def _unescape(value: str) -> str:
    return value.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


class RunnerLog:
    """What GitHub's runner shows for a stream of lines (its masking, in miniature)."""

    def __init__(self) -> None:
        self.masks: list[str] = []
        self.shown: list[str] = []

    def feed(self, text: str) -> list[str]:
        for line in text.splitlines():
            if line.startswith("::add-mask::"):
                self.masks.append(_unescape(line[len("::add-mask::") :]))
                continue  # the command line itself is never shown
            for mask in sorted(self.masks, key=len, reverse=True):
                line = line.replace(mask, "***")
            self.shown.append(line)
        return self.shown


def new_secret() -> str:
    return f"s3cr3t-{secrets.token_urlsafe(12)}"


@pytest.fixture(autouse=True)
def _fresh_process_state(monkeypatch):
    """Each test starts like a new process: no announcer, no registered secret.

    (Both are process-wide on purpose: stdout is. A real task makes one output.)
    """
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)  # the suite may itself run in Actions
    previous, known = registered._announce, set(registered._secrets)
    announce_with(None)
    registered._secrets.clear()
    yield
    registered._announce = previous
    registered._secrets.clear()
    registered._secrets.update(known)


def _report(**overrides) -> RunReport:
    report = RunReport(
        run_id="20260101000000-abc123",
        config="/w/pipeline.yaml",
        image="node-app",
        started="2026-01-01T00:00:00+00:00",
        version="1.2.3",
        tags=["1.2.3", "1.2", "1", "latest"],
        image_id="sha256:" + "a" * 64,
        stages=[
            StageResult("lint", Status.PASSED, 1.0, "hadolint: 0 finding(s)"),
            StageResult("push", Status.PASSED, 2.0, "2 target(s)"),
        ],
        pushes=[
            PushResult(
                "local",
                "127.0.0.1:5000/node-app",
                references=[
                    f"127.0.0.1:5000/node-app:{t}" for t in ("1.2.3", "1.2", "1", "latest")
                ],
                digest="sha256:" + "b" * 64,
                attempts=1,
                seconds=0.5,
            ),
            PushResult(
                "ghcr",
                "ghcr.io/acme/node-app",
                references=["ghcr.io/acme/node-app:1.2.3"],
                digest="sha256:" + "b" * 64,
                attempts=2,
                seconds=1.5,
            ),
        ],
    )
    for key, value in overrides.items():
        setattr(report, key, value)
    return report


def parse_github_output(text: str) -> dict[str, str]:
    """Read $GITHUB_OUTPUT the way the runner does (name=value and name<<DELIM heredocs)."""
    values: dict[str, str] = {}
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            while lines[index] != delimiter:
                body.append(lines[index])
                index += 1
            index += 1
            values[name] = "\n".join(body)
        else:
            name, value = line.split("=", 1)
            values[name] = value
    return values


# --- escaping ---------------------------------------------------------------------------------


def test_escaping_follows_the_toolkit_rules() -> None:
    assert escape_data("50%\r\nnext") == "50%25%0D%0Anext"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


# --- local output -----------------------------------------------------------------------------


def test_local_output_is_plain_text(capsys) -> None:
    output = output_for({})
    assert type(output) is LocalOutput
    output.stage("build")
    output.say("step 1/5")
    output.end_stage()
    output.findings([Finding("ruff", "a.py", 3, "F401", "error", "unused")], Path("/w"), "warning")
    out = capsys.readouterr().out
    assert out == "==> build\nstep 1/5\n"
    assert "::" not in out


def test_local_output_never_prints_a_registered_secret(capsys) -> None:
    output = output_for({"GITHUB_ACTIONS": "false"})
    secret = new_secret()
    mask_secret(secret)
    output.say(f"login with {secret} failed")
    out = capsys.readouterr().out
    assert secret not in out
    assert "login with *** failed" in out
    assert "add-mask" not in out


def test_local_summary_is_the_plain_table(capsys, tmp_path: Path) -> None:
    output_for({}).summary(_report(), tmp_path / "run.json")
    out = capsys.readouterr().out
    assert "stage" in out and "127.0.0.1:5000/node-app:1.2.3" in out
    assert f"report: {tmp_path / 'run.json'}" in out
    assert "::" not in out.replace("sha256:", "")


# --- groups -----------------------------------------------------------------------------------


def test_each_stage_is_a_group_closed_before_the_next(capsys) -> None:
    output = output_for({"GITHUB_ACTIONS": "true"})
    assert isinstance(output, GitHubOutput)
    output.stage("lint")
    output.say("ok")
    output.stage("build")
    output.end_stage()
    output.end_stage()  # idempotent: the task's finally may close an already closed group
    assert capsys.readouterr().out.splitlines() == [
        "::group::lint",
        "ok",
        "::endgroup::",
        "::group::build",
        "::endgroup::",
    ]


# --- masking ----------------------------------------------------------------------------------


def test_a_secret_is_masked_before_any_line_can_show_it(capsys) -> None:
    output = output_for({"GITHUB_ACTIONS": "true"})
    secret = new_secret()
    mask_secret(secret)
    output.say(f"token={secret}")
    print(f"even a stray print of {secret}")  # a line hoist did not write itself
    raw = capsys.readouterr().out
    assert raw.splitlines()[0] == f"::add-mask::{secret}"
    shown = RunnerLog().feed(raw)
    assert all(secret not in line for line in shown)
    assert "token=***" in shown and "even a stray print of ***" in shown
    # hoist's own line was redacted even before the runner masked it
    assert f"token={secret}" not in raw


def test_secrets_found_before_the_output_exists_are_announced_to_it(capsys) -> None:
    secret = new_secret()
    mask_secret(secret)
    assert capsys.readouterr().out == ""  # no output active yet: nothing printed
    output_for({"GITHUB_ACTIONS": "true"})
    assert f"::add-mask::{secret}" in capsys.readouterr().out.splitlines()


def test_in_actions_a_task_without_an_output_still_masks(capsys, monkeypatch) -> None:
    """deploy and login print with plain ``say``; their credentials are masked all the same:
    the command goes straight to stdout, where the runner reads it."""
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    secret = new_secret()
    mask_secret(secret)
    assert capsys.readouterr().out.splitlines() == [f"::add-mask::{secret}"]


def test_credential_discovery_masks_for_every_caller(capsys) -> None:
    from pipeline.push.registries.base import TargetConfig
    from pipeline.push.registries.kinds import resolve_target, target_credentials

    output_for({"GITHUB_ACTIONS": "true"})
    password = new_secret()
    environ = {"QUAY_USERNAME": "acme+robot", "QUAY_PASSWORD": password}
    config = TargetConfig(kind="quay", name="quay", repository="quay.io/acme/app")
    target = resolve_target(config, "acme/app", environ)
    credentials = target_credentials(target, environ)
    assert credentials is not None and credentials.password == password
    assert capsys.readouterr().out.splitlines() == [f"::add-mask::{password}"]  # not the user
    assert redact("user acme+robot") == "user acme+robot"


def test_a_secret_is_announced_once(capsys) -> None:
    output_for({"GITHUB_ACTIONS": "true"})
    secret = new_secret()
    mask_secret(secret)
    mask_secret(secret)
    mask_secret("")
    mask_secret(None)
    assert capsys.readouterr().out.count("::add-mask::") == 1


def test_multiline_and_special_character_secrets(capsys) -> None:
    output = output_for({"GITHUB_ACTIONS": "true"})
    key = json.dumps({"type": "service_account", "private_key": new_secret()}, indent=2)
    odd = f"p%40ss,w:rd%{secrets.token_hex(4)}"
    mask_secret(key)
    mask_secret(odd)
    for line in key.splitlines():
        output.say(f"gcloud said: {line}")
    output.say(f"docker login -p {odd}")
    raw = capsys.readouterr().out
    shown = RunnerLog().feed(raw)
    assert all(odd not in line for line in shown)
    private = json.loads(key)["private_key"]
    assert all(private not in line for line in shown)
    # every add-mask line is one physical line carrying the escaped value
    masks = [line for line in raw.splitlines() if line.startswith("::add-mask::")]
    assert f"::add-mask::{escape_data(odd)}" in masks
    assert all("\n" not in m for m in masks)


def test_mask_commands_stay_whole_lines_while_threads_log() -> None:
    """Push logs from one thread per target; a mask must never land mid-line."""
    stream = io.StringIO()
    output = GitHubOutput({"GITHUB_ACTIONS": "true"}, stream=stream)
    announce_with(output.mask)
    found = [new_secret() for _ in range(40)]

    def chatter(worker: int) -> None:
        for n in range(300):
            output.say(f"[target-{worker}] layer {n}: Pushed")

    def discover() -> None:
        for secret in found:
            mask_secret(secret)
            output.say(f"[ecr] using token {secret}")

    threads = [threading.Thread(target=chatter, args=(w,)) for w in range(4)]
    threads.append(threading.Thread(target=discover))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    raw = stream.getvalue()
    for line in raw.splitlines():
        assert "::add-mask::" not in line or line.startswith("::add-mask::")
    shown = RunnerLog().feed(raw)
    assert not any(secret in line for secret in found for line in shown)
    assert sum(line.startswith("[target-") for line in shown) == 4 * 300


def test_the_push_engine_masks_credentials_as_it_discovers_them(capsys) -> None:
    """Credential discovery itself announces the mask, before any push line."""
    from pipeline.push.registries.base import TargetConfig
    from pipeline.push.registries.kinds import resolve_target
    from pipeline.push.registries.retry import RetryPolicy
    from pipeline.push.target import TargetPush

    output_for({"GITHUB_ACTIONS": "true"})
    password = new_secret()
    environ = {"REGISTRY_USERNAME": "ci", "REGISTRY_PASSWORD": password}
    target = resolve_target(
        TargetConfig(kind="generic", name="harbor", repository="harbor.example.com/team/app"),
        "app",
        environ,
    )
    lines: list[str] = []
    push = TargetPush(None, target, environ, lines.append, RetryPolicy())  # type: ignore[arg-type]
    credentials = push._current_credentials()
    assert credentials is not None and credentials.password == password
    assert f"::add-mask::{password}" in capsys.readouterr().out.splitlines()
    assert redact(f"x {password} y") == "x *** y"


# --- annotations ------------------------------------------------------------------------------


def test_findings_become_annotations_relative_to_the_workspace(capsys, tmp_path: Path) -> None:
    workspace = tmp_path / "repo"
    root = workspace / "services" / "api"
    root.mkdir(parents=True)
    output = output_for({"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(workspace)})
    output.findings(
        [
            Finding("hadolint", "app/Dockerfile", 7, "DL3008", "warning", "Pin versions"),
            Finding("ruff", "tasks.py", 3, "F401", "error", "`os` imported but unused"),
            Finding("hadolint", "app/Dockerfile", 2, "DL3059", "info", "Multiple RUN"),
            Finding("eslint", "odd,name:x.js", 0, "parse", "error", "line one\nline two"),
        ],
        root,
        "warning",
    )
    assert capsys.readouterr().out.splitlines() == [
        "::error file=services/api/app/Dockerfile,line=7,title=hadolint DL3008"
        "::Pin versions (warning)",
        "::error file=services/api/tasks.py,line=3,title=ruff F401"
        "::`os` imported but unused (error)",
        "::notice file=services/api/app/Dockerfile,line=2,title=hadolint DL3059"
        "::Multiple RUN (info)",
        "::error file=services/api/odd%2Cname%3Ax.js,line=1,title=eslint parse"
        "::line one%0Aline two (error)",
    ]


def test_findings_below_the_threshold_are_warnings(capsys, tmp_path: Path) -> None:
    output = output_for({"GITHUB_ACTIONS": "true"})
    output.findings(
        [Finding("hadolint", "Dockerfile", 7, "DL3008", "warning", "Pin versions")],
        tmp_path,
        "error",
    )
    assert capsys.readouterr().out.startswith("::warning file=Dockerfile,line=7,")


def test_no_annotation_for_a_threshold_of_none_is_an_error(capsys, tmp_path: Path) -> None:
    output_for({"GITHUB_ACTIONS": "true"}).findings(
        [Finding("ruff", "a.py", 1, "F401", "error", "unused")], tmp_path, "none"
    )
    assert capsys.readouterr().out.startswith("::warning ")


# --- outputs and summary ----------------------------------------------------------------------


def test_outputs_and_step_summary(capsys, tmp_path: Path) -> None:
    github_output, step_summary = tmp_path / "output", tmp_path / "summary.md"
    github_output.write_text("earlier=step\n")
    step_summary.write_text("# earlier step\n")
    environ = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(github_output),
        "GITHUB_STEP_SUMMARY": str(step_summary),
    }
    output_for(environ).summary(_report(), tmp_path / "run.json")
    values = parse_github_output(github_output.read_text())
    assert values["earlier"] == "step"  # appended, never truncated
    assert values["image"] == "node-app"
    assert values["version"] == "1.2.3"
    assert values["tags"].splitlines() == ["1.2.3", "1.2", "1", "latest"]
    digest = "sha256:" + "b" * 64
    assert json.loads(values["digests"]) == {"local": digest, "ghcr": digest}
    assert values["digest"] == digest
    assert "ghcr.io/acme/node-app:1.2.3" in values["references"].splitlines()
    assert values["result"] == "success"
    assert values["report"] == str(tmp_path / "run.json")
    markdown = step_summary.read_text()
    assert markdown.startswith("# earlier step\n")
    assert "| target | references | digest |" in markdown
    assert "`127.0.0.1:5000/node-app:1.2.3, 127.0.0.1:5000/node-app:1.2" in markdown
    assert "| ghcr |" in markdown and digest in markdown
    assert "::error" not in capsys.readouterr().out


def test_a_failed_run_reports_an_error_and_failure_output(capsys, tmp_path: Path) -> None:
    secret = new_secret()
    mask_secret(secret)
    github_output = tmp_path / "output"
    report = _report(
        pushes=[],
        error=f"push: registry said no to {secret}\nsecond line",
        stages=[StageResult("push", Status.FAILED, 1.0, "refused")],
    )
    environ = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(github_output)}
    output_for(environ).summary(report, tmp_path / "run.json")
    out = capsys.readouterr().out
    assert "::error title=hoist::push: registry said no to ***%0Asecond line" in out
    assert secret not in out.replace(f"::add-mask::{secret}", "")
    values = parse_github_output(github_output.read_text())
    assert values["result"] == "failure" and values["digest"] == "" and values["digests"] == "{}"


def test_heredoc_delimiters_are_random_and_absent_from_values() -> None:
    text = format_outputs({"a": "x", "tags": "1\n2"})
    match = re.match(r"a=x\ntags<<(ghadelimiter_[0-9a-f]{16})\n1\n2\n\1\n$", text)
    assert match, text
    assert format_outputs({"tags": "1\n2"}) != text[len("a=x\n") :]


def test_without_github_files_nothing_is_written(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    output_for({"GITHUB_ACTIONS": "true"}).summary(_report(), tmp_path / "run.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    assert "hoist run" in capsys.readouterr().out
