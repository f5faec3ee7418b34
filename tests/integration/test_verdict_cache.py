"""Kept verdicts, end to end: ``invoke ci`` on an unchanged checkout lints and smoke-tests
once; an edit to a linted file, a smoke check, a linter's config or the image reruns exactly
the stages that read it; ``--no-cache`` and ``HOIST_NO_CACHE=1`` rerun both; a failure is never
kept, and a lint failure leaves no tag on what was built beside it.

One project and one state dir go through the edits in turn, as a developer's checkout does;
after each run the report says which stages ran (``passed``) and which were reused
(``cached``, with the run that verified them). The engine and the embedded registry are real.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import run_invoke

pytestmark = pytest.mark.integration

LINT_FAILING = """\
ARG BASE_IMAGE=node:20-bookworm-slim
FROM ${BASE_IMAGE}
WORKDIR /app
COPY package.json package-lock.json ./
COPY src/ ./src/
USER 1000:1000
CMD node src/server.js
"""  # DL3025 (shell-form CMD): a warning, the default failure threshold


def ci(config: Path, state: dict[str, str], *args: str, **env: str) -> tuple[Any, dict[str, Any]]:
    result = run_invoke("ci", "--config", str(config), *args, env={**state, **env})
    report = json.loads((Path(state["HOIST_STATE_DIR"]) / "reports" / "last.json").read_text())
    return result, report


def ran(report: dict[str, Any]) -> dict[str, str]:
    """Each stage's result: ``cached`` for a verdict kept from an earlier run."""
    return {s["stage"]: "cached" if s["cached"] else s["status"] for s in report["stages"]}


def edit_yaml(config: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = yaml.safe_load(config.read_text())
    change(data)
    config.write_text(yaml.safe_dump(data))


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def test_each_edit_reruns_exactly_the_stages_that_read_it(  # type: ignore[no-untyped-def]
    make_app, hoist_state, docker_client
):
    config = make_app()
    app = config.parent / "app"
    image = yaml.safe_load(config.read_text())["image"]

    first, report = ci(config, hoist_state)
    assert first.returncode == 0, first.stdout + first.stderr
    assert ran(report) == {"lint": "passed", "build": "passed", "smoke": "passed", "push": "passed"}
    verifier = report["run_id"]

    again, report = ci(config, hoist_state)
    assert again.returncode == 0, again.stdout + again.stderr
    assert ran(report) == {"lint": "cached", "build": "passed", "smoke": "cached", "push": "passed"}
    assert {s["cached"]["run_id"] for s in report["stages"] if s["cached"]} == {verifier}
    assert again.stdout.count(f"cached: verified by run {verifier} at ") == 2
    assert "PASS  service: readiness" not in again.stdout  # no container was started
    assert any(line.split()[:2] == ["smoke", "cached"] for line in again.stdout.splitlines())

    edits: list[tuple[str, Callable[[], None], dict[str, str]]] = [
        ("an app source file", lambda: append(app / "src" / "app.js", "// edited\n"),
         {"lint": "passed", "smoke": "passed"}),
        ("a smoke check", lambda: edit_yaml(config, lambda c: c["smoke"].update(timeout=25)),
         {"lint": "cached", "smoke": "passed"}),
        ("a linter's config", lambda: append(app / ".hadolint.yaml", "# edited\n"),
         {"lint": "passed", "smoke": "cached"}),
        ("the image (a label)",
         lambda: edit_yaml(config, lambda c: c["metadata"].update(labels={"team": "core"})),
         {"lint": "cached", "smoke": "passed"}),
    ]  # fmt: skip
    for what, edit, expected in edits:
        edit()
        result, report = ci(config, hoist_state)
        assert result.returncode == 0, f"{what}: " + result.stdout + result.stderr
        found = ran(report)
        assert {k: found[k] for k in ("lint", "smoke")} == expected, what
        assert found["build"] == found["push"] == "passed", what

    for args, env in (((), {"HOIST_NO_CACHE": "1"}), (("--no-cache",), {})):
        result, report = ci(config, hoist_state, *args, **env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert ran(report) == {"lint": "passed", "build": "passed", "smoke": "passed",
                               "push": "passed"}, (args, env)  # fmt: skip
    tagged = docker_client.images.get(f"{image}:test").id
    assert tagged == report["image_id"]

    # a failing check is never kept: the next run checks again (and fails again)
    edit_yaml(config, lambda c: c["smoke"].update(expect_body="no such body"))
    for _ in range(2):
        result, report = ci(config, hoist_state)
        assert result.returncode == 1
        assert ran(report) == {"lint": "cached", "build": "passed", "smoke": "failed"}
        assert "FAIL  service: GET /healthz" in result.stdout

    # nor a lint failure; and what was built beside it got no tag
    edit_yaml(config, lambda c: c["smoke"].pop("expect_body"))
    (app / "Dockerfile").write_text(LINT_FAILING)
    for _ in range(2):
        result, report = ci(config, hoist_state)
        assert result.returncode == 1
        assert ran(report) == {"lint": "failed"}
        assert "DL3025" in result.stdout and "cached:" not in result.stdout
        assert report["image_id"] is None
        assert docker_client.images.get(f"{image}:test").id == tagged
