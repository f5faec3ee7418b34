"""The BuildKit scenarios: a CI runner's cold build with and without the registry layer cache
(``ci-cold``), and the same pipeline built by each backend (``backends``).

``ci-cold`` is what a hosted runner sees: an engine that has never seen the app. Each round
first runs hoist's whole pipeline once on this engine (untimed) with ``build.cache:
registry``, so the first registry holds that run's ``:buildcache``; then, for each side, a
second engine with an empty data-root is started (``tests/support/server_engine.py``, the
project's own), the same base image loaded into it, and ``invoke build`` timed there — with
the cache (``cache``) and without (``no-cache``). The figure is the build stage's seconds
from hoist's report, and the steps the cache answered, counted from BuildKit's progress.

``backends`` runs the cold, warm and incremental pipelines (set up as for hoist against the
script) once with ``build.backend: buildkit`` and once with ``classic``.
"""

from __future__ import annotations

import json
import re
import statistics
from dataclasses import dataclass
from typing import Any

import docker
import yaml

from bench.core import BASE_IMAGE, Workspace, say
from pipeline.engine import docker_client
from tests.support.server_engine import start_server_engine, stop_server_engine

BACKEND_RUNS = ("cold", "warm", "incremental")
BACKENDS = ("buildkit", "classic")
COLD_SIDES = ("cache", "no-cache")
COLD_TARGET = 0.30
_CACHED = re.compile(r"(\d+)/(\d+) steps cached")


@dataclass
class BuildSample:
    """One timed hoist run: its build stage, its wall time, the steps the cache answered."""

    scenario: str  # ci-cold, or backends-<run>
    side: str  # cache / no-cache, or buildkit / classic
    round: int
    build: float
    total: float
    cached: int
    steps: int
    log: str


def write_configs(ws: Workspace) -> None:
    """pipeline-{buildkit,classic,cache,nocache}.yaml, from the bench's same-work config."""
    same = yaml.safe_load((ws.project / "pipeline-same.yaml").read_text())
    variants = {
        "buildkit": {"backend": "buildkit"},
        "classic": {"backend": "classic"},
        "cache": {"backend": "buildkit", "cache": "registry"},
        "nocache": {"backend": "buildkit"},
    }
    for name, build in variants.items():
        config = {**same, "build": {**same["build"], **build}}
        (ws.project / f"pipeline-{name}.yaml").write_text(yaml.safe_dump(config))


def _timed_run(
    ws: Workspace, scenario: str, side: str, round_: int, config: str, task: str, env: dict
) -> BuildSample:
    sample = ws.run_hoist(f"{scenario}-{side}", round_, config, task=task, extra_env=env)
    report = json.loads((ws.state / "reports" / "last.json").read_text())
    build = next(s for s in report["stages"] if s["stage"] == "build")
    counted = _CACHED.search(build["summary"])
    cached, steps = (int(counted[1]), int(counted[2])) if counted else (0, 0)
    return BuildSample(scenario, side, round_, build["seconds"], sample.total, cached, steps,
                       sample.log)  # fmt: skip


def ci_cold_round(ws: Workspace, round_: int, order: tuple[str, ...]) -> list[BuildSample]:
    """Seed the cache from a passing run here, then build on a fresh engine with and without."""
    ws.new_dependencies_layer()  # new to every engine: nothing but the registry has its layers
    ws.run_hoist("ci-cold-seed", round_, "cache", timed=False)
    # saved under its own name: `named=True` would take whichever tag the engine lists first
    saved = b"".join(
        docker_client().images.get(BASE_IMAGE).save(chunk_size=1 << 20, named=BASE_IMAGE)
    )
    samples = []
    for side in order:
        engine = start_server_engine()
        try:
            docker.DockerClient(base_url=engine.host, timeout=300).images.load(saved)
            config = "cache" if side == "cache" else "nocache"
            sample = _timed_run(ws, "ci-cold", side, round_, config, "build",
                                {"DOCKER_HOST": engine.host})  # fmt: skip
        finally:
            stop_server_engine(engine)
        say(f"  ci-cold      {side:<8} build {sample.build:6.2f} s  "
            f"{sample.cached}/{sample.steps} steps cached")  # fmt: skip
        samples.append(sample)
    return samples


def backends_round(ws: Workspace, round_: int, order: tuple[str, ...]) -> list[BuildSample]:
    """cold, warm and incremental pipelines, each built by BuildKit and by the classic builder."""
    samples = []
    for run in BACKEND_RUNS:
        for backend in order:
            if run == "cold":
                ws.registries.wipe()
                ws.remove_images("hoist")
                ws.new_dependencies_layer()
            else:
                ws.run_hoist(f"backends-{run}-{backend}", round_, backend, timed=False)
                if run == "incremental":
                    ws.change_source()
            sample = _timed_run(ws, f"backends-{run}", backend, round_, backend, "ci", {})
            say(f"  {run:<12} {backend:<8} {sample.total:6.2f} s  build {sample.build:.2f}  "
                f"{sample.cached}/{sample.steps} steps cached")  # fmt: skip
            samples.append(sample)
    return samples


def sides_for(round_: int, sides: tuple[str, str]) -> tuple[str, ...]:
    return sides if round_ % 2 else tuple(reversed(sides))


def rows(samples: list[BuildSample]) -> list[dict[str, Any]]:
    """Table rows: ``hoist`` is the first side (cache, buildkit), ``baseline`` the second."""
    found = []
    wanted = [("ci-cold", COLD_SIDES, "build stage on a fresh engine: registry cache vs none")]
    wanted += [(f"backends-{run}", BACKENDS, f"build stage of the {run} pipeline: BuildKit vs "
                "classic") for run in BACKEND_RUNS]  # fmt: skip
    for scenario, (first, second), timed in wanted:
        mine = [s for s in samples if s.scenario == scenario]
        if not mine:
            continue
        a = [s.build for s in mine if s.side == first]
        b = [s.build for s in mine if s.side == second]
        hits = [f"{s.cached}/{s.steps}" for s in mine if s.side == first]
        ratio = statistics.median(a) / statistics.median(b) if a and b else None
        cold = scenario == "ci-cold"
        met = None if not cold or ratio is None else ratio <= COLD_TARGET and _all_hits(mine)
        found.append({
            "scenario": scenario, "timed": f"{timed} (steps cached: {', '.join(hits)})",
            "hoist": statistics.median(a) if a else None,
            "baseline": statistics.median(b) if b else None, "ratio": ratio,
            "target": f"≤ {COLD_TARGET:.2f}, every step a hit" if cold else "—", "met": met,
            "hoist_samples": a, "baseline_samples": b,
        })  # fmt: skip
    return found


def _all_hits(samples: list[BuildSample]) -> bool:
    cached = [s for s in samples if s.side == "cache"]
    return bool(cached) and all(s.steps and s.cached == s.steps for s in cached)
