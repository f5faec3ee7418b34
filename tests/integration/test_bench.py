"""The benchmark keeps working: ``python -m bench --quick`` (1 round, 1 registry) against the real
engine and a real registry produces its table and its JSON with every scenario in them.

No timing is asserted here or anywhere in the suite: the figures depend on the machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration

SCENARIOS = ("cold", "fanout", "warm", "repush", "warm-nocache", "incremental", "warm-full")
STARTUP = (
    "invoke --list",
    "invoke --help ci",
    "import pipeline.run (what `ci` loads)",
    "import docker, git, yaml, tenacity (the core libraries alone)",
)


@pytest.mark.usefixtures("node_base")
def test_quick_bench_prints_the_table_and_writes_the_json(tmp_path: Path) -> None:
    output = tmp_path / "results"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env["HOIST_STATE_DIR"] = str(tmp_path / "state")  # its work dir, registries and reports

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--output",
            str(output),
            "--scenarios",
            ",".join((*SCENARIOS, "startup")),
        ],  # fmt: skip
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    table = done.stdout
    assert "| scenario | timed | hoist s | baseline s | hoist/baseline | target | met |" in table
    for scenario in SCENARIOS:
        assert f"\n| {scenario} |" in table, scenario
    for command in STARTUP:
        assert f"| startup: {command} |" in table, command
    assert "| warm overhead |" in table
    assert "hoist stages (median s):" in table and "baseline.sh phases (median s):" in table

    (json_path,) = output.glob("bench-*.json")
    (markdown_path,) = output.glob("bench-*.md")
    assert markdown_path.read_text() in table  # the printed table is the file's
    results = json.loads(json_path.read_text())
    assert results["options"]["rounds"] == 1 and results["options"]["registries"] == 1
    assert results["machine"]["nproc"] and results["machine"]["engine"]
    rows = {row["scenario"]: row for row in results["rows"]}
    for scenario in SCENARIOS:
        row = rows[scenario]
        assert len(row["hoist_samples"]) == 1 and len(row["baseline_samples"]) == 1, scenario
        assert row["hoist"] is not None and row["baseline"] is not None, scenario
    for command in STARTUP:
        assert rows[f"startup: {command}"]["hoist_samples"], command
    for run in ("cold", "warm", "warm-nocache", "incremental", "warm-full"):
        assert set(results["stages"]["hoist"][run]) == {
            "lint", "build", "smoke", "push", "overhead", "total"
        }  # fmt: skip
        baseline = results["stages"]["baseline"][run]
        assert set(baseline) == {"lint", "build", "smoke", "push", "total"}

    # The session cleaned up after itself: registries stopped (their storage removed), the
    # scratch project gone, the images it built removed.
    (work,) = (tmp_path / "state" / "bench").iterdir()
    assert not (work / "registries").exists() and not (work / "project").exists()
    leftovers = subprocess.run(
        ["docker", "images", "--format", "{{.Repository}}", "bench-hoist/app"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert leftovers.stdout.strip() == ""


def test_quick_ci_cold_builds_on_a_fresh_engine_from_the_registry_cache(tmp_path: Path) -> None:
    """The ci-cold row: one build with the cache, one without, each on a new empty engine;
    the cached one answers every step from the registry (a count, not a time)."""
    output = tmp_path / "results"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env["HOIST_STATE_DIR"] = str(tmp_path / "state")

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--scenarios",
            "ci-cold",
            "--output",
            str(output),
        ],  # fmt: skip
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "\n| ci-cold | build stage on a fresh engine: registry cache vs none" in done.stdout
    (json_path,) = output.glob("bench-*.json")
    results = json.loads(json_path.read_text())
    [row] = [r for r in results["rows"] if r["scenario"] == "ci-cold"]
    assert len(row["hoist_samples"]) == 1 and len(row["baseline_samples"]) == 1
    sides = {s["side"]: s for s in results["build_samples"]}
    assert set(sides) == {"cache", "no-cache"}
    assert sides["cache"]["steps"] > 0 and sides["cache"]["cached"] == sides["cache"]["steps"]
    assert sides["no-cache"]["cached"] == 0
