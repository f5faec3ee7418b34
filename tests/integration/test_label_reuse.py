"""Labels through the real engine's Dockerfile parser, and an unchanged tree giving the same
image and the same registry digest run after run (hoist issue 12).

Every image a test here builds is removed by id afterwards. Images built from the node-app
copy are removed without their untagged parents: those are the engine's build cache, which
another build on this shared engine may be using at that moment.
"""

from __future__ import annotations

import contextlib
import io
import json
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from pipeline.build.labels import CREATED_LABEL
from pipeline.build.settings import BuildConfig
from pipeline.build.stage import build_image, tag_image
from pipeline.push.registries.base import Credentials
from pipeline.push.registry_api import RegistryClient
from tests.conftest import REPO, run_invoke

pytestmark = pytest.mark.integration

TRICKY = {
    "a": "it's",
    "b": 'say "hi"',
    "c": "$HOME",
    "c2": "${HOME:-fallback} $$ $",
    "d": "back\\slash",
    "d2": "ends in a backslash\\",
    "d3": 'a \\" b',
    "e": "# not a comment",
    "f": "ünïcødé ✓",
    "g": "a=b=c",
    "h": "  spaced  out  ",
    "i": "",
    "j": "nbsp\u00a0and zwj 👩\u200d💻",
    "k": "`backticks` and 'single' quotes",
    "with space": "a key with a space",
    'key"quote': "a key with a quote",
    "key$HOME": "a key with a dollar",
    "key'apostrophe": "a key with an apostrophe",
    CREATED_LABEL: "2026-01-01T00:00:00Z",
}


@pytest.fixture
def remove_afterwards(docker_client) -> Iterator[Callable[..., None]]:  # type: ignore[no-untyped-def]
    """Register an image id this test built; it is removed (force: every tag) at teardown.
    ``prune=False`` keeps its untagged parents (the shared build cache)."""
    from docker.errors import ImageNotFound

    images: list[tuple[str, bool]] = []
    yield lambda image_id, prune=True: images.append((image_id, prune))
    for image_id, prune in reversed(images):  # children before the images they stand on
        with contextlib.suppress(ImageNotFound):  # gone with a child registered after it
            docker_client.api.remove_image(image_id, force=True, noprune=not prune)


def scratch_build(tmp_path: Path) -> BuildConfig:
    """A context of its own (a random file FROM scratch): no base image, a cache no one shares."""
    context = tmp_path / f"context-{secrets.token_hex(3)}"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM scratch\nCOPY hello.bin /\nENV GREETING=hello\n")
    (context / "hello.bin").write_bytes(secrets.token_bytes(64))
    return BuildConfig(context=context, dockerfile=context / "Dockerfile")


def label_steps(docker_client, image_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        entry["CreatedBy"]
        for entry in docker_client.api.history(image_id)
        if "LABEL" in entry["CreatedBy"]
    ]


def test_tricky_labels_arrive_byte_for_byte_in_one_label_step(  # type: ignore[no-untyped-def]
    docker_client, tmp_path, remove_afterwards
):
    reference = f"hoist-test/labels-{secrets.token_hex(3)}:one"

    built = build_image(docker_client, scratch_build(tmp_path), [reference], TRICKY, print)
    remove_afterwards(built.image_id)
    tag_image(docker_client, built)

    found = docker_client.api.inspect_image(reference)["Config"]["Labels"]
    assert {k.encode(): v.encode() for k, v in found.items()} == {
        k.encode(): v.encode() for k, v in TRICKY.items()
    }
    assert built.labels == TRICKY
    assert len(label_steps(docker_client, built.image_id)) == 1


