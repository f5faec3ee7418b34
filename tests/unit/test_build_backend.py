"""Choosing the builder: which docker CLI can drive BuildKit, asked of real executables.

The CLIs here are small shell scripts answering ``buildx version`` and ``--version`` as the
real ones do (a 28.x client without buildx, Debian's 20.10, one with the buildx plugin); the
probing runs them as it runs the real ones. The machine's own CLIs are never consulted:
PATH points at the scripts' directory only.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.build.backend import CLI_ENV, Backend, candidates, choose_backend, find_cli
from pipeline.build.settings import BuildConfig, BuildSecret
from pipeline.errors import ConfigError

NO_BUILDX = 'echo "docker: unknown command: docker buildx" >&2; exit 1'


def fake_cli(directory: Path, version: str, buildx: str | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "docker"
    answer_buildx = (
        f"echo 'github.com/docker/buildx v{buildx} 1234'; exit 0" if buildx else NO_BUILDX
    )
    path.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = buildx ]; then {answer_buildx}; fi\n'
        f'if [ "$1" = --version ]; then echo "Docker version {version}, build abc"; exit 0; fi\n'
        "exit 1\n"
    )
    path.chmod(0o755)
    return path


def env_with(*directories: Path) -> dict[str, str]:
    return {"PATH": ":".join(str(d) for d in directories)}


@pytest.fixture(autouse=True)
def no_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine's /usr/bin/docker stays out of these tests."""
    monkeypatch.setattr("pipeline.build.backend.FALLBACK_CLIS", ())


def config(backend: str = "auto", secrets: tuple[BuildSecret, ...] = ()) -> BuildConfig:
    return BuildConfig(Path("."), Path("Dockerfile"), backend=backend, secrets=secrets)


def test_a_2010_cli_behind_a_newer_one_without_buildx_is_found(tmp_path: Path) -> None:
    new = fake_cli(tmp_path / "new", "28.2.2")
    old = fake_cli(tmp_path / "old", "20.10.24+dfsg1")

    found, _ = find_cli(env_with(new.parent, old.parent))

    assert found is not None
    assert (found.path, found.version, found.buildx) == (str(old), "20.10.24", False)


def test_buildx_wins_over_builtin_buildkit_wherever_it_is_on_path(tmp_path: Path) -> None:
    old = fake_cli(tmp_path / "old", "20.10.24")
    plugin = fake_cli(tmp_path / "plugin", "28.2.2", buildx="0.23.0")

    found, _ = find_cli(env_with(old.parent, plugin.parent))

    assert found is not None and found.buildx and found.path == str(plugin)
    assert Backend(found).describe() == f"BuildKit (buildx 0.23.0 at {plugin})"


@pytest.mark.parametrize("version", ["19.03.15", "23.0.1", "28.2.2"])
def test_a_cli_without_buildkit_is_not_capable(tmp_path: Path, version: str) -> None:
    cli = fake_cli(tmp_path / "bin", version)

    found, tried = find_cli(env_with(cli.parent))

    assert found is None
    assert tried == [f"{cli}: {version} without buildx"]


def test_the_same_file_twice_on_path_is_asked_once(tmp_path: Path) -> None:
    cli = fake_cli(tmp_path / "bin", "20.10.24")
    (tmp_path / "link").mkdir()
    (tmp_path / "link" / "docker").symlink_to(cli)

    assert candidates(env_with(cli.parent, tmp_path / "link")) == [str(cli)]


def test_the_env_override_is_the_only_candidate(tmp_path: Path) -> None:
    good = fake_cli(tmp_path / "good", "20.10.24")
    chosen = fake_cli(tmp_path / "chosen", "28.2.2")
    environ = {**env_with(good.parent), CLI_ENV: str(chosen)}

    assert find_cli(environ) == (None, [f"{chosen}: 28.2.2 without buildx"])


def test_auto_falls_back_to_classic_and_buildkit_refuses_in_one_line(tmp_path: Path) -> None:
    old = fake_cli(tmp_path / "bin", "19.03.1")

    assert choose_backend(config("auto"), env_with(old.parent)).name == "classic"
    with pytest.raises(ConfigError) as refused:
        choose_backend(config("buildkit"), env_with(old.parent))

    assert refused.value.exit_code == 2
    assert "\n" not in str(refused.value)
    assert f"no docker CLI here can drive BuildKit (tried {old}: 19.03.1 without buildx)" in str(
        refused.value
    )
    assert CLI_ENV in str(refused.value)


def test_no_docker_at_all_is_said_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"tried no docker CLI found"):
        choose_backend(config("buildkit"), env_with(tmp_path))


@pytest.mark.parametrize("backend", ["classic", "auto"])
def test_secrets_without_buildkit_are_an_error_never_build_args(
    tmp_path: Path, backend: str
) -> None:
    old = fake_cli(tmp_path / "bin", "19.03.1")
    secret = (BuildSecret("npmrc", env="NPM_TOKEN"),)

    with pytest.raises(ConfigError) as refused:
        choose_backend(config(backend, secret), env_with(old.parent))

    assert refused.value.exit_code == 2
    assert str(refused.value).startswith("build.secrets: build secrets need BuildKit")
