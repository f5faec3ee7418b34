"""Waiting for another thread's result without going deaf to Ctrl-C and SIGTERM."""

from __future__ import annotations

from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

T = TypeVar("T")


def result_of(future: Future[T]) -> T:
    """A thread's result (or its exception, raised here), waited for in short slices: a plain
    ``result()`` blocks in a lock that Ctrl-C/SIGTERM cannot interrupt when the signal lands
    on another thread, so the task's cleanup would wait for the thread to finish."""
    while True:
        try:
            return future.result(timeout=0.1)
        except FutureTimeout:
            continue
