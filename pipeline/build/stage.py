"""Build the image through the Docker SDK: build args, OCI labels, progress, a plain result.

docker-py's ``build`` uses the classic builder (no BuildKit, docker-py issue 2230) and reports
errors as ``{"error": ...}`` lines in the stream rather than raising, so the stream is read
here, its steps shown, and an error line becomes a ``StageFailed`` that carries the failing
step's last output lines. ``forcerm`` removes the intermediate containers even when a step
fails, and on Ctrl-C/SIGTERM the container of the running step is removed here, so a failed
or interrupted build leaves nothing behind.

Labels are applied in a second, tiny build (``FROM <built image>`` plus one ``LABEL``
instruction): the classic builder turns each ``labels=`` entry into a step of its own (a
container and a commit each), and the ``created`` label, new on every run, would rebuild every
label step after it. Every key and value goes in that one instruction, double-quoted with
``\\``, ``"`` and ``$`` escaped (the only escapes the Dockerfile's double quotes know; ``$``
would otherwise be substituted), so a quote, a ``#`` or ``$HOME`` in a description arrives as
written. What a ``LABEL`` line cannot carry is refused before anything is built: a ``=`` in a
key (the parser splits there before unquoting) and control characters (a line break ends the
instruction; the others are invisible or garble every terminal that shows labels).

When the image tagged with the first reference *is* the one this build would make — the same
layers and config as the Dockerfile's own image, the same labels, only ``created`` older — it
is reused as is, however its history came about (``Parent`` and ``Config.Image`` name the
steps an image was built from, not what it is): ``created`` then says when that content was
first built (as the engine's own ``Created`` does for a cached build), and an unchanged input
keeps its image id and registry digest.
"""

from __future__ import annotations

import contextlib
import io
import re
import time
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.build.base_image import BaseImage, resolve_base
from pipeline.build.settings import BuildConfig
from pipeline.errors import ConfigError, Interrupted, StageFailed
from pipeline.result import Log

if TYPE_CHECKING:
    import docker

STEP_OUTPUT_LINES = 20  # of a failing step, shown above the error
STEP_CLEANUP_SECONDS = 15.0  # at most, for the engine to remove an interrupted step's container
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
CREATED_LABEL = "org.opencontainers.image.created"


@dataclass(frozen=True)
class BuildResult:
    image_id: str
    references: list[str]
    size: int
    own_size: int
    base: BaseImage
    labels: dict[str, str] = field(default_factory=dict)
    cached_steps: int = 0
    steps: int = 0


def context_files(context: Path, dockerfile: Path) -> set[str]:
    """The paths the engine will receive: the context minus .dockerignore, as docker-py sends it."""
    from docker.utils.build import exclude_paths

    ignore = context / ".dockerignore"
    patterns: list[str] = []
    if ignore.is_file():
        lines = (line.strip() for line in ignore.read_text(errors="replace").splitlines())
        patterns = [line for line in lines if line and not line.startswith("#")]
    return set(exclude_paths(str(context), patterns, str(dockerfile.relative_to(context))))


def check_context(context: Path, dockerfile: Path) -> None:
    """Refuse a context whose files include a symlink leading outside it.

    Such a link works on the author's machine and means something else (or nothing) inside
    the image and on every other machine; it is almost always a mistake worth stopping for.
    """
    root = context.resolve()
    for relative in sorted(context_files(context, dockerfile)):
        path = context / relative
        if path.is_symlink() and not path.resolve().is_relative_to(root):
            raise ConfigError(
                str(context),
                relative,
                "is a symlink pointing outside the build context",
                hint="copy the file into the context or list it in .dockerignore",
            )


def build_image(
    client: docker.DockerClient,
    build: BuildConfig,
    references: list[str],
    labels: dict[str, str],
    log: Log,
) -> BuildResult:
    """Build ``build.context`` and tag it with every reference in ``references``."""
    check_labels(labels)
    check_context(build.context, build.dockerfile)
    base = resolve_base(
        client, build.dockerfile, build.base_arg, build.args.get(build.base_arg), log
    )
    args = dict(build.args)
    if base.used:
        args[build.base_arg] = base.used
    stream = client.api.build(
        path=str(build.context),
        dockerfile=str(build.dockerfile.relative_to(build.context)),
        buildargs=args,
        target=build.target,
        rm=True,
        forcerm=True,
        decode=True,
    )
    content, steps, cached = _run_build(client, stream, log)
    image_id, labels = _labelled(client, content, labels, references[0], log)
    for reference in references:
        repository, tag = reference.rsplit(":", 1)
        client.api.tag(image_id, repository, tag)
    size = int(client.api.inspect_image(image_id).get("Size", 0))
    base_size = _image_size(client, base.used) if base.used else 0
    return BuildResult(
        image_id=image_id,
        references=references,
        size=size,
        own_size=max(size - base_size, 0),
        base=base,
        labels=labels,
        cached_steps=cached,
        steps=steps,
    )


