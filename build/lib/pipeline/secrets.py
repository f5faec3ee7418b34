"""Every secret the process obtains, registered once and redacted wherever output happens.

Whatever secret the pipeline obtains at run time (a registry password found by credential
discovery, an ECR/ACR/GCR token it exchanged for one) is unknown to the GitHub runner, which only
masks the repository's own ``secrets.*``. So the code that obtains one calls ``mask_secret`` at
once, before any line could contain it: the value is remembered for the whole process (the log
is process-wide, like stdout), and GitHub Actions is told with ``::add-mask::`` — the runner
hides that line and every later occurrence. Every line hoist prints itself also goes through
``redact``, so a local terminal or a log file never shows one either.

This is the only place masking happens. Output is told through the announcer it installs
(``announce_with``); in Actions without one, the command goes straight to stdout, where the
runner reads it.

Lines are written whole, under one lock (``write_line``): push runs targets in threads, and
``print`` writes a line and its newline separately, so another thread's text could otherwise
land in front of a ``::add-mask::`` and the runner would not recognise the command.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import TextIO

from pipeline.workflow_commands import escape_data

MASK = "***"
MIN_SECRET_LENGTH = 4
"""Shorter values are not redacted by hoist itself: "***" for every "a" would garble logs.
(``::add-mask::`` is still sent for them: the runner decides.)"""

_lock = threading.RLock()
_secrets: set[str] = set()
_announce: Callable[[str], None] | None = None


def write_line(stream: TextIO, line: str) -> None:
    """One whole line at once, under the lock every output line and mask command shares."""
    with _lock:
        stream.write(line + "\n")
        stream.flush()


def redact(text: str) -> str:
    """``text`` with every secret registered so far replaced by ``***`` (longest first)."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for value in known:
        if len(value) >= MIN_SECRET_LENGTH:
            text = text.replace(value, MASK)
    return text


def mask_commands(secret: str) -> list[str]:
    """``::add-mask::`` for the value and, separately, for each of its lines (the runner
    matches line by line). Never redacted: the runner must see the real value, and it removes
    the command line itself from the log."""
    parts = dict.fromkeys([secret, *secret.splitlines()])
    return [
        f"::add-mask::{escape_data(part)}"
        for part in parts
        if part.strip() and "\n" not in part and "\r" not in part
    ]


def mask_secret(value: str | None) -> None:
    """Register a secret the pipeline just obtained, before anything could print it.

    Call it where the value enters the process (credential discovery, token exchange). Each
    line of a multi-line secret (a JSON key file) is also registered on its own.
    """
    if not value:
        return
    parts = [value, *(line for line in value.splitlines() if line.strip())]
    with _lock:
        new = [part for part in dict.fromkeys(parts) if part not in _secrets]
        _secrets.update(new)
        announce = _announce
    if not new:
        return
    if announce is not None:
        announce(value)
    elif os.environ.get("GITHUB_ACTIONS") == "true":
        for command in mask_commands(value):
            write_line(sys.stdout, command)


def announce_with(announce: Callable[[str], None] | None) -> None:
    """Make ``announce`` the one told of every new secret, and tell it those known already,
    so the order in which a task creates its output and discovers credentials does not matter."""
    global _announce
    with _lock:
        _announce = announce
        known = [value for value in _secrets if "\n" not in value]
    if announce is not None:
        for value in known:
            announce(value)
