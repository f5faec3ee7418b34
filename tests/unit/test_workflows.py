"""The GitHub workflows, read as data: they call only tasks that exist, and stay locked down.

Why these checks: a workflow is code nobody runs before it is merged. A renamed task or flag
would only fail on GitHub, after the merge; a widened permission or an unpinned action would
not fail at all. Each `invoke` command line is parsed by invoke's own parser against the
Collection in tasks.py, so an unknown task *or flag* is caught here — and so is each `hoist`
command line of the reusable workflow (hoist.yml), the installed command over the same
collection. The action (action.yml) is checked the same way where it applies. The running of
the workflows themselves is tests/integration/test_workflows_act.py (and test_adoption.py for
the action and the reusable workflow).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from invoke.parser import Parser

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.y*ml"))
ACTION = REPO / "action.yml"
SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+(?:/[\w./-]+)?@[0-9a-f]{40}$")
INVOKE = re.compile(r"(?:^|[\s;&|(])(?:[\w./-]*/)?(?:invoke|hoist)\s+([^;&|\n]+)")
# The reusable workflow's one setup step: hoist installed from the caller's `hoist` input.
INSTALL_HOIST = (
    'python3 -m venv "$RUNNER_TEMP/hoist" && "$RUNNER_TEMP/hoist/bin/pip" install --quiet '
    '"$HOIST" && echo "$RUNNER_TEMP/hoist/bin" >> "$GITHUB_PATH"'
)


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), path
    if True in data:  # YAML 1.1 reads the key `on` as a boolean
        data["on"] = data.pop(True)
    return data


def steps(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (job_id, step) for job_id, job in workflow["jobs"].items() for step in job.get("steps", [])
    ]


def invoke_calls(run: str) -> list[list[str]]:
    """The argument lists of every `invoke` (or `hoist`) call in a `run:` script."""
    return [shlex.split(match.group(1)) for match in INVOKE.finditer(run)]


@pytest.fixture(scope="module")
def collection():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(REPO))
    try:
        import tasks

        return tasks.ns
    finally:
        sys.path.remove(str(REPO))


def test_the_workflows_exist() -> None:
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "release.yml", "hoist.yml"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_invoke_call_names_a_real_task_and_real_flags(path: Path, collection) -> None:
    from invoke.exceptions import ParseError
    from invoke.parser import Parser

    parser = Parser(contexts=collection.to_contexts())
    calls = [
        args for _, step in steps(load(path)) if "run" in step for args in invoke_calls(step["run"])
    ]
    assert calls, f"{path.name} calls no invoke task"
    for args in calls:
        try:
            parsed = parser.parse_argv(args)
        except ParseError as exc:
            pytest.fail(f"{path.name}: `invoke {' '.join(args)}`: {exc}")
        assert [context.name for context in parsed], args


def test_the_parser_really_rejects_unknown_tasks_and_flags(collection) -> None:
    """Guards the test above against passing vacuously."""
    from invoke.exceptions import ParseError
    from invoke.parser import Parser

    parser = Parser(contexts=collection.to_contexts())
    for bad in (["publish"], ["lint", "--no-such-flag"]):
        with pytest.raises(ParseError):
            parser.parse_argv(bad)
    assert invoke_calls('.venv/bin/invoke push --to "a,b" && echo x') == [["push", "--to", "a,b"]]


def test_the_pipeline_steps_are_invoke_calls_only() -> None:
    """After setup, every step is one `invoke` call: what CI runs, a laptop can run."""
    setup_runs = {"make setup", "sudo scripts/ensure-host-tools.sh", INSTALL_HOIST}
    for path in WORKFLOWS:
        for job_id, step in steps(load(path)):
            if "uses" in step:
                continue
            run = step["run"].strip()
            if run in setup_runs:
                continue
            assert re.fullmatch(r"(?:\.venv/bin/invoke|hoist) [\w-]+(?: [^;&|\n]*)?", run), (
                f"{path.name}/{job_id}: step {step.get('name')!r} is not one invoke call: {run}"
            )


def test_invoke_steps_run_under_act_and_only_network_steps_are_skipped() -> None:
    for path in WORKFLOWS:
        for job_id, step in steps(load(path)):
            condition = str(step.get("if", ""))
            setup = step.get("run") in ("make setup", INSTALL_HOIST)
            if "run" in step and invoke_calls(step["run"]) or setup:
                assert not condition, f"{path.name}/{job_id}: {step['run']} must always run"
            if "env.ACT" in condition:
                uses = str(step.get("uses", ""))
                network = ("actions/setup-", "actions/checkout", "actions/upload-artifact",
                           "actions/download-artifact")  # fmt: skip
                assert uses.startswith(network) or "sudo" in str(step.get("run")), (
                    f"{path.name}/{job_id}: only network-bound steps may be skipped under act"
                )


def test_actions_are_pinned_by_full_commit_sha_with_a_version_comment() -> None:
    for path in WORKFLOWS:
        for line in path.read_text().splitlines():
            match = re.match(r"^\s*(?:-\s+)?uses:\s*(\S+)\s*(#.*)?$", line)
            if not match:
                continue
            assert SHA_PIN.match(match.group(1)), f"{path.name}: not SHA-pinned: {line.strip()}"
            assert match.group(2) and re.match(r"#\s*v\d", match.group(2)), (
                f"{path.name}: the pin needs a `# vX` comment: {line.strip()}"
            )


def test_checkout_never_persists_the_token() -> None:
    for path in WORKFLOWS:
        for job_id, step in steps(load(path)):
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                assert step.get("with", {}).get("persist-credentials") is False, (
                    f"{path.name}/{job_id}"
                )


def test_permissions_are_minimal() -> None:
    for path in WORKFLOWS:
        workflow = load(path)
        assert workflow["permissions"] == {"contents": "read"}, path.name
        for job_id, job in workflow["jobs"].items():
            permissions = job.get("permissions", {"contents": "read"})
            pushes = any(
                args[0] in ("push", "ci", "merge")
                for step in job.get("steps", [])
                for args in invoke_calls(step.get("run", ""))
            )
            expected = {"contents": "read", "packages": "write"} if pushes else {"contents": "read"}
            assert permissions == expected, f"{path.name}/{job_id}: {permissions}"


def test_ci_pushes_only_from_the_default_branch_and_never_for_pull_requests() -> None:
    ci = load(REPO / ".github/workflows/ci.yml")
    assert set(ci["on"]) == {"push", "pull_request"}
    assert "pull_request_target" not in ci["on"]
    assert ci["on"]["push"] == {"branches": ["**"]}  # tags belong to release.yml
    assert ci["concurrency"]["cancel-in-progress"] is True
    assert "pull_request.number" in ci["concurrency"]["group"]
    for job_id, job in ci["jobs"].items():
        text = yaml.safe_dump(job)
        calls = [a for s in job["steps"] for a in invoke_calls(s.get("run", ""))]
        if any(args[0] in ("push", "ci") for args in calls):
            condition = " ".join(str(job.get("if", "")).split())
            assert "github.event_name == 'push'" in condition, job_id
            assert "github.event.repository.default_branch" in condition, job_id
        else:
            # jobs that run for pull requests get no secret at all (forks never do anyway)
            assert "secrets." not in text, job_id
    check_calls = [
        args[0] for s in ci["jobs"]["check"]["steps"] for args in invoke_calls(s.get("run", ""))
    ]
    assert check_calls == ["lint", "build", "smoke"]


def test_release_runs_the_whole_pipeline_on_v_tags_then_a_guarded_deploy() -> None:
    release = load(REPO / ".github/workflows/release.yml")
    assert release["on"] == {"push": {"tags": ["v*"]}}
    assert release["concurrency"]["cancel-in-progress"] is False
    jobs = release["jobs"]
    release_calls = [
        args for s in jobs["release"]["steps"] for args in invoke_calls(s.get("run", ""))
    ]
    assert release_calls == [["ci"]]
    assert {"image", "tags", "digest", "digests", "deploy"} <= set(jobs["release"]["outputs"])
    deploy = jobs["deploy"]
    assert deploy["needs"] == "release"
    assert deploy["environment"] == "production"
    assert "needs.release.outputs.deploy == 'true'" in deploy["if"]
    assert "DEPLOY_HOST" in jobs["release"]["outputs"]["deploy"]
    deploy_calls = [args for s in deploy["steps"] for args in invoke_calls(s.get("run", ""))]
    assert deploy_calls == [["deploy", "--host", "$DEPLOY_HOST", "--digest", "$IMAGE_DIGEST"]]


def test_the_reusable_workflow_runs_the_jobs_of_ci_and_release_for_any_repository() -> None:
    from pipeline.tasks import ns as hoist_command

    reusable = load(REPO / ".github/workflows/hoist.yml")
    assert set(reusable["on"]) == {"workflow_call"}
    assert reusable["on"]["workflow_call"]["inputs"]["hoist"]["required"] is True
    jobs = reusable["jobs"]
    calls = {
        job_id: [args for s in job["steps"] for args in invoke_calls(s.get("run", ""))]
        for job_id, job in jobs.items()
    }
    assert {job: [args[0] for args in c] for job, c in calls.items()} == {
        "check": ["lint", "build", "smoke"],
        "push": ["push"],
        "release": ["ci"],
        "deploy": ["deploy"],
    }
    parser = Parser(contexts=hoist_command.to_contexts())  # the installed command: no bench
    for args in (args for c in calls.values() for args in c):
        parser.parse_argv(args)
    assert jobs["check"]["if"] == "${{ github.ref_type != 'tag' }}"
    assert "secrets." not in yaml.safe_dump(jobs["check"]), "pull requests get no secret"
    push_condition = " ".join(jobs["push"]["if"].split())
    assert "github.event_name == 'push'" in push_condition
    assert "github.event.repository.default_branch" in push_condition
    assert "startsWith(github.ref, 'refs/tags/v')" in jobs["release"]["if"]
    assert jobs["deploy"]["environment"] == "production"
    assert "needs.release.outputs.deploy == 'true'" in jobs["deploy"]["if"]
    for job_id, step in steps(reusable):
        assert "${{" not in step.get("run", ""), f"{job_id}: inputs reach scripts through env:"


def test_the_action_runs_one_hoist_task_with_the_outputs_hoist_writes() -> None:
    from pipeline.output.github import output_values
    from pipeline.report import RunReport

    action = yaml.safe_load(ACTION.read_text())
    assert action["runs"]["using"] == "composite"
    assert {"task", "config", "to"} <= set(action["inputs"])
    written = output_values(RunReport(run_id="r", config="pipeline.yaml", image="i", started="s"))
    assert {name: o["value"] for name, o in action["outputs"].items()} == {
        name: f"${{{{ steps.hoist.outputs.{name} }}}}" for name in written
    }
    runs = [step for step in action["runs"]["steps"] if "run" in step]
    assert any('install --quiet --disable-pip-version-check "$GITHUB_ACTION_PATH"' in step["run"]
               for step in runs), "hoist comes from the action's own checkout"  # fmt: skip
    [run] = [step for step in runs if step.get("id") == "hoist"]
    assert run["env"]["HOIST_TASK"] == "${{ inputs.task }}"
    for step in runs:
        assert "${{" not in step["run"], "inputs reach scripts through env:"
    for step in action["runs"]["steps"]:
        if "uses" in step:
            assert SHA_PIN.match(step["uses"]), step["uses"]
            assert "env.ACT" in step.get("if", ""), "only network-bound steps are skipped"


def _tool(name: str) -> str:
    found = Path(sys.executable).parent / name
    if found.is_file():
        return str(found)
    which = shutil.which(name)
    if not which:
        pytest.skip(f"{name} is not installed (make setup)")
    return which


def test_workflows_pass_zizmor_offline() -> None:
    result = subprocess.run(
        [_tool("zizmor"), "--offline", "--no-progress", *map(str, WORKFLOWS), str(ACTION)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_match_the_github_workflow_schema() -> None:
    result = subprocess.run(
        [
            _tool("check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            *map(str, WORKFLOWS),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_action_matches_the_github_action_schema() -> None:
    command = [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-actions", str(ACTION)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_release_has_a_platform_matrix_merged_by_digest_when_asked_for() -> None:
    """``vars.HOIST_PLATFORMS`` switches the release from one job to a matrix: each job the
    gates on its platform's runner and a by-digest push, then one merge job; never both."""
    jobs = load(REPO / ".github/workflows/release.yml")["jobs"]
    assert jobs["release"]["if"] == "${{ vars.HOIST_PLATFORMS == '' }}"
    matrix = jobs["platform"]
    assert matrix["if"] == "${{ vars.HOIST_PLATFORMS != '' }}"
    assert matrix["runs-on"] == "${{ matrix.runner }}"
    assert "fromJSON(vars.HOIST_PLATFORMS" in matrix["strategy"]["matrix"]["include"]
    calls = [a for s in matrix["steps"] for a in invoke_calls(s.get("run", ""))]
    assert calls == [["push", "--platform", "$PLATFORM", "--by-digest"]]
    platform_step = next(s for s in matrix["steps"] if "invoke push" in s.get("run", ""))
    assert platform_step["env"]["PLATFORM"] == "${{ matrix.platform }}"
    assert jobs["merge"]["needs"] == "platform"
    merge_calls = [a for s in jobs["merge"]["steps"] for a in invoke_calls(s.get("run", ""))]
    assert merge_calls == [["merge"]]
