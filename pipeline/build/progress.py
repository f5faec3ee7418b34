"""BuildKit's ``--progress=plain`` output read into hoist's step lines, counts and errors.

Plain progress is the one format every BuildKit-capable CLI writes (``rawjson`` exists only
in recent buildx). Each line belongs to a vertex, ``#N ...``: its first line names it
(``[2/4] RUN npm ci``, ``[builder 1/3] FROM ...``, ``[internal] load ...``, ``exporting to
image``), then come timestamped output lines (``#N 0.906 text``), status lines, and one
ending: ``#N DONE 0.1s``, ``#N CACHED``, ``#N CANCELED`` or ``#N ERROR: message``. A vertex's
header is printed again when its output resumes after another's.

A Dockerfile instruction (``[stage k/n] INSTRUCTION``) becomes a step line in the classic
builder's form, ``Step k/n : INSTRUCTION`` (the stage name after the numbers in a multi-stage
build), so both backends read alike. ``FROM`` is shown but not counted: the base is not
built, so it can never be a cache hit; every other instruction is a step, and ``CACHED``
ones are counted as cache hits. Every line is redacted (``pipeline.secrets``) before it is
kept, so a step that prints a build secret cannot carry it into the error line or report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pipeline.errors import StageFailed
from pipeline.result import Log
from pipeline.secrets import redact

STEP_OUTPUT_LINES = 20  # of a failing step, shown above the error
_LINE = re.compile(r"^#(\d+) (.*)$")
_STEP = re.compile(r"^\[(?:(\S+) )?(\d+)/(\d+)\] (.*)$")
_OUTPUT = re.compile(r"^\d+\.\d+ (.*)$")
_UNREAD_CACHE = re.compile(r"^ > importing cache manifest from (\S+):$")  # a warning block
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class Vertex:
    """One vertex of the build graph as the progress stream tells of it."""

    name: str
    step: str | None = None  # ``Step k/n : ...`` for a Dockerfile instruction
    counted: bool = False  # an instruction other than FROM
    cached: bool = False
    error: str | None = None
    output: list[str] = field(default_factory=list)


@dataclass
class PlainProgress:
    """Feed it the CLI's lines; it logs each step once and remembers what a failure needs."""

    log: Log
    vertices: dict[str, Vertex] = field(default_factory=dict)
    tail: list[str] = field(default_factory=list)  # lines outside any vertex (the final error)

    @property
    def steps(self) -> int:
        return sum(1 for v in self.vertices.values() if v.counted)

    @property
    def cached(self) -> int:
        return sum(1 for v in self.vertices.values() if v.counted and v.cached)

    def feed(self, raw: str) -> None:
        # redacted before anything is kept: a step may print a build secret it was given
        line = redact(_ANSI.sub("", raw).rstrip("\r\n"))
        match = _LINE.match(line)
        if match is None:
            unread = _UNREAD_CACHE.match(line)
            if unread:
                self.log(f"cache: {unread[1]} could not be read: building without it")
            elif line.strip() and not line.startswith(("------", " > ")):
                self.tail = [*self.tail[-(STEP_OUTPUT_LINES - 1) :], line.strip()]
            return
        number, text = match[1], match[2]
        vertex = self.vertices.get(number)
        if vertex is None:
            self.vertices[number] = self._start(text)
        elif text != vertex.name:
            _update(vertex, text)

    def _start(self, name: str) -> Vertex:
        vertex = Vertex(name)
        step = _STEP.match(name)
        if step:
            stage, index, total, instruction = step.groups()
            where = f" ({stage})" if stage and stage != "stage-0" else ""
            vertex.step = f"Step {index}/{total}{where} : {instruction}"
            vertex.counted = not instruction.upper().startswith("FROM ")
            self.log(vertex.step)
        return vertex

    def failure(self, exit_code: int) -> StageFailed:
        """The build failed: the failing step's error and last output line in one line, the
        step named in the hint, its last output lines above (as the classic path does)."""
        failed = next((v for v in self.vertices.values() if v.error is not None), None)
        message = (failed.error if failed else None) or (self.tail[-1] if self.tail else None)
        message = " ".join((message or f"the docker CLI exited with {exit_code}").split())
        header = (failed.step or failed.name) if failed else None
        if failed and failed.output:
            message += f"; last output: {' '.join(failed.output[-1].split())}"
        error = StageFailed("build", message[:400], hint=f"failed at {header}" if header else None)
        if failed and failed.output:
            error.details = f"--- output of {header} (last lines) ---\n" + "\n".join(failed.output)
        return error


def _update(vertex: Vertex, text: str) -> None:
    if text == "CACHED":
        vertex.cached = True
    elif text.startswith("ERROR: "):
        vertex.error = text[len("ERROR: ") :]
    elif text == "ERROR":  # the message is then the CLI's last line
        vertex.error = vertex.error or ""
    else:
        output = _OUTPUT.match(text)
        if output:
            vertex.output = [*vertex.output[-(STEP_OUTPUT_LINES - 1) :], output[1]]