def _run_build(client: docker.DockerClient, stream: Any, log: Log) -> tuple[str, int, int]:
    """Read a build stream to its image id; on Ctrl-C/SIGTERM remove the running step."""
    # docker-py returns a generator over the HTTP response: keep the response, to close it
    response = getattr(getattr(stream, "gi_frame", None), "f_locals", {}).get("response")
    step = _Step()
    try:
        return _read_build_stream(stream, log, step)
    except (KeyboardInterrupt, Interrupted):
        _clean_up_step(client, step, response)
        raise


def _labelled(
    client: docker.DockerClient, content: str, labels: dict[str, str], reference: str, log: Log
) -> tuple[str, dict[str, str]]:
    """The built image with ``labels``: the previous run's when it is this very image (see
    ``unchanged``), else a child of ``content`` made in one ``LABEL`` step. Returns its id
    and its labels."""
    from docker.errors import ImageNotFound

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
    image_id, _, _ = _run_build(client, stream, lambda text: None)
    return image_id, labels


def unchanged(
    previous: Mapping[str, Any], built: Mapping[str, Any], labels: Mapping[str, str]
) -> bool:
    """Whether ``previous`` (an image's inspect) is ``built`` (the Dockerfile's own image)
    with ``labels``, only its ``created`` label older.

    Decided by what the images are — layers, platform, config — never by how they came
    about: ``Parent`` and ``Config.Image`` name the step an image was committed on top of,
    which differs for the same content built in another number of steps or on another run.
    """
    found = _labels_of(previous)
    wanted = {**_labels_of(built), **labels}  # the Dockerfile's own LABELs, then ours
    return (
        CREATED_LABEL in labels
        and CREATED_LABEL in found
        and _content_of(previous) == _content_of(built)
        and _without_created(found) == _without_created(wanted)
    )


def _content_of(image: Mapping[str, Any]) -> dict[str, Any]:
    config = image.get("Config") or {}
    return {
        "layers": (image.get("RootFS") or {}).get("Layers") or [],
        "platform": (image.get("Os"), image.get("Architecture"), image.get("Variant")),
        "config": {k: v for k, v in config.items() if k not in ("Labels", "Image")},
    }


def _labels_of(image: Mapping[str, Any]) -> dict[str, str]:
    return dict((image.get("Config") or {}).get("Labels") or {})


def _without_created(labels: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in labels.items() if k != CREATED_LABEL}


def check_labels(labels: Mapping[str, str]) -> None:
    """Refuse a label one ``LABEL`` instruction cannot carry as written.

    A ``=`` in a key: the Dockerfile parser splits ``key=value`` at the first ``=`` before it
    unquotes anything (``docker build --label`` splits there too). A control character in
    a key or value: a line break ends the instruction, and the others (tab, ESC, ...) are
    invisible or garble every terminal, UI and ``docker inspect`` that shows labels; every
    label hoist writes is one line of printable text. Keeping a per-label ``labels=`` step
    for them would bring back a build step per label for a value that is almost always a
    mistake (a YAML ``|`` block keeps its final line break).
    """
    for key, value in labels.items():
        for text, what in ((key, "name"), (value, "value")):
            control = next((c for c in text if unicodedata.category(c) == "Cc"), None)
            if control is not None:
                raise ConfigError(
                    "label",
                    key if what == "value" else repr(key),  # the error stays one line
                    f"the {what} holds a control character ({control!r}, U+{ord(control):04X});"
                    " a label is one line of printable text",
                    hint="write it on one line in pipeline.yaml's metadata; a YAML `|` block"
                    " keeps a final line break, `>-` folds the lines into one",
                )
        if "=" in key:
            raise ConfigError(
                "label",
                key,
                "a label name cannot contain '='",
                hint="rename it in pipeline.yaml's metadata.labels",
            )


def label_instruction(labels: Mapping[str, str]) -> str:
    """``LABEL "key"="value" ...``: every label in one instruction, so one build step.

    Inside Dockerfile double quotes ``\\``, ``"`` and ``$`` are the characters a backslash
    escapes (every other backslash stays as written) and ``$`` starts a substitution, so
    exactly those three are escaped; ``'``, ``#``, ``=``, spaces and any other printable
    character stand for themselves. ``check_labels`` has refused what cannot be written.
    """
    return "LABEL " + " ".join(f"{_quoted(k)}={_quoted(v)}" for k, v in labels.items())


def _quoted(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'


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
    from docker.errors import APIError

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
    from docker.errors import APIError

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


def _image_size(client: docker.DockerClient, name: str) -> int:
    return int(client.images.get(name).attrs.get("Size", 0))
