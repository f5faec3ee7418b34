"""metadata-action's ``images`` input: ``name=IMAGE,enable=BOOL``, ``IMAGE,enable=BOOL``, ``IMAGE``.

The parser's forms and errors first (metadata-action's ``__tests__/image.test.ts`` table among
them), then ``invoke tags --json --image ...`` as a user runs it: a separate process in a
throwaway git repository, no engine needed.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.tags.images import ImageInput, parse_images
from tests.conftest import _git_init, run_invoke

# --- the parser --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["name/foo"], [ImageInput("name/foo")]),
        # a single line without key=value: the older comma-separated list of names
        (["name/foo,name/bar"], [ImageInput("name/foo"), ImageInput("name/bar")]),
        (["name/foo", "name/bar"], [ImageInput("name/foo"), ImageInput("name/bar")]),
        (
            ["name=name/bar", "name/foo,enable=false", "name=ghcr.io/name/foo,enable=true"],
            [ImageInput("name/bar"), ImageInput("name/foo", False), ImageInput("ghcr.io/name/foo")],
        ),
        # keys are case-insensitive, whitespace around keys and values is dropped, names are
        # lower-cased, fields may be quoted
        ([" NAME = GHCR.io/User/App , Enable = false "], [ImageInput("ghcr.io/user/app", False)]),
        (['"name=org/app","enable=true"'], [ImageInput("org/app")]),
        (["enable=false,name=org/app"], [ImageInput("org/app", False)]),
        (["localhost:5000/app,enable=true"], [ImageInput("localhost:5000/app")]),
        # one entry may hold several lines (a workflow's block input); blanks and # are skipped
        (["org/app\n\n# not this one\nghcr.io/org/app,enable=false"],
         [ImageInput("org/app"), ImageInput("ghcr.io/org/app", False)]),
        (["", "  "], []),
    ],
)  # fmt: skip
def test_every_form_of_an_images_line(lines: list[str], expected: list[ImageInput]) -> None:
    assert parse_images(lines) == expected


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("value=name/foo", "'value=name/foo': unknown image attribute 'value' (use name, enable)"),
        ("name/foo,bar=baz", "'name/foo,bar=baz': unknown image attribute 'bar'"),
        ("name/foo,enable=bar", "'name/foo,enable=bar': enable must be true or false, got 'bar'"),
        ("name/foo,enable=True", "enable must be true or false, got 'True'"),  # exactly, as there
        ("name=,enable=true", "'name=,enable=true': the image name is empty"),
        ("enable=false", "'enable=false': the image name is empty"),
        ("name/foo,name=name/bar,enable=true", "names two images, 'name/foo' and 'name/bar'"),
        ("name/foo,enable", "names two images, 'name/foo' and 'enable'"),
        ('"name=org/app,enable=true', "unclosed quote"),
        ("ghcr.io/user/app:1.0,enable=true", "'ghcr.io/user/app:1.0': must be an image name "
                                             "without a tag or digest"),
        ("name=my app", "'my app': is not a valid image name"),
    ],
)  # fmt: skip
def test_a_bad_line_is_one_error_naming_the_source_and_the_line(line: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_images(["org/app", line], "--image")
    message = str(caught.value)
    assert message.startswith("--image: '")
    assert problem in message
    assert "\n" not in message


def test_a_disabled_image_is_still_checked() -> None:
    """A typo must not wait until the day the image is enabled."""
    with pytest.raises(ConfigError, match="'org/app:1': must be an image name"):
        parse_images(["Org/App:1,enable=false"])


# --- invoke tags --json --image ... ----------------------------------------------------------


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A git repository on ``main`` whose tags are ``main`` and ``sha-<short>``; its sha."""
    root = tmp_path_factory.mktemp("image-attributes")
    (root / "app").mkdir()
    (root / "app" / "Dockerfile").write_text("FROM scratch\n")
    (root / "pipeline.yaml").write_text(
        "image: hoist-test/configured\nbuild: {context: app}\n"
        "metadata: {tags: ['type=ref,event=branch', 'type=sha']}\n"
    )
    _git_init(root)
    sha = subprocess.run(
        ["git", "rev-parse", "--short=7", "HEAD"], cwd=root, capture_output=True, text=True,
        check=True,
    ).stdout.strip()  # fmt: skip
    return root, sha


def invoke_tags(project: tuple[Path, str], *images: str) -> subprocess.CompletedProcess[str]:
    root, _ = project
    args = [arg for image in images for arg in ("--image", image)]
    return run_invoke("tags", "--json", "--config", str(root / "pipeline.yaml"), *args, cwd=root)


def test_cli_drops_a_disabled_image_and_takes_name_equals(project: tuple[Path, str]) -> None:
    """metadata-action's push20, through the CLI."""
    _, sha = project

    result = invoke_tags(project, "ghcr.io/user/app,enable=false", "name=org/app,enable=true")

    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["version"] == "main"
    assert payload["tags"] == ["org/app:main", f"org/app:sha-{sha}"]


def test_cli_older_comma_list_and_every_image_disabled(project: tuple[Path, str]) -> None:
    _, sha = project

    listed = invoke_tags(project, "org/app,ghcr.io/User/App")
    disabled = invoke_tags(project, "org/app,enable=false")

    assert listed.returncode == 0, listed.stderr
    tags = ["main", f"sha-{sha}"]
    assert json.loads(listed.stdout)["tags"] == [
        f"{image}:{tag}" for image in ("org/app", "ghcr.io/user/app") for tag in tags
    ]
    assert disabled.returncode == 0, disabled.stderr
    assert json.loads(disabled.stdout)["tags"] == tags  # bare, as metadata-action gives them


def test_cli_refuses_an_unknown_attribute_with_one_line(project: tuple[Path, str]) -> None:
    result = invoke_tags(project, "org/app", "org/other,colour=red")

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "hoist: error: --image: 'org/other,colour=red': unknown image attribute 'colour' "
        "(use name, enable) (one image a line: IMAGE, IMAGE,enable=false or "
        "name=IMAGE,enable=true)"
    ]
