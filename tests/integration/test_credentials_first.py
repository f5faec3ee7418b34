"""Missing or wrong registry credentials are found before the work, not after it.

`invoke ci` as a user runs it, against real htpasswd registries on 127.0.0.1 and the real
engine: a credential that is missing is refused before any stage (exit 2, nothing built); one
that a registry refuses is found by the check that runs beside lint and build, and the run
stops before smoke (exit 1) with nothing pushed to any target — the healthy ones included.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import run_invoke

pytestmark = pytest.mark.integration

DOCKERHUB_HINT = "a Docker Hub access token with Read & Write scope"


def image_of(config: Path) -> str:
    return str(yaml.safe_load(config.read_text())["image"])


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("hoist: error")]


@pytest.mark.parametrize("args", [["ci"], ["push", "--skip-smoke"]], ids=["ci", "push-skip"])
def test_a_missing_token_is_refused_before_any_stage(  # type: ignore[no-untyped-def]
    make_app, hoist_state, docker_client, args
):
    config = make_app(
        {"registries": [{"kind": "local"},
                        {"kind": "dockerhub", "name": "hub", "repository": "acme/app"}]}
    )  # fmt: skip
    env = {**hoist_state, "DOCKERHUB_USERNAME": "acme", "DOCKERHUB_TOKEN": ""}

    result = run_invoke(*args, "--config", str(config), env=env)

    assert result.returncode == 2, result.stdout + result.stderr
    assert error_lines(result.stderr) == [
        f"hoist: error: hub (docker.io/acme/app): no credentials (set DOCKERHUB_TOKEN "
        f"({DOCKERHUB_HINT}))"
    ]
    assert "Traceback" not in result.stderr
    assert "==> " not in result.stdout, "a stage started"
    assert docker_client.images.list(name=image_of(config)) == [], "an image was built"
    state = Path(hoist_state["HOIST_STATE_DIR"])
    assert not (state / "reports").exists(), "a report was written: some stage ran"
    assert not (state / "registry").exists(), "the local target started the embedded registry"
