"""Why an HTTP request got no answer, in words a user acts on ("connection refused"), shared
by every stage that speaks HTTP: requests' own text is a nest of reprs."""

from __future__ import annotations

import re

import requests


def no_answer_reason(exc: Exception) -> str:
    """Why a request got no answer: refused, reset, closed, timed out, or the exception's name."""
    if isinstance(exc, requests.Timeout):
        return "timed out"
    text = str(exc)
    for pattern, reason in (
        (r"Connection refused", "connection refused"),
        (r"Connection reset", "connection reset"),
        (r"RemoteDisconnected|closed connection without", "connection closed without an answer"),
        (r"BadStatusLine", "not an HTTP answer"),
    ):
        if re.search(pattern, text):
            return reason
    return type(exc).__name__
