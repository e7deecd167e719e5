"""Real servers for the web tests: uvicorn (asyncio) and hypercorn (trio) on 127.0.0.1.

Each server runs in a thread of the test process, on a port the OS picks,
and is stopped when its ``with`` block ends. The test app mounts
:class:`~uploadwriter.web.UploadChannel` at ``/ws`` and the page of
``uploadwriter serve`` (``uploadwriter/static``) at ``/``, and keeps what it consumed in
a small store that ``GET /uploads`` lists, as ``serve`` does.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import anyio
import attrs
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

import uploadwriter.web
from uploadwriter import CloseReason, Err, Ok
from uploadwriter.uploads import UploadConfig, UploadEntry
from uploadwriter.web import UploadChannel
from uploadwriter.writers import TmpFileOpts, TmpFileState, TmpFileWriter

STATIC = Path(uploadwriter.__file__).parent / "static"

_TMP = TmpFileWriter()


@attrs.frozen
class SlowOpts:
    """Where the partial file goes, how long each write sleeps first, and what fails."""

    dir: str
    delay: float = 0.0
    fail: str | None = None  # "init" or "write"
    #: The size of each chunk written, in order (shared by every upload of a store).
    written: list[int] = attrs.field(factory=list, eq=False, repr=False)


@attrs.frozen
class SlowState:
    inner: TmpFileState
    delay: float
    fail: bool = False
    written: list[int] = attrs.field(factory=list, eq=False, repr=False)


class SlowFileWriter:
    """An async temp-file writer that sleeps before each write (a slow destination)."""

    async def init(self, opts: SlowOpts) -> Ok[SlowState] | Err[None]:
        if opts.fail == "init":
            return Err("the destination refused the upload", None)
        match _TMP.init(TmpFileOpts(dir=opts.dir, prefix="partial-")):
            case Ok(inner):
                return Ok(SlowState(inner, opts.delay, opts.fail == "write", opts.written))
            case Err(reason, _):  # pragma: no cover - the test dir is writable
                return Err(reason, None)
        raise AssertionError  # pragma: no cover

    def meta(self, state: SlowState) -> Mapping[str, object]:
        return _TMP.meta(state.inner)

    async def write_chunk(self, data: bytes, state: SlowState) -> Ok[SlowState] | Err[SlowState]:
        if state.delay:
            await anyio.sleep(state.delay)
        if state.fail:
            return Err("the destination is full", state)
        match _TMP.write_chunk(data, state.inner):
            case Ok(_):
                state.written.append(len(data))
                return Ok(state)
            case Err(reason, _):  # pragma: no cover - the test dir has room
                return Err(reason, state)
        raise AssertionError  # pragma: no cover

    async def close(self, state: SlowState, reason: CloseReason) -> Ok[SlowState] | Err[SlowState]:
        match _TMP.close(state.inner, reason):
            case Ok(_):
                return Ok(state)
            case Err(why, _):  # pragma: no cover
                return Err(why, state)
        raise AssertionError  # pragma: no cover

    def discard(self, state: SlowState) -> None:
        _TMP.discard(state.inner)


@attrs.define
class Store:
    """Completed uploads, as ``serve``'s store keeps them: files under server-chosen names."""

    directory: Path
    files: list[dict[str, object]] = attrs.Factory(list)
    #: The size of every chunk any writer of this store took.
    written: list[int] = attrs.Factory(list)

    def consume(self, meta: Mapping[str, object], entry: UploadEntry) -> dict[str, object]:
        source = Path(str(meta["path"]))
        target = self.directory / f"{uuid.uuid4().hex}.upload"
        os.replace(source, target)
        record: dict[str, object] = {
            "client_name": entry.client_name,
            "size": target.stat().st_size,
            "sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
            "path": target.name,
        }
        self.files.append(record)
        return record

    def partial(self) -> list[str]:
        """Files of uploads that did not complete (there should be none once they end)."""
        return sorted(p.name for p in self.directory.glob("partial-*"))

    def kept(self) -> list[str]:
        return sorted(p.name for p in self.directory.glob("*.upload"))


