"""Run the real ``invoke`` CLI as a background process and act on what it prints.

Test support for the reliability suite: the process gets its own process group (as a shell
job does), so a signal sent to the group reaches invoke and whatever it started in the
foreground — what Ctrl-C in a terminal or a CI runner's cancel does. Its output is read line by
line on threads, so a test can wait for a line ("==> smoke", "Step 2/3 : RUN sleep") and only
then inject its fault. Every process started here is stopped by its pid.

A suite started in the background (``make test &``, a runner's detached shell) inherits SIGINT
ignored, and a process started with SIGINT ignored keeps ignoring it (POSIX: so a background
job is not stopped by the terminal's Ctrl-C) — hoist included. The invoke processes here stand
for a foreground command, so they start with SIGINT's default disposition, whatever the suite's.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from tests.conftest import INVOKE, REPO


@contextlib.contextmanager
def _sigint_default_for_children() -> Iterator[None]:
    """SIGINT at its default while a child is started, when this process ignores it (see the
    module docstring); ignored again after. Nobody sends SIGINT to a suite that ignores it, so
    the moment in between changes nothing for the suite itself."""
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        yield
        return
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


class InvokeProcess:
    def __init__(self, *args: str, env: dict[str, str] | None = None, cwd: Path = REPO) -> None:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
        environ.update(env or {})
        environ["PYTHONUNBUFFERED"] = "1"
        with _sigint_default_for_children():
            self.process = subprocess.Popen(
                [str(INVOKE), "--search-root", str(REPO), *args],
                cwd=cwd,
                env=environ,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,  # its own process group, like a shell job
            )
        self.pid = self.process.pid
        self.stdout_lines: list[str] = []
        self.stderr_lines: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._readers = [
            threading.Thread(target=self._read, args=(self.process.stdout, self.stdout_lines,
                                                      True), daemon=True),
            threading.Thread(target=self._read, args=(self.process.stderr, self.stderr_lines,
                                                      False), daemon=True),
        ]  # fmt: skip
        for reader in self._readers:
            reader.start()

    def _read(self, stream, sink: list[str], watched: bool) -> None:  # type: ignore[no-untyped-def]
        for line in stream:
            sink.append(line.rstrip("\n"))
            if watched:
                self._lines.put(line.rstrip("\n"))
        if watched:
            self._lines.put(None)

    def wait_for_line(self, predicate: Callable[[str], bool], timeout: float = 120) -> str:
        """The first stdout line (from now on) for which ``predicate`` holds."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop()
                raise AssertionError(f"no such line within {timeout} s:\n{self.output}")
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                self.wait(10)
                raise AssertionError(f"invoke ended before the line appeared:\n{self.output}")
            if predicate(line):
                return line

    def signal_group(self, signum: int) -> None:
        os.killpg(self.pid, signum)

    def wait(self, timeout: float = 120) -> int:
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise
        for reader in self._readers:
            reader.join(10)
        return code

    def stop(self) -> None:
        """Kill the process group if it still runs (a test failed half-way)."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            self.process.wait(10)

    @property
    def stdout(self) -> str:
        return "\n".join(self.stdout_lines)

    @property
    def stderr(self) -> str:
        return "\n".join(self.stderr_lines)

    @property
    def output(self) -> str:
        return self.stdout + "\n--- stderr ---\n" + self.stderr

    def __enter__(self) -> InvokeProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
