"""``futures.BackgroundCleanup``: clean-up handed off by a stage is done before ``wait``
returns, every task is waited for even when one fails, and a failed run's clean-up error
does not replace why the run failed."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

import pytest

from pipeline.futures import BackgroundCleanup, result_of


def test_wait_returns_once_every_task_is_done() -> None:
    cleanup, release, done = BackgroundCleanup(), threading.Event(), []

    def slow() -> None:
        release.wait(5)
        done.append("slow")

    cleanup.submit(slow)
    cleanup.submit(lambda: done.append("quick"))
    assert "slow" not in done  # submit does not wait
    release.set()
    cleanup.wait()

    assert sorted(done) == ["quick", "slow"]


def test_the_first_error_is_raised_after_every_task_ran() -> None:
    cleanup, done = BackgroundCleanup(), []

    def broken() -> None:
        raise RuntimeError("container could not be removed")

    cleanup.submit(broken)
    cleanup.submit(lambda: done.append("after"))
    with pytest.raises(RuntimeError, match="could not be removed"):
        cleanup.wait()

    assert done == ["after"]
    cleanup.wait()  # nothing left: waiting again is a no-op


def test_a_failed_run_waits_without_raising_the_cleanups_error() -> None:
    cleanup, ran = BackgroundCleanup(), []

    def broken() -> None:
        ran.append("broken")
        raise OSError("engine gone")

    cleanup.submit(broken)
    cleanup.wait(raise_first=False)  # no OSError here: the run's own error is the one shown

    assert ran == ["broken"]


def test_result_of_with_a_timeout_gives_up_on_a_thread_that_does_not_end() -> None:
    never: Future[None] = Future()

    with pytest.raises(FutureTimeout):
        result_of(never, timeout=0.3)
