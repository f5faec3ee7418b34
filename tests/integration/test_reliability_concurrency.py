"""Concurrent runs: two ``invoke ci`` of the same project and one of another project, at once,
on one engine, one embedded registry (one state dir, as in a shared checkout) and one TMPDIR.

Nothing may collide: container names, published ports, temporary files, report files, the
embedded registry (its lock must let exactly one start). Every run must push the very image
it built and smoke-tested — checked in the registry: the config blob of the manifest a run
reports is that run's image id.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest

from pipeline.push.registry_server import process_alive, stop_registry
from tests.support.invoke_process import InvokeProcess
from tests.support.reliability import (
    RegistryReader,
    embedded_registry_state,
    make_service_project,
    run_containers,
    service_config,
    unique_image,
    write_config,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def shared(tmp_path: Path):  # type: ignore[no-untyped-def]
    (tmp_path / "tmp").mkdir()
    env = {"HOIST_STATE_DIR": str(tmp_path / "state"), "TMPDIR": str(tmp_path / "tmp")}
    yield env
    state = tmp_path / "state" / "registry" / "state.json"
    if state.exists():
        pid = json.loads(state.read_text()).get("pid")
        if isinstance(pid, int):
            stop_registry(pid)


@pytest.mark.usefixtures("python_base")
def test_two_runs_of_one_project_and_one_of_another_at_once(  # type: ignore[no-untyped-def]
    tmp_path, shared, docker_client
):
    one = make_service_project(tmp_path / "one")
    other = make_service_project(tmp_path / "other", files={"extra.txt": "another project\n"})
    config_one = write_config(one, service_config(unique_image("concurrent-one")))
    config_other = write_config(other, service_config(unique_image("concurrent-other")))

    runs = [
        InvokeProcess("ci", "--config", str(config_one), env=shared),
        InvokeProcess("ci", "--config", str(config_one), env=shared),
        InvokeProcess("ci", "--config", str(config_other), env=shared),
    ]
    try:
        codes = [run.wait(600) for run in runs]
    finally:
        for run in runs:
            run.stop()

    for run, code in zip(runs, codes, strict=True):
        assert code == 0, run.output
        assert "result: OK" in run.stdout
    report_paths = [Path(re.findall(r"^report: (\S+)$", r.stdout, re.M)[-1]) for r in runs]
    assert len(set(report_paths)) == 3, "each run writes its own report"
    reports = [json.loads(path.read_text()) for path in report_paths]
    assert len({r["run_id"] for r in reports}) == 3
    # (the two runs of one project build the same image when their created labels fall on the
    # same millisecond: the classic builder's cache makes it one image, which is fine)
    assert len({r["image_id"] for r in reports}) >= 2
    last = json.loads((Path(shared["HOIST_STATE_DIR"]) / "reports" / "last.json").read_text())
    assert last in reports

    # one embedded registry served all three runs
    state, password = embedded_registry_state(Path(shared["HOIST_STATE_DIR"]))
    assert process_alive(state["pid"])
    registry_log = (Path(shared["HOIST_STATE_DIR"]) / "registry" / "registry.log").read_text()
    assert "address already in use" not in registry_log
    reader = RegistryReader(state["address"], state["username"], password)
    for report in reports:
        [push] = report["pushes"]
        assert push["endpoint"] == state["address"]
        assert reader.check_consistent(report["image"], push["digest"]) == push["digest"]
        config = reader.manifest(report["image"], push["digest"])
        assert config is not None
        assert config[1]["config"]["digest"] == report["image_id"], (
            f"run {report['run_id']} reported the push of an image it did not build"
        )
        assert run_containers(docker_client, report["run_id"]) == []
    assert sorted(str(p) for p in Path(shared["TMPDIR"]).rglob("*")) == []


def test_last_report_is_never_seen_half_written(tmp_path: Path) -> None:
    """Two runs ending at once, and a ``deploy`` reading ``last.json`` meanwhile: a reader
    racing two writers must always parse a whole report (library level, no engine needed)."""
    from pipeline.report import RunReport, write_report

    reports = [
        RunReport(run_id=f"r{i}", config="c", image="app", started="now", tags=["t"] * 200 * i)
        for i in (1, 2)
    ]
    done = threading.Event()
    torn: list[str] = []

    def read() -> None:
        last = tmp_path / "last.json"
        while not done.is_set():
            try:
                text = last.read_text()
            except FileNotFoundError:
                continue
            try:
                json.loads(text)
            except ValueError:
                torn.append(text[-40:])

    def write(report: RunReport) -> None:
        for _ in range(300):
            write_report(report, tmp_path)

    reader = threading.Thread(target=read)
    writers = [threading.Thread(target=write, args=(r,)) for r in reports]
    reader.start()
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    done.set()
    reader.join()

    assert torn == []
    assert json.loads((tmp_path / "last.json").read_text())["run_id"] in ("r1", "r2")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.json", "run-r1.json", "run-r2.json"]