def test_reuse_is_decided_by_what_the_image_is_not_by_its_history(  # type: ignore[no-untyped-def]
    docker_client, tmp_path, remove_afterwards
):
    build = scratch_build(tmp_path)
    reference = f"hoist-test/labels-{secrets.token_hex(3)}:one"
    labels = {"org.opencontainers.image.description": "hoist's sample", CREATED_LABEL: "t1"}
    content = build_image(docker_client, build, [reference], {}, print).image_id
    remove_afterwards(content)
    # What the fallback used to make: one step per label, so Parent is not the content.
    stream = docker_client.api.build(
        fileobj=io.BytesIO(f"FROM {content}\n".encode()), labels=labels, rm=True, decode=True
    )
    (previous,) = [chunk["aux"]["ID"] for chunk in stream if "ID" in chunk.get("aux", {})]
    remove_afterwards(previous)
    assert docker_client.api.inspect_image(previous)["Parent"] != content
    docker_client.api.tag(previous, *reference.split(":"))
    lines: list[str] = []

    again = build_image(
        docker_client, build, [reference], {**labels, CREATED_LABEL: "t2"}, lines.append
    )
    remove_afterwards(again.image_id)

    assert again.image_id == previous
    assert again.labels[CREATED_LABEL] == "t1"  # when this content was first built
    assert f"unchanged: reusing {previous[7:19]} (created t1)" in lines

    other_label = {**labels, "org.opencontainers.image.description": "changed", CREATED_LABEL: "t3"}
    relabelled = build_image(docker_client, build, [reference], other_label, lines.append)
    remove_afterwards(relabelled.image_id)
    tag_image(docker_client, relabelled)
    assert relabelled.image_id != previous
    assert docker_client.api.inspect_image(reference)["Config"]["Labels"] == other_label

    (build.context / "hello.bin").write_bytes(secrets.token_bytes(64))
    lines.clear()
    rebuilt = build_image(
        docker_client, build, [reference], {**other_label, CREATED_LABEL: "t4"}, lines.append
    )
    remove_afterwards(rebuilt.image_id)
    assert rebuilt.image_id != relabelled.image_id
    assert rebuilt.labels[CREATED_LABEL] == "t4"
    assert not any(line.startswith("unchanged:") for line in lines)


def report_of(state: dict[str, str]) -> dict:  # type: ignore[type-arg]
    return json.loads((Path(state["HOIST_STATE_DIR"]) / "reports" / "last.json").read_text())


def test_three_ci_runs_of_an_unchanged_checkout_push_one_image_once(  # type: ignore[no-untyped-def]
    make_app, hoist_state, docker_client, remove_afterwards
):
    metadata = yaml.safe_load((REPO / "pipeline.yaml").read_text())["metadata"]
    # node-app's own description (an apostrophe) plus what else used to split the labels
    metadata["labels"] = {"io.hoist.test.note": 'say "hi" to $HOME # \\o/'}
    config = make_app({"metadata": metadata})

    runs = []
    for _ in range(3):
        result = run_invoke("ci", "--config", str(config), env=hoist_state)
        assert result.returncode == 0, result.stdout + result.stderr
        runs.append((result.stdout, report_of(hoist_state)))
        remove_afterwards(runs[-1][1]["image_id"], prune=False)

    (image_id,) = {report["image_id"] for _, report in runs}
    (digest,) = {push["digest"] for _, report in runs for push in report["pushes"]}
    (created,) = {report["labels"][CREATED_LABEL] for _, report in runs}
    labels = docker_client.api.inspect_image(image_id)["Config"]["Labels"]
    assert labels["org.opencontainers.image.description"] == metadata["description"]
    assert labels["io.hoist.test.note"] == 'say "hi" to $HOME # \\o/'
    assert labels[CREATED_LABEL] == created
    assert len(label_steps(docker_client, image_id)) == 1
    (first, _), *later = runs
    assert "already there" not in first and "unchanged: reusing" not in first
    for stdout, _ in later:
        assert f"unchanged: reusing {image_id[7:19]} (created {created})" in stdout
        assert f"already there: {digest} (nothing to upload)" in stdout

    state = json.loads((Path(hoist_state["HOIST_STATE_DIR"]) / "registry/state.json").read_text())
    password = (Path(hoist_state["HOIST_STATE_DIR"]) / "registry/auth").read_text().strip()
    registry = RegistryClient("local", state["address"], Credentials("hoist", password))
    (push,) = runs[-1][1]["pushes"]
    repository = push["repository"].split("/", 1)[1]
    for tag in runs[-1][1]["tags"]:
        assert registry.manifest_digest(repository, tag) == digest


def test_a_line_break_in_the_description_is_refused_before_anything_is_built(  # type: ignore[no-untyped-def]
    make_app, hoist_state, docker_client
):
    config = make_app(
        {
            "metadata": {"description": "first line\nsecond line\n"},
            "lint": {"hadolint": False, "eslint": False, "ruff": []},
        }
    )
    image = yaml.safe_load(config.read_text())["image"]

    result = run_invoke("ci", "--config", str(config), env=hoist_state)

    assert result.returncode == 2, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("hoist: error")]
    assert errors == [
        "hoist: error: label: org.opencontainers.image.description: the value holds a control "
        "character ('\\n', U+000A); a label is one line of printable text (write it on one "
        "line in pipeline.yaml's metadata; a YAML `|` block keeps a final line break, `>-` "
        "folds the lines into one)"
    ]
    assert "Traceback" not in result.stderr
    assert docker_client.images.list(name=image) == []
    assert report_of(hoist_state)["pushes"] == []
