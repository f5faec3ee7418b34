"""Gates: no path pushes an image whose lint or smoke stage failed or was skipped — except an
explicit ``--skip-smoke``, which the summary, the report and an image label record.

Every task and flag that can reach the push stage is tried against a real registry with a
lint-failing Dockerfile, a smoke-failing service and a lint stage that checks nothing; the
registry is then asked for the repository's tags (none), and the embedded registry must not
have been started. The one way through, ``--skip-smoke``, is checked in the registry's config
blob (``io.hoist.smoke=skipped``), the local image and the summary's WARNING line. The
runner's own gate is also tried directly, with stages a task would never combine.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.errors import StageFailed
from pipeline.project import load_config
from pipeline.run.options import RunOptions
from pipeline.run.runner import Runner
from tests.conftest import run_invoke
from tests.support.reliability import (
    BASE,
    RegistryReader,
    make_service_project,
    service_config,
    unique_image,
    write_config,
)

pytestmark = pytest.mark.integration

LINT_FAILING = f"""\
FROM {BASE}
WORKDIR /srv
COPY index.html ./
RUN cd /srv && ls
USER 1000:1000
CMD python3 -m http.server 8000
"""  # DL3003 (cd), DL3025 (shell-form CMD): warnings, the default failure threshold
NOTHING_LINTED = {"hadolint": False, "eslint": False, "workflows": False, "ruff": []}
SMOKE_FAILING = {"expect_body": "text this service never serves"}
REPOSITORY = "team/app"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, python_base: str) -> Path:
    root = make_service_project(tmp_path_factory.mktemp("gates"))
    (root / "app" / "Dockerfile.lint-failing").write_text(LINT_FAILING)
    return root


@pytest.fixture
def team(registry_factory, tmp_path):  # type: ignore[no-untyped-def]
    """A real registry as target "team", plus a registry "local" embedded target."""
    server = registry_factory(username="ci-bot")
    env = {
        "HOIST_STATE_DIR": str(tmp_path / "state"),
        "REGISTRY_USERNAME": "ci-bot",
        "REGISTRY_PASSWORD": server.password,
    }
    return server, env


def _config(project: Path, server, broken: str) -> Path:  # type: ignore[no-untyped-def]
    sections: dict = {  # type: ignore[type-arg]
        "registries": [
            {"kind": "generic", "name": "team", "endpoint": server.address,
             "repository": f"registry.example.com/{REPOSITORY}"},
            {"kind": "local"},
        ]
    }  # fmt: skip
    if broken == "lint":
        sections["build"] = {"context": "app", "dockerfile": "Dockerfile.lint-failing"}
    elif broken == "smoke":
        sections["smoke"] = SMOKE_FAILING
    elif broken == "nothing-linted":
        sections["lint"] = NOTHING_LINTED
    return write_config(project, service_config(unique_image(f"gates-{broken}"), **sections))


LINT_FAILED = [("lint", "failed")]
SMOKE_FAILED = [("lint", "passed"), ("build", "passed"), ("smoke", "failed")]
UNLINTED = [("lint", "skipped"), ("build", "passed")]
PATHS = [
    ("lint", ["push"], LINT_FAILED),
    ("lint", ["ci"], LINT_FAILED),
    ("lint", ["ci", "--to", "team"], LINT_FAILED),
    ("lint", ["push", "--skip-smoke"], LINT_FAILED),
    ("lint", ["ci", "--skip-smoke", "--to", "team"], LINT_FAILED),
    ("smoke", ["push"], SMOKE_FAILED),
    ("smoke", ["ci", "--to", "team"], SMOKE_FAILED),
    ("nothing-linted", ["ci"], [*UNLINTED, ("smoke", "passed"), ("push", "failed")]),
    ("nothing-linted", ["push", "--skip-smoke", "--to", "team"], [*UNLINTED, ("push", "failed")]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("broken", "args", "stages"), PATHS, ids=[f"{b}-{'-'.join(a)}" for b, a, _ in PATHS]
)
def test_no_path_pushes_an_image_that_failed_or_skipped_a_gate(  # type: ignore[no-untyped-def]
    project, team, broken, args, stages
):
    server, env = team
    config = _config(project, server, broken)

    result = run_invoke(*args, "--config", str(config), env=env)

    assert result.returncode == 1, result.stdout + result.stderr
    state = Path(env["HOIST_STATE_DIR"])
    report = json.loads((state / "reports" / "last.json").read_text())
    assert [(s["stage"], s["status"]) for s in report["stages"]] == stages
    assert report["pushes"] == []
    [line] = [ln for ln in result.stderr.splitlines() if ln.startswith("hoist: error:")]
    failed = stages[-1][0]
    assert line.startswith(f"hoist: error: {failed}: ")
    if broken == "nothing-linted":
        assert "refused: the lint stage ran no linter" in line
    reader = RegistryReader(server.address, server.username, server.password)
    assert reader.tags(REPOSITORY) == []
    assert not (state / "registry" / "state.json").exists(), "embedded registry started"


def test_skip_smoke_pushes_and_records_it_in_summary_report_and_label(  # type: ignore[no-untyped-def]
    project, team, docker_client
):
    server, env = team
    config = _config(project, server, "smoke")  # would fail smoke: proves smoke did not run

    result = run_invoke("push", "--skip-smoke", "--to", "team", "--config", str(config), env=env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING: gate skipped by request: smoke (--skip-smoke)" in result.stdout
    assert "==> smoke" not in result.stdout
    report = json.loads((Path(env["HOIST_STATE_DIR"]) / "reports" / "last.json").read_text())
    assert [(s["stage"], s["status"]) for s in report["stages"]] == [
        ("lint", "passed"), ("build", "passed"), ("push", "passed")
    ]  # fmt: skip
    assert report["skipped_gates"] == ["smoke (--skip-smoke)"]
    assert report["labels"]["io.hoist.smoke"] == "skipped"
    local = docker_client.images.get(report["image_id"])
    assert local.labels["io.hoist.smoke"] == "skipped"
    reader = RegistryReader(server.address, server.username, server.password)
    [push] = report["pushes"]
    served = reader.config(REPOSITORY, push["digest"])
    assert served["config"]["Labels"]["io.hoist.smoke"] == "skipped"
    assert sorted(reader.tags(REPOSITORY)) == sorted(report["tags"])


def test_a_push_without_skip_carries_no_skipped_label(project, team, docker_client):  # type: ignore[no-untyped-def]
    server, env = team
    config = _config(project, server, "none")

    result = run_invoke("ci", "--to", "team", "--config", str(config), env=env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING: gate skipped" not in result.stdout
    report = json.loads((Path(env["HOIST_STATE_DIR"]) / "reports" / "last.json").read_text())
    reader = RegistryReader(server.address, server.username, server.password)
    served = reader.config(REPOSITORY, report["pushes"][0]["digest"])
    assert "io.hoist.smoke" not in (served["config"]["Labels"] or {})
    assert report["skipped_gates"] == []


def test_the_runner_refuses_push_when_its_gates_did_not_run(project, team):  # type: ignore[no-untyped-def]
    """Stages no task combines (build then push): the runner itself refuses, after a real
    build, before any target is touched."""
    server, env = team
    config = load_config(_config(project, server, "none"))
    runner = Runner(config, RunOptions(stages=("build", "push"), targets=("team",)), env, print)

    with pytest.raises(StageFailed, match=r"push: refused: lint, smoke must pass in the same run"):
        runner.run()

    assert [(s.stage, s.status.value) for s in runner.report.stages] == [
        ("build", "passed"), ("push", "failed")
    ]  # fmt: skip
    reader = RegistryReader(server.address, server.username, server.password)
    assert reader.tags(REPOSITORY) == []
