"""An engine socket for container-structure-test that labels every container it creates.

container-structure-test's docker driver creates its containers with neither a name nor a label
(``CreateContainer`` with image, command, entrypoint and env only: pkg/drivers/docker_driver.go),
and it has no option to add one. On Ctrl-C or SIGTERM hoist must remove exactly the containers
of its own run and nothing else on a shared engine. Matching "containers of this image created
since the run started" is not exact: identical builds share an image id, and two CI jobs or two
test sessions on one engine run the same image at the same time. Testing a relabelled child
image instead would test a different image from the one that ships.

So CST reaches the engine through this socket (``DOCKER_HOST=unix://…``). Bytes pass through
unchanged, except the JSON body of ``POST /containers/create``, which gets hoist's labels. The
engine then carries the labels on each container, and on each image CST commits from one (setup
steps) because a commit keeps the container's labels. So whatever a run leaves behind is found by
``label=io.hoist.run=RUN``, just like the service's container. Responses are piped back raw.
Requests are read one at a time (Content-Length or chunked body), so the later requests on a
keep-alive connection are seen too. After an upgrade (attach), both directions are piped raw.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from io import BufferedReader
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pipeline.errors import PipelineError

if TYPE_CHECKING:
    import docker

Connect = Callable[[], socket.socket]
CREATE = re.compile(rb"POST (?:/v[0-9.]+)?/containers/create[ ?]")
MAX_LINE = 64 * 1024
CHUNK = 64 * 1024
DRAIN_SECONDS = 10.0  # how long a closing socket waits for the engine to answer what it has


def engine_connector(client: docker.DockerClient) -> Connect:
    """How to open a connection to the engine ``client`` talks to: its unix socket, or plain
    TCP. A TLS or SSH engine cannot be relayed byte for byte, so it is refused in one line."""
    base = str(client.api.base_url)
    socket_path = getattr(client.api.get_adapter(base), "socket_path", None)
    if socket_path:
        return functools.partial(_unix, str(socket_path))
    url = urlsplit(base)
    if url.scheme == "http" and url.hostname:
        return functools.partial(socket.create_connection, (url.hostname, url.port or 2375))
    raise PipelineError(
        f"structure tests need an engine on a unix socket or plain tcp://, not {base}",
        hint="run the smoke stage against a local engine (unset DOCKER_HOST)",
    )


def _unix(path: str) -> socket.socket:
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(path)
    except OSError:
        connection.close()
        raise
    return connection


class LabellingSocket:
    """``engine.sock`` in ``directory``, open while the ``with`` block runs."""

    def __init__(self, connect: Connect, labels: dict[str, str], directory: Path) -> None:
        self.path = directory / "engine.sock"
        self.url = f"unix://{self.path}"
        self._connect = connect
        self._labels = labels
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._open: dict[socket.socket, tuple[socket.socket, threading.Thread]] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> LabellingSocket:
        self._listener.bind(str(self.path))
        self._listener.listen(32)
        threading.Thread(target=self._accept, name="hoist-cst-engine", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop accepting, let the engine finish the requests it was sent (a container being
        created when CST was killed then exists, to be removed by label), then cut the rest."""
        _shut(self._listener, socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        self._listener.close()
        with self._lock:
            connections = list(self._open.items())
        for upstream, _ in connections:
            _shut(upstream, socket.SHUT_WR)  # the engine answers what it has, then closes
        deadline = time.monotonic() + DRAIN_SECONDS
        for _, (_, responses) in connections:
            responses.join(max(deadline - time.monotonic(), 0))
        for upstream, (client, _) in connections:
            for each in (client, upstream):
                _shut(each, socket.SHUT_RDWR)
                each.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed by __exit__
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = self._connect()
        except OSError:
            client.close()
            return
        responses = threading.Thread(target=self._responses, args=(upstream, client), daemon=True)
        with self._lock:
            self._open[upstream] = (client, responses)
        responses.start()
        reader = client.makefile("rb")
        with contextlib.suppress(OSError, ValueError):  # a cut connection ends the exchange
            self._requests(reader, upstream)
        _shut(upstream, socket.SHUT_WR)

    def _requests(self, reader: BufferedReader, upstream: socket.socket) -> None:
        while head := _read_head(reader):
            lines = head.splitlines()
            headers = _headers(lines)
            body, chunked = _read_body(reader, headers)
            if CREATE.match(lines[0]):
                body = self._labelled(body)
            elif not chunked:
                upstream.sendall(head + body)
                if b"upgrade" in headers:  # a hijacked stream from here on
                    while data := reader.read1(CHUNK):
                        upstream.sendall(data)
                    return
                continue
            upstream.sendall(_with_length(lines, len(body)) + body)

    def _labelled(self, body: bytes) -> bytes:
        config: dict[str, Any] = json.loads(body or b"{}")
        config["Labels"] = {**(config.get("Labels") or {}), **self._labels}
        return json.dumps(config).encode()

    def _responses(self, upstream: socket.socket, client: socket.socket) -> None:
        """Engine to CST, raw. If CST is gone, read on to the engine's end all the same: that
        end is how ``__exit__`` knows the engine has finished what it was asked."""
        sending = True
        with contextlib.suppress(OSError):
            while data := upstream.recv(CHUNK):
                try:
                    if sending:
                        client.sendall(data)
                except OSError:
                    sending = False
        with self._lock:
            self._open.pop(upstream, None)
        for each in (client, upstream):
            _shut(each, socket.SHUT_RDWR)
            each.close()


def _shut(connection: socket.socket, how: int) -> None:
    with contextlib.suppress(OSError):  # already shut or closed
        connection.shutdown(how)


def _read_head(reader: BufferedReader) -> bytes:
    """Request line and headers up to the blank line; b"" when the client is done."""
    head = b""
    while True:
        line = reader.readline(MAX_LINE)
        if not line:
            return b""
        if line.strip() or head:
            head += line
        if head and not line.strip():
            return head
        if len(head) > MAX_LINE:
            raise ValueError("request head too long")


def _headers(lines: list[bytes]) -> dict[bytes, bytes]:
    pairs = (line.partition(b":") for line in lines[1:] if line)
    return {name.strip().lower(): value.strip() for name, _, value in pairs}


def _read_body(reader: BufferedReader, headers: dict[bytes, bytes]) -> tuple[bytes, bool]:
    """The body and whether it came chunked (then it is sent on with a Content-Length)."""
    if b"chunked" not in headers.get(b"transfer-encoding", b"").lower():
        return _exactly(reader, int(headers.get(b"content-length", b"0"))), False
    chunks = []
    while size := int(reader.readline(MAX_LINE).split(b";")[0].strip(), 16):
        chunks.append(_exactly(reader, size))
        reader.readline(MAX_LINE)  # the CRLF closing the chunk
    while reader.readline(MAX_LINE).strip():  # trailers
        pass
    return b"".join(chunks), True


def _exactly(reader: BufferedReader, size: int) -> bytes:
    data = reader.read(size)
    if len(data) != size:
        raise ValueError("request body cut short")
    return data


def _with_length(lines: list[bytes], length: int) -> bytes:
    framing = (b"content-length", b"transfer-encoding")
    kept = [
        line
        for line in lines[1:]
        if line and line.partition(b":")[0].strip().lower() not in framing
    ]
    return b"\r\n".join([lines[0], *kept, b"Content-Length: %d" % length, b"", b""])
