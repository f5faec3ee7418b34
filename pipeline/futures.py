"""Waiting for another thread's result without going deaf to Ctrl-C and SIGTERM, and the
clean-up a run finishes in the background."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

T = TypeVar("T")


def result_of(future: Future[T], timeout: float | None = None) -> T:
    """A thread's result (or its exception, raised here), waited for in short slices: a plain
    ``result()`` blocks in a lock that Ctrl-C/SIGTERM cannot interrupt when the signal lands
    on another thread, so the task's cleanup would wait for the thread to finish. With a
    ``timeout`` (seconds), ``TimeoutError`` once it is over."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            return future.result(timeout=0.1)
        except FutureTimeout:
            if deadline is not None and time.monotonic() >= deadline:
                raise
            continue


class BackgroundCleanup:
    """Clean-up that need not hold up the next stage but is done before the run ends: the
    smoke container's removal (a tenth of a second or more in the engine) overlaps the push.
    Each task runs in a thread of its own; ``wait`` waits for them all, still hearing
    signals, and raises the first task's error."""

    def __init__(self) -> None:
        self._pending: list[Future[None]] = []

    def submit(self, task: Callable[[], None]) -> None:
        pool = ThreadPoolExecutor(1, thread_name_prefix="hoist-cleanup")
        self._pending.append(pool.submit(task))
        pool.shutdown(wait=False)

    def wait(self, raise_first: bool = True) -> None:
        """Every task done; ``raise_first=False`` when the run already failed: a clean-up's
        error would only hide why."""
        errors: list[Exception] = []
        while self._pending:  # a task stays listed until done: an interrupted wait is resumed
            try:
                result_of(self._pending[0])
            except Exception as exc:  # the other tasks still get waited for
                errors.append(exc)
            self._pending.pop(0)
        if errors and raise_first:
            raise errors[0]
