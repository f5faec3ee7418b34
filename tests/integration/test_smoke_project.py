"""The project's own pipeline.yaml: node-app passes every smoke check it configures — policy,
its structure tests, the service checks and the graceful stop — through `invoke smoke`."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import REPO, run_invoke
from tests.integration.smoke_images import assert_run_left_nothing

pytestmark = pytest.mark.integration


@pytest.mark.usefixtures("node_base")
def test_node_app_passes_all_configured_smoke_checks(hoist_state, docker_client, tmp_path: Path):  # type: ignore[no-untyped-def]
    junit = tmp_path / "smoke.xml"

    result = run_invoke(
        "smoke", "--config", str(REPO / "pipeline.yaml"), "--junit", str(junit), env=hoist_state
    )

    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    verdicts = [line.split()[0] for line in lines if line.startswith(("PASS ", "FAIL ", "WARN "))]
    assert verdicts and set(verdicts) == {"PASS"}
    for kind in (
        "policy: no secrets in any layer",
        "structure: command 'node runtime'",
        "service: readiness",
        "service: service identity",
        "service: graceful stop",
    ):
        assert any(line.startswith(f"PASS  {kind}") for line in lines), kind  # fmt: skip
    root = ET.parse(junit).getroot()
    assert root.get("failures") == "0" and int(root.get("tests") or 0) == len(verdicts)
    assert_run_left_nothing(docker_client, hoist_state)
