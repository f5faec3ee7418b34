"""The classic builder, driven through the Docker SDK: the build stream read to an image id.

docker-py's ``build`` uses the classic builder (no BuildKit, docker-py issue 2230) and reports
errors as ``{"error": ...}`` lines in the stream rather than raising, so the stream is read
here, its steps shown, and an error line becomes a ``StageFailed`` that carries the failing
step's last output lines. ``forcerm`` removes the intermediate containers even when a step
fails, and on Ctrl-C/SIGTERM the container of the running step is removed here, so a failed
or interrupted build leaves nothing behind.

Labels are applied in a second, tiny build (``FROM <built image>`` plus one ``LABEL``
instruction): the classic builder turns each ``labels=`` entry into a step of its own (a
container and a commit each), and the ``created`` label, new on every run, would rebuild every
label step after it. When the image tagged with the first reference already is what this
build would make (``labels.unchanged``), it is reused as is: ``created`` then says when that
content was first built (as the engine's own ``Created`` does for a cached build), and an
unchanged input keeps its image id and registry digest.
"""

from __future__ import annotations

import contextlib
import io
import re
import time
from dataclasses import dataclass, field
from typing import Any

import docker
from docker.errors import APIError, ImageNotFound

from pipeline.build.labels import CREATED_LABEL, label_instruction, unchanged
from pipeline.errors import Interrupted, StageFailed
from pipeline.result import Log

STEP_OUTPUT_LINES = 20  # of a failing step, shown above the error
STEP_CLEANUP_SECONDS = 15.0  # at most, for the engine to remove an interrupted step's container
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def run_build(client: docker.DockerClient, stream: Any, log: Log) -> tuple[str, int, int]:
    """Read a build stream to its image id; on Ctrl-C/SIGTERM remove the running step."""
    # docker-py returns a generator over the HTTP response: keep the response, to close it
    response = getattr(getattr(stream, "gi_frame", None), "f_locals", {}).get("response")
    step = _Step()
    try:
        return _read_build_stream(stream, log, step)
    except (KeyboardInterrupt, Interrupted):
        _clean_up_step(client, step, response)
        raise


def apply_labels(
    client: docker.DockerClient, content: str, labels: dict[str, str], reference: str, log: Log
) -> tuple[str, dict[str, str]]:
    """The built image with ``labels``: the previous run's when it is this very image (see
    ``unchanged``), else a child of ``content`` made in one ``LABEL`` step. Returns its id
    and its labels."""
    if not labels:
        return content, labels
    built = client.api.inspect_image(content)
    with contextlib.suppress(ImageNotFound):  # no such image yet: nothing to reuse
        previous = client.api.inspect_image(reference)
        if unchanged(previous, built, labels):
            created = previous["Config"]["Labels"][CREATED_LABEL]
            log(f"unchanged: reusing {previous['Id'][7:19]} (created {created})")
            return str(previous["Id"]), {**labels, CREATED_LABEL: created}
    dockerfile = f"FROM {content}\n{label_instruction(labels)}\n".encode()
    stream = client.api.build(fileobj=io.BytesIO(dockerfile), rm=True, forcerm=True, decode=True)
    image_id, _, _ = run_build(client, stream, lambda text: None)
    return image_id, labels


@dataclass
class _Step:
    """The step in progress: its header, the container running it, its last output lines."""

    header: str = ""
    container: str | None = None
    parent: str | None = None  # the image the step's container is created from
    started: float = 0.0  # epoch seconds when the step began
    output: list[str] = field(default_factory=list)


def _clean_up_step(client: docker.DockerClient, step: _Step, response: Any) -> None:
    """Ctrl-C/SIGTERM during a build: stop it, and make sure its step container is gone.

    Closing the connection makes the engine cancel the build, and ``forcerm`` then removes
    the container — asynchronously, while "cleaned up" must be true when hoist exits. So the
    container is removed here, and waited for (bounded) when the signal came before the
    stream named it: waited for, never guessed at, as another build may run the same step.
    """
    with contextlib.suppress(Exception):  # best effort: the process exit closes it too
        if response is not None:
            response.close()
    if step.container:
        with contextlib.suppress(APIError):  # already gone, or removal already in progress
            client.api.remove_container(step.container, force=True)
    deadline = time.monotonic() + STEP_CLEANUP_SECONDS
    while _step_containers(client, step) and time.monotonic() < deadline:
        time.sleep(0.1)


def _step_containers(client: docker.DockerClient, step: _Step) -> list[str]:
    if step.container:
        filters = {"id": step.container}
    elif step.parent:
        filters = {"ancestor": step.parent}
    else:
        return []
    try:
        found = client.api.containers(all=True, filters=filters)
    except APIError:
        return []
    return [c["Id"] for c in found if c.get("Created", 0) >= int(step.started) - 1]


def _read_build_stream(stream: Any, log: Log, step: _Step) -> tuple[str, int, int]:
    image_id = None
    steps = cached = 0
    pending = ""  # a line may arrive in pieces (a step's stderr comes write by write)

    def take(line: str) -> None:
        nonlocal steps, cached
        stripped = line.strip()
        running = re.match(r"---> Running in ([0-9a-f]{12,64})$", stripped)
        image = re.match(r"---> ([0-9a-f]{12,64})$", stripped)  # the image a step produced
        if stripped.startswith("Step "):
            steps += 1
            step.header, step.container, step.output = stripped, None, []
            step.started = time.time()
            log(stripped)
        elif image:
            step.parent = image[1]
        elif stripped == "---> Using cache":
            cached += 1
        elif running:
            step.container = running[1]
        elif stripped and not stripped.startswith(("--->", "Removing intermediate container")):
            step.output = [*step.output[-(STEP_OUTPUT_LINES - 1) :], line.rstrip()]

    for chunk in stream:
        if "error" in chunk:
            take(pending)
            detail = chunk.get("errorDetail", {}).get("message") or chunk["error"]
            raise _build_failed(" ".join(str(detail).split()), step)
        if "aux" in chunk and "ID" in chunk["aux"]:
            image_id = chunk["aux"]["ID"]
        pending += _ANSI.sub("", chunk.get("stream", ""))  # the engine colours stderr
        *lines, pending = pending.split("\n")
        for line in lines:
            take(line)
    if image_id is None:
        raise StageFailed("build", "the engine finished without reporting an image id")
    return image_id, steps, cached


def _build_failed(message: str, step: _Step) -> StageFailed:
    """One line with the engine's error and the step's last output line (where the cause
    usually is: "No space left on device", a missing package); the last lines above it."""
    if step.output:
        message += f"; last output: {' '.join(step.output[-1].split())}"
    error = StageFailed(
        "build", message[:400], hint=f"failed at {step.header}" if step.header else None
    )
    if step.output:
        error.details = f"--- output of {step.header} (last lines) ---\n" + "\n".join(step.output)
    return error
