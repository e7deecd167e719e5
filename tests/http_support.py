"""Real servers for the HTTP receivers' tests, started on 127.0.0.1 by the tests, and helpers.

:func:`uvicorn_server` runs an ASGI app on uvicorn (asyncio, httptools) and
:func:`hypercorn_trio_server` on hypercorn under trio, each in a thread of
this process, on a free port; both yield the base URL and stop the server
when the block ends. :func:`multipart_body` builds bodies byte for byte, for
the cases an HTTP client will not send; :func:`raw_request` sends bytes on a
socket and reads the answer.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp

BOUNDARY = "uploadwriterTestBoundary42"


def _listening_socket() -> socket.socket:
    sock = socket.create_server(("127.0.0.1", 0))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return sock


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout} s")
        time.sleep(0.01)


@contextmanager
def uvicorn_server(app: ASGIApp) -> Iterator[str]:
    """Serve ``app`` with uvicorn (httptools) on 127.0.0.1; yield its base URL."""
    import uvicorn

    sock = _listening_socket()
    config = uvicorn.Config(
        app, http="httptools", lifespan="off", log_level="warning", timeout_graceful_shutdown=5
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        _wait_for(lambda: server.started, "uvicorn did not start")
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
    assert not thread.is_alive(), "uvicorn did not stop"


@contextmanager
def hypercorn_trio_server(app: ASGIApp) -> Iterator[str]:
    """Serve ``app`` with hypercorn under trio on 127.0.0.1; yield its base URL."""
    import trio
    from hypercorn.config import Config
    from hypercorn.trio import serve

    sock = _listening_socket()
    port = sock.getsockname()[1]
    config = Config()
    # Hypercorn takes the socket over (and closes it) through its descriptor.
    config.bind = [f"fd://{sock.detach()}"]
    config.loglevel = "WARNING"
    config.graceful_timeout = 5
    started = threading.Event()
    stop = threading.Event()
    failure: list[BaseException] = []

    async def trigger() -> None:
        while not stop.is_set():
            await trio.sleep(0.02)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(partial(serve, app, config, shutdown_trigger=trigger))  # type: ignore[arg-type]
            started.set()

    def run() -> None:
        try:
            trio.run(main)
        except BaseException as exc:
            failure.append(exc)
            started.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        _wait_for(started.is_set, "hypercorn did not start")
        if failure:
            raise failure[0]
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        thread.join(timeout=15)
    assert not thread.is_alive(), "hypercorn did not stop"
    assert not failure, failure


SERVERS: dict[str, Callable[[ASGIApp], Any]] = {
    "uvicorn": uvicorn_server,
    "hypercorn-trio": hypercorn_trio_server,
}


def part(
    name: str,
    data: bytes,
    *,
    filename: str | None = None,
    content_type: str | None = None,
    headers: Sequence[str] = (),
) -> bytes:
    """One part of a multipart body (without its delimiter)."""
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    lines = [f"Content-Disposition: {disposition}"]
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    lines.extend(headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


def multipart_body(parts: Sequence[bytes], boundary: str = BOUNDARY) -> bytes:
    """A whole ``multipart/form-data`` body of ``parts``, closing delimiter included."""
    delimiter = f"--{boundary}".encode()
    chunks = [delimiter + b"\r\n" + p + b"\r\n" for p in parts]
    return b"".join(chunks) + delimiter + b"--\r\n"


CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def raw_request(base_url: str, head: bytes, body: bytes = b"", *, timeout: float = 10.0) -> bytes:
    """Send ``head`` (request line and headers, without the blank line) and ``body``; read all."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(head + b"\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" + body)
        answer = b""
        while data := sock.recv(65536):
            answer += data
    return answer


def status_and_json(answer: bytes) -> tuple[int, Any]:
    """The status and the JSON body of a raw HTTP/1.1 answer (``Connection: close``)."""
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head.lower():
        body = _dechunk(body)
    return status, json.loads(body)


def _dechunk(body: bytes) -> bytes:
    out = b""
    while True:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return out
        out, body = out + body[:size], body[size + 2 :]


def sha256(data: bytes) -> str:
    """The hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def leftovers(directory: Path) -> list[str]:
    """Files in the store directory that are not a recorded upload's: incoming and stray files."""
    incoming = directory / ".uploadwriter" / "incoming"
    found = sorted(p.name for p in incoming.iterdir()) if incoming.exists() else []
    records = directory / ".uploadwriter" / "records"
    recorded = {json.loads(p.read_text())["file"] for p in records.glob("*.json")}
    stray = sorted(p.name for p in directory.iterdir() if p.is_file() and p.name not in recorded)
    return found + stray


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Wait for ``condition`` (the server handles a disconnect in its own time)."""
    _wait_for(condition, what, timeout)
