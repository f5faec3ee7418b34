"""pipeline.yaml validation: a good file loads; each bad one gives its one-line message."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.project import load_config

GOOD = """\
image: team/app
build:
  context: app
  args: {NODE_ENV: production}
metadata:
  tags: [type=sha]
smoke:
  port: 8080
  path: /healthz
  expect_body: ok
registries:
  - kind: local
  - kind: generic
    name: mirror
    repository: registry.example.com/team/app
    endpoint: 127.0.0.1:5000
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text("FROM scratch\n")
    return tmp_path


def write(project: Path, text: str | bytes) -> Path:
    path = project / "pipeline.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def test_good_file_loads_with_paths_relative_to_it(project: Path) -> None:
    config = load_config(write(project, GOOD))
    assert config.image == "team/app"
    assert config.build.context == project / "app"
    assert config.build.dockerfile == project / "app" / "Dockerfile"
    assert config.build.args == {"NODE_ENV": "production"}
    assert config.smoke.port == 8080
    assert [t.name for t in config.registries] == ["local", "mirror"]
    assert config.registries[1].endpoint == "127.0.0.1:5000"


def test_defaults_push_to_the_embedded_registry(project: Path) -> None:
    config = load_config(write(project, "image: app\nbuild: {context: app}\n"))
    assert [(t.kind, t.name) for t in config.registries] == [("local", "local")]
    assert config.smoke.path == "/healthz"
    assert config.lint.failure_threshold == "warning"


def test_a_directory_means_its_pipeline_yaml(project: Path) -> None:
    write(project, "image: app\nbuild: {context: app}\n")
    assert load_config(project).image == "app"


BAD = [
    ("", "pipeline.yaml: file is empty"),
    ("image: [unclosed", "pipeline.yaml: line 1, column 17: invalid YAML: expected ',' or ']'"),
    ("- a\n- b\n", "pipeline.yaml: (top level): expected a mapping, got a list"),
    ("image: app\nbuild: {context: app}\nbuidl: {}\n", "pipeline.yaml: buidl: unknown key"),
    ("build: {context: app}\n", "pipeline.yaml: image: is required"),
    ("image: App_Name\nbuild: {context: app}\n", "image: 'App_Name' is not a valid image name"),
    ("image: app:1.0\nbuild: {context: app}\n", "image: 'app:1.0' must be a name without a tag"),
    ("image: app\nbuild: {context: nowhere}\n", "build.context: directory nowhere not found"),
    (
        "image: app\nbuild: {context: app, dockerfile: Missing.Dockerfile}\n",
        "build.dockerfile: Missing.Dockerfile not found in app",
    ),
    (
        "image: app\nbuild: {context: app, dockerfile: ../Dockerfile}\n",
        "build.dockerfile: ../Dockerfile is outside the build context app",
    ),
    (
        "image: app\nbuild: {context: app}\nsmoke: {port: web}\n",
        "smoke.port: expected an integer, got a string ('web')",
    ),
    (
        "image: app\nbuild: {context: app}\nsmoke: {port: 70000}\n",
        "smoke.port: must be between 1 and 65535, got 70000",
    ),
    (
        "image: app\nbuild: {context: app}\nsmoke: {path: healthz}\n",
        "smoke.path: 'healthz' must start with /",
    ),
    (
        "image: app\nbuild: {context: app}\nsmoke: {expect_body: '(unclosed'}\n",
        "smoke.expect_body: invalid regular expression",
    ),
    (
        "image: app\nbuild: {context: app}\nsmoke: {timeout: true}\n",
        "smoke.timeout: expected a number of seconds, got a boolean (true)",
    ),
    (
        "image: app\nbuild: {context: app}\nlint: {failure_threshold: loud}\n",
        "lint.failure_threshold: 'loud' is not one of error, warning, info, style, none",
    ),
    (
        "image: app\nbuild: {context: app}\nlint: {hadolint: 'yes'}\n",
        "lint.hadolint: expected true or false, got a string ('yes')",
    ),
    (
        "image: app\nbuild: {context: app, args: {NPM_TOKEN: abc}}\n",
        "build.args.NPM_TOKEN: looks like a secret",
    ),
    (
        "image: app\nbuild: {context: app, args: [a, b]}\n",
        "build.args: expected a mapping of names to strings, got a list",
    ),
    (
        "image: app\nbuild: {context: app}\nregistries: [{kind: dockerhubb}]\n",
        "registries[0].kind: unknown registry kind 'dockerhubb'",
    ),
    (
        "image: app\nbuild: {context: app}\nregistries: []\n",
        "registries: expected a non-empty list of targets",
    ),
    (
        "image: app\nbuild: {context: app}\nregistries: [{kind: local}, {kind: local}]\n",
        "registries[1].name: duplicate target name 'local'",
    ),
    (
        "image: app\nbuild: {context: app}\nregistries: [{repository: x/y}]\n",
        "registries[0].kind: is required",
    ),
    (
        "image: app\nbuild: {context: app}\nmetadata: {tags: {a: b}}\n",
        "metadata.tags: expected a list of strings, got a mapping",
    ),
    (b"image: caf\xe9\n", "pipeline.yaml: not UTF-8 text (byte 10)"),
    (
        "a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"b{i}: &b{i} [*a, *a, *a, *a, *a, *a, *a, *a]\n" for i in range(9)),
        "YAML aliases, over 64 (alias bomb refused)",
    ),
]


@pytest.mark.parametrize(("text", "expected"), BAD, ids=[e for _, e in BAD])
def test_bad_file_gives_one_line_naming_file_and_field(
    project: Path, text: str | bytes, expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(project, text))
    message = str(caught.value)
    assert expected in message
    assert message.startswith(str(project / "pipeline.yaml"))
    assert "\n" not in message
    assert caught.value.exit_code == 2


def test_missing_file_says_how_to_point_at_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"file not found \(pass --config"):
        load_config(tmp_path / "pipeline.yaml")


def test_oversized_file_is_refused(project: Path) -> None:
    with pytest.raises(ConfigError, match="over 262144"):
        load_config(write(project, "image: app\n" + "#" * 300_000 + "\n"))
