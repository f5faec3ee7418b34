"""Docker's push stream read to its end: per-layer progress every few seconds, and each
``{"error": ...}`` line (docker-py does not raise on registry errors, 3161) classified:
transient (retried) or not."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from pipeline.errors import RegistryError
from pipeline.push.registries.retry import Stopped
from pipeline.result import Log

PROGRESS_EVERY = 2.0  # seconds between per-target upload progress lines


_PERMANENT = re.compile(
    r"unauthori[sz]ed|authentication required|denied|forbidden|\b40[13]\b|name invalid|"
    r"invalid reference|repository name must|manifest invalid|no basic auth credentials|"
    r"does not exist locally|name unknown",
    re.IGNORECASE,
)


UNAUTHORIZED = re.compile(
    r"unauthori[sz]ed|authentication required|no basic auth credentials", re.IGNORECASE
)


TLS = re.compile(r"x509|certificate|server gave HTTP response to HTTPS client", re.IGNORECASE)


def classify_error(registry: str, message: str) -> RegistryError:
    """A registry error line from docker's push stream, marked transient or not."""
    message = " ".join(message.split())
    if _PERMANENT.search(message):
        hint = "check the credentials and the repository name for this target"
        return RegistryError(registry, message, transient=False, hint=hint)
    if TLS.search(message):
        hint = "trust the registry's CA in /etc/docker/certs.d/HOST:PORT/ca.crt"
        return RegistryError(registry, message, transient=False, hint=hint)
    return RegistryError(registry, message, transient=True)


class _Progress:
    """Per-layer push progress for one target, condensed to a line every few seconds."""

    def __init__(self, registry: str, log: Log) -> None:
        self.registry = registry
        self.log = log
        self.status: dict[str, str] = {}
        self.bytes: dict[str, tuple[int, int]] = {}
        self.last = time.monotonic()

    def update(self, chunk: Mapping[str, Any]) -> None:
        layer, status = chunk.get("id"), chunk.get("status")
        if not layer or not status:
            return
        detail = chunk.get("progressDetail") or {}
        if status == "Pushing" and detail.get("total"):
            self.bytes[layer] = (int(detail.get("current") or 0), int(detail["total"]))
        if self.status.get(layer) != status:
            self.status[layer] = status
            if status in ("Pushed", "Layer already exists") or status.startswith("Mounted"):
                self.bytes.pop(layer, None)
                self.log(f"[{self.registry}] {layer}: {status}")
        now = time.monotonic()
        if self.bytes and now - self.last >= PROGRESS_EVERY:
            self.last = now
            done = sum(c for c, _ in self.bytes.values()) / 1e6
            total = sum(t for _, t in self.bytes.values()) / 1e6
            self.log(
                f"[{self.registry}] uploading {len(self.bytes)} layer(s): {done:.1f}/{total:.1f} MB"
            )


def read_push_stream(
    registry: str,
    stream: Iterable[Mapping[str, Any]],
    log: Log,
    stop: threading.Event | None = None,
) -> str | None:
    """Follow docker's push stream: show per-layer progress, raise on errors, return digest.

    ``stop`` set (the run was interrupted) ends the push at its next progress line; leaving
    the stream makes the engine abandon the upload.
    """
    digest = None
    progress = _Progress(registry, log)
    for chunk in stream:
        if stop is not None and stop.is_set():
            raise Stopped(registry)
        if "error" in chunk or "errorDetail" in chunk:
            detail = chunk.get("errorDetail") or {}
            raise classify_error(registry, str(detail.get("message") or chunk.get("error")))
        aux = chunk.get("aux")
        if isinstance(aux, Mapping) and aux.get("Digest"):
            digest = str(aux["Digest"])
        progress.update(chunk)
    return digest