def make_app(
    store: Store,
    *,
    delay: float = 0.0,
    allowed_origins: Sequence[str] | None = None,
    window: int = uploadwriter.web.DEFAULT_WINDOW,
    consume: Any = None,
    **config: Any,
) -> Starlette:
    """The test app: the channel at ``/ws``, the page at ``/``, ``GET /uploads``."""
    config.setdefault("accept", "any")
    config.setdefault("max_entries", 50)

    def writer(name: str, entry: UploadEntry) -> tuple[SlowFileWriter, SlowOpts]:
        # A file named "fail-init..." or "fail-write..." fails there; the
        # factory of "fail-factory..." is broken (it returns no writer).
        name = entry.client_name
        fail = name.split("-")[1].split(".")[0] if name.startswith("fail-") else None
        if fail == "factory":
            return "not a writer", None  # type: ignore[return-value]
        return SlowFileWriter(), SlowOpts(str(store.directory), delay, fail, store.written)

    upload_config = UploadConfig("files", writer=writer, **config)
    channel = UploadChannel(
        upload_config,
        consume=consume if consume is not None else store.consume,
        allowed_origins=allowed_origins,
        window=window,
    )

    async def index(request: Request) -> FileResponse:
        return FileResponse(STATIC / "index.html")

    async def uploads(request: Request) -> JSONResponse:
        return JSONResponse({"files": store.files})

    return Starlette(
        routes=[
            Route("/", index),
            Route("/uploads", uploads),
            WebSocketRoute("/ws", channel),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ]
    )


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def _wait(ready: threading.Event, thread: threading.Thread, what: str) -> None:
    if not ready.wait(20):  # pragma: no cover - a server that does not start
        raise RuntimeError(f"{what} did not start")
    if not thread.is_alive():  # pragma: no cover
        raise RuntimeError(f"{what} stopped at once")


@contextlib.contextmanager
def uvicorn_server(app: Any, *, lifespan: Literal["on", "off"] = "off") -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1; yield ``"127.0.0.1:PORT"``."""
    import uvicorn

    sock = _free_socket()
    config = uvicorn.Config(app, log_level="warning", lifespan=lifespan, ws="websockets-sansio")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():  # pragma: no cover
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(20)
        sock.close()


@contextlib.contextmanager
def hypercorn_trio_server(app: Any) -> Iterator[str]:
    """Serve ``app`` with hypercorn under trio on 127.0.0.1; yield ``"127.0.0.1:PORT"``."""
    import hypercorn.config
    import hypercorn.trio
    import trio

    sock = _free_socket()
    config = hypercorn.config.Config()
    port = sock.getsockname()[1]
    # hypercorn takes the descriptor over (and closes it when it stops).
    config.bind = [f"fd://{sock.detach()}"]
    config.loglevel = "WARNING"
    config.accesslog = None
    ready = threading.Event()
    stop: list[Any] = []

    async def main() -> None:
        stopped = trio.Event()
        stop.append((trio.lowlevel.current_trio_token(), stopped))

        async def serve(task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
            await hypercorn.trio.serve(
                app, config, shutdown_trigger=stopped.wait, task_status=task_status
            )

        async with trio.open_nursery() as nursery:
            await nursery.start(serve)
            ready.set()

    thread = threading.Thread(target=trio.run, args=(main,), daemon=True)
    thread.start()
    try:
        _wait(ready, thread, "hypercorn")
        yield f"127.0.0.1:{port}"
    finally:
        if stop:
            token, stopped = stop[0]
            with contextlib.suppress(RuntimeError):  # trio already ended
                trio.from_thread.run_sync(stopped.set, trio_token=token)
        thread.join(20)


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


__all__ = (
    "STATIC",
    "SlowFileWriter",
    "SlowOpts",
    "Store",
    "file_sha256",
    "hypercorn_trio_server",
    "make_app",
    "uvicorn_server",
)
