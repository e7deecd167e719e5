"""A real HTTP receiver for the tests: a Starlette app under uvicorn on 127.0.0.1, in a thread.

It records each request it receives: its headers, the body bytes that
arrived, and whether the body arrived whole (Starlette raises
``ClientDisconnect`` when the client goes before the end of the body).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@attrs.define
class Received:
    """One request as the receiver saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""
    complete: bool = False


@attrs.define
class Receiver:
    """The running receiver: its base URL, what it received, its open connections."""

    url: str
    server: uvicorn.Server
    received: list[Received] = attrs.Factory(list)

    def connections(self) -> list[str]:
        # Named by the client's address as well: an object's id may be reused.
        return [
            f"connection from {getattr(c, 'client', None)} ({id(c):#x})"
            for c in list(self.server.server_state.connections)
        ]

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def clients(self) -> list[str]:
        """Sockets connected to the receiver (from any process here), as the kernel lists them.

        The receiver runs in a thread that may not have accepted a connection
        yet: the kernel's table sees a client's socket at once.
        """
        found = []
        with open("/proc/net/tcp") as table:
            for line in table.readlines()[1:]:
                fields = line.split()
                local, remote, state = fields[1], fields[2], fields[3]
                # 01 ESTABLISHED; 08 CLOSE_WAIT: the receiver closed, the client did not.
                if int(remote.split(":")[1], 16) == self.port and state in ("01", "08"):
                    found.append(f"client socket from port {int(local.split(':')[1], 16)}")
        return found

    def leaks(self) -> list[str]:
        """``leaks=``: client sockets still open to the receiver, and connections it still has.

        Waits up to 3 s for the receiver to see a close it has not processed yet.
        """
        deadline = time.monotonic() + 3
        while (self.clients() or self.connections()) and time.monotonic() < deadline:
            time.sleep(0.005)
        return self.clients() + self.connections()

    def last(self) -> Received:
        deadline = time.monotonic() + 3
        while not self.received and time.monotonic() < deadline:  # pragma: no cover - a race
            time.sleep(0.005)
        return self.received[-1]

    def settled(self) -> Received:
        """The last request, once the receiver has seen the whole of it (or the client leave)."""
        self.leaks()
        return self.last()


def _app(receiver: list[Receiver]) -> Starlette:
    async def record(request: Request) -> Received:
        seen = Received(request.method, request.url.path, dict(request.headers))
        receiver[0].received.append(seen)
        body = bytearray()
        try:
            async for piece in request.stream():
                body += piece
                seen.body = bytes(body)
        except ClientDisconnect:
            return seen
        seen.body = bytes(body)
        seen.complete = True
        return seen

    async def store(request: Request) -> Response:
        seen = await record(request)
        return JSONResponse({"size": len(seen.body)}, status_code=201, headers={"X-Seen": "1"})

    async def fail(request: Request) -> Response:
        await record(request)
        return Response("the disk is full", status_code=500)

    async def moved(request: Request) -> Response:
        await record(request)
        return Response(status_code=307, headers={"Location": "/store/elsewhere"})

    async def chatty(request: Request) -> Response:
        await record(request)
        return Response(b"x" * 200_000, headers={"Set-Cookie": "a=1"})

    async def silent(request: Request) -> Response:
        # Takes the body, then never answers: until the client goes.
        await record(request)
        while not await request.is_disconnected():
            await asyncio.sleep(0.02)
        return Response(status_code=204)  # pragma: no cover - nobody is listening

    methods = ["PUT", "POST", "PATCH"]
    return Starlette(
        routes=[
            Route("/store/{name}", store, methods=methods),
            Route("/fail", fail, methods=methods),
            Route("/moved", moved, methods=methods),
            Route("/chatty", chatty, methods=methods),
            Route("/silent", silent, methods=methods),
        ]
    )


def start_server(
    app: Any, certfile: str | None = None
) -> tuple[str, uvicorn.Server, threading.Thread]:
    """Serve ``app`` with uvicorn on 127.0.0.1 in a thread; return its base URL."""
    config = uvicorn.Config(
        app,
        http="h11",
        lifespan="off",
        log_level="error",
        ssl_certfile=certfile,
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    scheme = "https" if certfile else "http"
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():  # pragma: no cover
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    return f"{scheme}://127.0.0.1:{port}", server, thread


def stop_server(server: uvicorn.Server, thread: threading.Thread) -> None:
    server.should_exit = True
    thread.join(timeout=10)
    assert not thread.is_alive()


def start_receiver(certfile: str | None = None) -> tuple[Receiver, threading.Thread]:
    holder: list[Receiver] = []
    url, server, thread = start_server(_app(holder), certfile)
    holder.append(Receiver(url, server))
    return holder[0], thread


def stop_receiver(receiver: Receiver, thread: threading.Thread) -> None:
    stop_server(receiver.server, thread)


@pytest.fixture(scope="module")
def _receiver_running() -> Iterator[Receiver]:
    receiver, thread = start_receiver()
    yield receiver
    stop_receiver(receiver, thread)


@pytest.fixture
def receiver(_receiver_running: Receiver) -> Receiver:
    _receiver_running.received.clear()
    return _receiver_running


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Receiver, ssl.SSLContext]]:
    """An https receiver with a certificate from a test CA, and a client context trusting it."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    path = Path(tmp_path_factory.mktemp("tls")) / "server.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(path))
    receiver, thread = start_receiver(str(path))
    context = ssl.create_default_context()
    ca.configure_trust(context)
    yield receiver, context
    stop_receiver(receiver, thread)


def never_reading_listener() -> tuple[socket.socket, list[socket.socket], threading.Thread]:
    """A server that accepts connections and never reads from them (sends then block)."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            accepted.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    return listener, accepted, thread


def full_backlog_listener() -> tuple[socket.socket, list[socket.socket]]:
    """A listener whose accept queue is full: a new connection neither succeeds nor fails."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers: list[socket.socket] = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(listener.getsockname())
        fillers.append(filler)
    time.sleep(0.1)
    return listener, fillers


def close_all(*socks: Any) -> None:
    for sock in socks:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in accept()
        sock.close()


def raw_server(reply: bytes) -> tuple[str, threading.Thread]:
    """A server for one request: reads it to its end (chunked), writes ``reply``, closes.

    For answers a well-behaved framework never gives: none at all, a
    malformed one, a body that ends with the connection, an interim 100.
    """
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        with conn, listener:
            received = b""
            while not received.endswith(b"0\r\n\r\n"):
                data = conn.recv(65536)
                if not data:  # pragma: no cover - the client went away
                    break
                received += data
            conn.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}/x", thread
