"""How tasks talk to people: progress lines, stage headers, one red line on failure.

Tasks stay thin by wrapping their body in ``task_session()``: it turns SIGTERM into an
exception (so every ``finally`` that removes a container runs), and turns a ``PipelineError``
or an interrupt into a one-line message and the right exit code (2 for bad input, 130 for
Ctrl-C, 143 for SIGTERM) with no traceback. In GitHub Actions the same output gains
``::group::`` folds per stage (see ``pipeline.output.github``).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import gc
import os
import signal
import sys
from collections.abc import Iterator
from types import FrameType
from typing import TextIO

from invoke.exceptions import Exit

from pipeline.errors import EXIT_SIGINT, EXIT_SIGTERM, Interrupted, PipelineError


def _color(code: str, text: str, stream: TextIO = sys.stderr) -> str:
    if stream.isatty() and not os.environ.get("NO_COLOR"):
        return f"\033[{code}m{text}\033[0m"
    return text


def say(line: str) -> None:
    """A progress line, flushed at once so CI logs show it as it happens."""
    print(line, flush=True)


def fail(message: str) -> None:
    print(_color("31", f"hoist: error: {message}"), file=sys.stderr, flush=True)


@functools.cache
def _quick_exit() -> None:
    """At exit, freeze what the garbage collector tracks: the interpreter's final collection
    then does not walk every object of docker-py, GitPython and invoke once more (~40 ms at
    the end of every run). Objects are still released by reference counting as the modules
    are torn down; only cycles left at exit are not collected, and the process ends anyway."""
    atexit.register(gc.freeze)


def _raise_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Interrupted("SIGTERM", EXIT_SIGTERM)


@contextlib.contextmanager
def task_session() -> Iterator[None]:
    """Run a task body: cleanups run on SIGTERM/Ctrl-C; errors become one line and an exit."""
    _quick_exit()
    previous = signal.signal(signal.SIGTERM, _raise_on_sigterm)
    try:
        yield
    except Interrupted as exc:
        fail(str(exc))
        raise Exit(code=exc.exit_code) from None
    except KeyboardInterrupt:
        fail("interrupted by SIGINT; cleaned up")
        raise Exit(code=EXIT_SIGINT) from None
    except PipelineError as exc:
        if exc.details:
            print(exc.details, file=sys.stderr)
        fail(str(exc))
        raise Exit(code=exc.exit_code) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
