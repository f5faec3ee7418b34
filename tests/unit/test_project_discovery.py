"""Which pipeline.yaml a task runs, and where its state goes: found like git finds its
repository (here or above), state beside the file — never in hoist's own checkout or install.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline import paths
from pipeline.errors import ConfigError
from pipeline.project import load_config, open_project

CHECKOUT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def no_project(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with no state dir chosen, by the environment or an earlier task."""
    monkeypatch.delenv("HOIST_STATE_DIR", raising=False)
    monkeypatch.setattr(paths, "_project", None)
    yield


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """A project with a pipeline.yaml and a nested source directory."""
    root = tmp_path / "service"
    (root / "src" / "deep").mkdir(parents=True)
    (root / "Dockerfile").write_text("FROM scratch\n")
    (root / "pipeline.yaml").write_text("image: team/service\nbuild: {context: .}\n")
    return root


def test_the_nearest_pipeline_yaml_is_found_from_a_subdirectory(
    app: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert paths.find_config(app / "src" / "deep") == app / "pipeline.yaml"
    monkeypatch.chdir(app / "src" / "deep")
    config = load_config()
    assert config.path == app / "pipeline.yaml"
    assert config.build.context == app  # paths stay relative to the file, not to the cwd


def test_a_nested_project_wins_over_the_one_above(app: Path) -> None:
    inner = app / "src"
    (inner / "pipeline.yaml").write_text("image: team/inner\n")
    assert paths.find_config(inner / "deep") == inner / "pipeline.yaml"


def test_no_pipeline_yaml_anywhere_above_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    assert paths.find_config(empty) is None
    with pytest.raises(ConfigError) as caught:
        load_config()
    message = str(caught.value)
    assert message.startswith(f"pipeline.yaml: not found in {empty} or any directory above it")
    assert "--config" in message and "\n" not in message
    assert caught.value.exit_code == 2


def test_errors_name_a_file_found_above_by_its_relative_path(
    app: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (app / "pipeline.yaml").write_text("image: team/service\nbuild: {context: .}\nsmoke: 3\n")
    monkeypatch.chdir(app / "src")
    with pytest.raises(ConfigError, match=r"^\.\./pipeline\.yaml: smoke: "):
        load_config()


def test_state_is_kept_beside_the_pipeline_yaml_a_task_runs(
    app: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # like `hoist ci --config ../service/pipeline.yaml`
    open_project(app / "pipeline.yaml", {})
    assert paths.state_dir() == app / ".hoist"
    assert not paths.state_dir().is_relative_to(CHECKOUT)


def test_without_a_task_the_state_is_beside_the_nearest_pipeline_yaml(
    app: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(app / "src" / "deep")  # `hoist registry.up` loads no pipeline.yaml
    assert paths.state_dir() == app / ".hoist"
    bare = tmp_path / "bare"
    bare.mkdir()
    monkeypatch.chdir(bare)
    assert paths.state_dir() == bare / ".hoist"


def test_hoist_state_dir_still_wins(
    app: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOIST_STATE_DIR", str(tmp_path / "chosen"))
    open_project(app, {})
    assert paths.state_dir() == tmp_path / "chosen"
