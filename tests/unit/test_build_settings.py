"""``build.backend``, ``build.cache`` and ``build.secrets`` in pipeline.yaml: what loads, and the
one line for each mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.build.settings import BuildSecret, CacheConfig
from pipeline.errors import ConfigError
from pipeline.project import load_config


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text("FROM scratch\n")
    return tmp_path


def load(project: Path, build: str):  # type: ignore[no-untyped-def]
    path = project / "pipeline.yaml"
    path.write_text(f"image: app\nbuild:\n  context: app\n{build}")
    return load_config(path).build


def test_defaults_are_auto_no_cache_no_secrets(project: Path) -> None:
    build = load(project, "")
    assert (build.backend, build.cache, build.secrets) == ("auto", CacheConfig(), ())
    assert not build.cache.enabled


def test_secrets_by_env_and_by_file_relative_to_the_config(project: Path) -> None:
    build = load(project, "  secrets:\n    npmrc: {file: ci/npmrc}\n    token: {env: TOKEN}\n")
    assert build.secrets == (
        BuildSecret("npmrc", file=project / "ci" / "npmrc"),
        BuildSecret("token", env="TOKEN"),
    )


def test_cache_shorthand_and_explicit_refs(project: Path) -> None:
    assert load(project, "  cache: registry\n").cache == CacheConfig(default="registry")
    explicit = load(project, "  cache: {from: [r.io/a:c1, r.io/a:c2], to: r.io/a:c1}\n").cache
    assert explicit == CacheConfig(("r.io/a:c1", "r.io/a:c2"), "r.io/a:c1")
    assert explicit.enabled


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            "  backend: kaniko\n",
            "build.backend: unknown backend 'kaniko' (auto | buildkit | classic)",
        ),
        ("  cache: s3\n", "build.cache: unknown cache 's3'"),
        ("  cache: {to: 'a b'}\n", "build.cache.to: 'a b' is not an image reference"),
        ("  cache: {push: x}\n", "build.cache.push: unknown key"),
        ("  secrets: [a]\n", "build.secrets: expected a mapping of ids"),
        ("  secrets: {'a b': {env: X}}\n", "build.secrets: 'a b' is not a secret id"),
        ("  secrets: {t: {env: X, file: y}}\n", "build.secrets.t: give exactly one of env"),
        ("  secrets: {t: {}}\n", "build.secrets.t: give exactly one of env"),
        ("  secrets: {t: {value: x}}\n", "build.secrets.t.value: unknown key"),
    ],
)
def test_each_mistake_is_one_line_naming_the_field(project: Path, build: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load(project, build)
    text = str(error.value)
    assert "\n" not in text
    assert message in text, text
