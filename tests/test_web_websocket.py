"""UploadChannel on real servers (uvicorn: asyncio, hypercorn: trio), driven by ``websockets``."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from uploadwriter.uploads import UploadConfig, UploadEntry
from uploadwriter.web import DEFAULT_WINDOW, UploadChannel
from uploadwriter.web._wire import chunk_frame

from .web_support import Store, hypercorn_trio_server, make_app, uvicorn_server

pytestmark = pytest.mark.anyio

SERVERS = {"uvicorn": uvicorn_server, "hypercorn-trio": hypercorn_trio_server}
BOTH = pytest.mark.parametrize("server", list(SERVERS))
FINAL = ("done", "error", "cancelled")


@pytest.fixture
def anyio_backend() -> str:
    # The client is websockets (asyncio); each server runs its own loop in a thread.
    return "asyncio"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path)


@pytest.fixture
def serve(store: Store) -> Iterator[Callable[..., str]]:
    """``serve(server="uvicorn", **make_app options)`` -> ``"127.0.0.1:PORT"``, stopped after."""
    stack: list[Any] = []

    def start(server: str = "uvicorn", app: Any = None, **options: Any) -> str:
        context = SERVERS[server](app if app is not None else make_app(store, **options))
        stack.append(context)
        address: str = context.__enter__()
        return address

    yield start
    for context in reversed(stack):
        context.__exit__(None, None, None)


class Client:
    """A protocol-speaking test client over one connection."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.welcome: dict[str, Any] = {}
        self.messages: list[dict[str, Any]] = []

    async def recv(self, timeout: float = 10) -> dict[str, Any]:
        with anyio.fail_after(timeout):
            text = await self.ws.recv()
        assert isinstance(text, str)
        message: dict[str, Any] = json.loads(text)
        self.messages.append(message)
        return message

    async def send(self, **message: Any) -> None:
        await self.ws.send(json.dumps(message))

    async def hello(self) -> dict[str, Any]:
        await self.send(type="hello", versions=[1])
        self.welcome = await self.recv()
        assert self.welcome["type"] == "welcome"
        return self.welcome

    async def select(self, *files: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        """Announce ``files``; return each file's verdict by ref."""
        await self.send(type="select", files=list(files))
        verdicts: dict[str, dict[str, Any]] = {}
        while len(verdicts) < len(files):
            message = await self.recv()
            assert message["type"] in ("accepted", "refused", "cancelled"), message
            verdicts[message["ref"]] = message
        return verdicts

    async def upload(
        self, ref: str, data: bytes, *, window: int | None = None, chunk_size: int | None = None
    ) -> dict[str, Any]:
        """Start ``ref`` and send ``data`` within the window; return its final message."""
        window = window or self.welcome["window"]
        chunk_size = chunk_size or self.welcome["chunk_size"]
        await self.send(type="start", ref=ref)
        offset, credits = 0, window
        while True:
            while credits and offset < len(data):
                await self.ws.send(chunk_frame(ref, data[offset : offset + chunk_size]))
                offset += chunk_size
                credits -= 1
            message = await self.recv()
            if message.get("ref") != ref:
                continue
            if message["type"] == "ack":
                credits += 1
            elif message["type"] in FINAL:
                return message

    async def until(self, ref: str, *types: str) -> dict[str, Any]:
        while True:
            message = await self.recv()
            if message.get("ref") == ref and message["type"] in types:
                return message


async def _connect(address: str, **options: Any) -> ClientConnection:
    return await connect(f"ws://{address}/ws", max_size=None, **options)


def file(ref: str, data: bytes, name: str | None = None, type: str = "") -> dict[str, Any]:
    return {"ref": ref, "name": name or f"{ref}.bin", "size": len(data), "type": type}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def nothing_left(store: Store, timeout: float = 5) -> None:
    """Wait for the server to finish cleaning up, then check no partial file is left."""
    # (Waiting on the loop: an aborted client socket is only closed when the loop runs.)
    with anyio.move_on_after(timeout):
        while store.partial():
            await anyio.sleep(0.02)
    assert store.partial() == []


async def closed_with(ws: ClientConnection, messages: list[Any] | None = None) -> int:
    """Read until the server closes (keeping the messages); return its close code."""
    code = None
    with anyio.fail_after(10):
        try:
            while True:
                text = await ws.recv()
                if messages is not None and isinstance(text, str):
                    messages.append(json.loads(text))
        except ConnectionClosed as closed:
            code = None if closed.rcvd is None else closed.rcvd.code
    assert code is not None, "closed without a close frame"
    return code


# --- uploads --------------------------------------------------------------------------


@BOTH
async def test_several_files_are_stored_with_their_sha256(
    server: str, serve: Callable[..., str], store: Store
) -> None:
    address = serve(server, chunk_size=10_000)
    files = {"a": os.urandom(25_000), "b": b"", "c": os.urandom(10_000), "d": os.urandom(1)}
    async with await _connect(address) as ws:
        c = Client(ws)
        welcome = await c.hello()
        assert welcome["chunk_size"] == 10_000
        assert welcome["window"] == DEFAULT_WINDOW
        verdicts = await c.select(*(file(r, d) for r, d in files.items()))
        assert {v["type"] for v in verdicts.values()} == {"accepted"}
        assert verdicts["a"]["chunk_size"] == 10_000
        for ref, data in files.items():
            done = await c.upload(ref, data)
            assert done["type"] == "done", done
            assert done["result"]["sha256"] == sha(data)
            assert done["result"]["client_name"] == f"{ref}.bin"
        acks = [m for m in c.messages if m["type"] == "ack" and m["ref"] == "a"]
        assert [m["size"] for m in acks] == [10_000, 20_000, 25_000]
        assert [m["progress"] for m in acks] == [40, 80, 100]
    assert sorted((f["client_name"], f["sha256"]) for f in store.files) == sorted(
        (f"{r}.bin", sha(d)) for r, d in files.items()
    )
    assert len(store.kept()) == 4
    await nothing_left(store)


async def test_files_upload_side_by_side_sharing_the_window(
    serve: Callable[..., str], store: Store
) -> None:
    address = serve(chunk_size=1000)
    data = {ref: os.urandom(20_000) for ref in "abc"}
    async with await _connect(address) as ws:
        c = Client(ws)
        await c.hello()
        await c.select(*(file(r, d) for r, d in data.items()))
        for ref in data:
            await c.send(type="start", ref=ref)
        offsets = dict.fromkeys(data, 0)
        credits, turn = c.welcome["window"], 0
        done: set[str] = set()
        while len(done) < len(data):
            sending = [r for r in data if offsets[r] < len(data[r])]
            while credits and sending:
                ref = sending[turn % len(sending)]
                turn += 1
                await ws.send(chunk_frame(ref, data[ref][offsets[ref] : offsets[ref] + 1000]))
                offsets[ref] += 1000
                credits -= 1
                sending = [r for r in data if offsets[r] < len(data[r])]
            message = await c.recv()
            if message["type"] == "ack":
                credits += 1
            elif message["type"] == "done":
                done.add(message["ref"])
    assert sorted(str(f["sha256"]) for f in store.files) == sorted(sha(d) for d in data.values())


# --- refusals and failures -------------------------------------------------------------


async def test_refusals_come_per_file_with_a_code_and_words(
    serve: Callable[..., str], store: Store
) -> None:
    address = serve(accept=[".txt"], max_file_size=100, max_entries=2)
    async with await _connect(address) as ws:
        c = Client(ws)
        await c.hello()
        verdicts = await c.select(
            {"ref": "big", "name": "big.txt", "size": 101},
            {"ref": "pic", "name": "pic.png", "size": 5, "type": "image/png"},
            {"ref": "ok1", "name": "a.txt", "size": 5, "type": "text/plain"},
            {"ref": "ok2", "name": "b.txt", "size": 5},
            {"ref": "ok3", "name": "c.txt", "size": 5},
            {"ref": "nul", "name": "a\x00.txt", "size": 5},
        )
        errors = {ref: v["error"] for ref, v in verdicts.items() if v["type"] == "refused"}
        assert errors == {
            "big": {
                "code": "too_large",
                "message": "This file is 101 bytes; the limit is 100 bytes.",
            },
            "pic": {
                "code": "not_accepted",
                "message": "This type of file is not accepted here (accepted: .txt).",
            },
            "ok3": {
                "code": "too_many_files",
                "message": "Too many files: at most 2 files at a time.",
            },
            "nul": {"code": "malformed", "message": "the file name contains a NUL character"},
        }
        assert verdicts["ok1"]["type"] == verdicts["ok2"]["type"] == "accepted"
        # Refused files count no more: after one completes, there is room again.
        assert (await c.upload("ok1", b"12345"))["type"] == "done"
        assert (await c.select({"ref": "ok4", "name": "d.txt", "size": 1}))["ok4"]["type"] == (
            "accepted"
        )


@BOTH
async def test_a_failing_writer_is_an_error_of_that_file_only(
    server: str, serve: Callable[..., str], store: Store
) -> None:
    address = serve(server, chunk_size=10)
    async with await _connect(address) as ws:
        c = Client(ws)
        await c.hello()
        await c.select(
            file("i", b"x" * 30, "fail-init.bin"),
            file("w", b"x" * 30, "fail-write.bin"),
            file("ok", b"y" * 30),
        )
        for ref in ("i", "w"):
            error = await c.upload(ref, b"x" * 30)
            assert error["type"] == "error"
            assert error["error"] == {
                "code": "writer_failure",
                "message": "The server could not store this file.",
            }
        assert (await c.upload("ok", b"y" * 30))["type"] == "done"
    await nothing_left(store)
    assert [f["client_name"] for f in store.files] == ["ok.bin"]


async def test_more_bytes_than_announced_is_too_large_and_nothing_is_kept(
    serve: Callable[..., str], store: Store
) -> None:
    address = serve(chunk_size=100)
    async with await _connect(address) as ws:
        c = Client(ws)
        await c.hello()
        await c.select({"ref": "a", "name": "a", "size": 10})
        error = await c.upload("a", b"x" * 11)
        assert error["error"]["code"] == "too_large"
        assert "More data arrived than the 10 bytes" in error["error"]["message"]
    await nothing_left(store)
    assert store.files == []


async def test_consume_failures_and_async_consume(serve: Callable[..., str], store: Store) -> None:
    def broken(meta: Mapping[str, object], entry: UploadEntry) -> object:
        raise RuntimeError("the database is down")

    address = serve(consume=broken)
    async with await _connect(address) as ws:
        c = Client(ws)
        await c.hello()
        await c.select(file("a", b"abc"))
        error = await c.upload("a", b"abc")
        assert error["error"]["code"] == "writer_failure"
    await nothing_left(store)
    assert store.kept() == []

    async def later(meta: Mapping[str, object], entry: UploadEntry) -> object:
        await anyio.sleep(0.01)
        return store.consume(meta, entry)

    address = serve(consume=later)
    async with await _connect(address) as ws:
        c = Client(ws)
        await c.hello()
        await c.select(file("a", b"abc"))
        done = await c.upload("a", b"abc")
        assert done["result"]["sha256"] == sha(b"abc")
    assert len(store.kept()) == 1


async def test_a_result_that_is_not_json_is_a_writer_failure(
    serve: Callable[..., str], store: Store
) -> None:
    address = serve(consume=lambda meta, entry: {"when": object()})
    async with await _connect(address) as ws:
        c = Client(ws)
        await c.hello()
        await c.select(file("a", b"abc"))
        assert (await c.upload("a", b"abc"))["error"]["code"] == "writer_failure"


# --- cancel and disconnect ------------------------------------------------------------------


@BOTH
async def test_cancel_mid_way_leaves_nothing(
    server: str, serve: Callable[..., str], store: Store
) -> None:
    address = serve(server, chunk_size=1000, delay=0.01)
    async with await _connect(address) as ws:
        c = Client(ws)
        await c.hello()
        await c.select(file("a", b"x" * 100_000), file("b", b"y" * 10))
        await c.send(type="start", ref="a")
        for _ in range(4):
            await ws.send(chunk_frame("a", b"x" * 1000))
        await c.until("a", "ack")
        await c.send(type="cancel", ref="a")
        await c.until("a", "cancelled")
        # Chunks still in flight for it are dropped; the other file goes on.
        await ws.send(chunk_frame("a", b"x" * 1000))
        await c.send(type="cancel", ref="a")
        assert (await c.upload("b", b"y" * 10))["type"] == "done"
        # Cancelled before it started: confirmed at once.
        await c.select(file("c", b"z"))
        await c.send(type="cancel", ref="c")
        await c.until("c", "cancelled")
    await nothing_left(store)
    assert [f["client_name"] for f in store.files] == ["b.bin"]


@BOTH
async def test_a_disconnect_cancels_every_open_upload(
    server: str, serve: Callable[..., str], store: Store
) -> None:
    address = serve(server, chunk_size=1000, delay=0.02)
    async with await _connect(address) as ws:
        c = Client(ws)
        await c.hello()
        await c.select(file("a", b"x" * 50_000), file("b", b"x" * 50_000), file("c", b"x"))
        for ref in "ab":
            await c.send(type="start", ref=ref)
            await ws.send(chunk_frame(ref, b"x" * 1000))
        await c.until("a", "ack")
        assert len(store.partial()) == 2
    await nothing_left(store)
    assert store.files == []


async def test_a_connection_dropped_without_a_close_frame_leaves_nothing(
    serve: Callable[..., str], store: Store
) -> None:
    address = serve(chunk_size=1000, delay=0.02)
    ws = await _connect(address)
    c = Client(ws)
    await c.hello()
    await c.select(file("a", b"x" * 50_000))
    await c.send(type="start", ref="a")
    await ws.send(chunk_frame("a", b"x" * 1000))
    await c.until("a", "ack")
    ws.transport.abort()  # the TCP connection just ends
    await nothing_left(store)


# --- flow control -------------------------------------------------------------------------


@BOTH
async def test_a_slow_writer_slows_the_client_down(
    server: str, serve: Callable[..., str], store: Store
) -> None:
    delay, chunks, window = 0.02, 20, 2
    address = serve(server, chunk_size=100, delay=delay, window=window)
    async with await _connect(address) as ws:
        c = Client(ws)
        assert (await c.hello())["window"] == window
        await c.select(file("a", b"x" * 100 * chunks))
        started = time.monotonic()
        assert (await c.upload("a", b"x" * 100 * chunks))["type"] == "done"
        # The client could only go as fast as the writer took the chunks.
        assert time.monotonic() - started >= delay * chunks * 0.9


@BOTH
async def test_a_client_ignoring_the_window_is_closed_before_the_server_holds_more(
    server: str, serve: Callable[..., str], store: Store
) -> None:
    window = 3
    address = serve(server, chunk_size=1000, delay=0.2, window=window)
    async with await _connect(address) as ws:
        c = Client(ws)
        await c.hello()
        await c.select(file("a", b"x" * 100_000))
        await c.send(type="start", ref="a")
        with contextlib.suppress(ConnectionClosed):  # closed before all were sent
            for _ in range(40):
                await ws.send(chunk_frame("a", b"x" * 1000))
        code = await closed_with(ws, c.messages)
    assert code == 4400
    error = next(m for m in c.messages if m["type"] == "error" and "ref" not in m)
    assert f"more than {window} chunks unacknowledged" in error["error"]["message"]
    # The writer was given at most the window's worth; the rest was never taken.
    assert len(store.written) <= window
    await nothing_left(store)


# --- bad frames, timeouts, origins ------------------------------------------------------------


@BOTH
@pytest.mark.parametrize(
    ("frames", "words"),
    [
        (["not json"], "must be one JSON object"),
        ([json.dumps({"type": "hello", "versions": [1]}), b"\x01zdata"], "no file with ref 'z'"),
        ([json.dumps({"type": "hello", "versions": [1]}), b"\xff"], "starts with the ref's length"),
        ([json.dumps({"type": "hello", "versions": [1]}), json.dumps({"type": "x"})], "unknown"),
    ],
)
async def test_a_bad_frame_gets_a_clear_error_and_the_server_goes_on(
    server: str,
    serve: Callable[..., str],
    store: Store,
    frames: list[str | bytes],
    words: str,
) -> None:
    address = serve(server)
    async with await _connect(address) as ws:
        for frame in frames:
            await ws.send(frame)
        messages: list[dict[str, Any]] = []
        assert await closed_with(ws, messages) == 4400
    # The error frame came before the close.
    assert messages[-1]["type"] == "error"
    assert messages[-1]["error"]["code"] == "malformed"
    assert words in messages[-1]["error"]["message"]
    # The server still serves.
    async with await _connect(address) as ws:
        c = Client(ws)
        await c.hello()
        await c.select(file("a", b"ok"))
        assert (await c.upload("a", b"ok"))["type"] == "done"


async def test_a_bad_frame_mid_upload_leaves_nothing(
    serve: Callable[..., str], store: Store
) -> None:
    address = serve(chunk_size=1000, delay=0.05)
    async with await _connect(address) as ws:
        c = Client(ws)
        await c.hello()
        await c.select(file("a", b"x" * 10_000))
        await c.send(type="start", ref="a")
        await ws.send(chunk_frame("a", b"x" * 1000))
        await ws.send("{")
        assert await closed_with(ws) == 4400
    await nothing_left(store)


async def test_no_version_in_common(serve: Callable[..., str]) -> None:
    address = serve()
    async with await _connect(address) as ws:
        await ws.send(json.dumps({"type": "hello", "versions": [99]}))
        error = json.loads(await ws.recv())
        assert "versions [1]" in error["error"]["message"]
        assert await closed_with(ws) == 4406


@BOTH
async def test_a_slow_client_is_timed_out_from_the_start(
    server: str, serve: Callable[..., str], store: Store
) -> None:
    address = serve(server, chunk_timeout=0.3)
    # No hello at all.
    async with await _connect(address) as ws:
        assert await closed_with(ws) == 4408
    # A started file that gets no chunk.
    async with await _connect(address) as ws:
        c = Client(ws)
        await c.hello()
        await c.select(file("a", b"x" * 10), file("b", b"x" * 10))
        await c.send(type="start", ref="a")
        error = await c.until("a", "error")
        assert error["error"] == {
            "code": "chunk_timeout",
            "message": "Nothing arrived for 0.3 seconds, so the upload was stopped.",
        }
        # Then the connection is idle ("b" never started): it is closed.
        assert await closed_with(ws) == 4408
    await nothing_left(store)


@pytest.mark.parametrize(
    ("allowed", "origin", "ok"),
    [
        (None, None, True),  # not a browser
        (None, "http://{address}", True),  # the page's own origin
        (None, "http://evil.example", False),
        (["https://app.example"], "https://app.example", True),
        (["https://app.example:443/"], "https://APP.example", True),
        (["https://app.example"], "http://app.example", False),
        (["*"], "http://anything.example", True),
    ],
)
async def test_origin_is_checked(
    serve: Callable[..., str], allowed: list[str] | None, origin: str | None, ok: bool
) -> None:
    address = serve(allowed_origins=allowed)
    headers = {} if origin is None else {"Origin": origin.format(address=address)}
    if ok:
        async with await _connect(address, additional_headers=headers, origin=None) as ws:
            await Client(ws).hello()
    else:
        with pytest.raises(InvalidStatus) as refused:
            await _connect(address, additional_headers=headers)
        assert refused.value.response.status_code == 403


def test_bad_options_are_refused() -> None:
    config = UploadConfig("f", accept="any")
    with pytest.raises(ValueError, match="is not an origin"):
        UploadChannel(config, allowed_origins=["example.com"])
    with pytest.raises(TypeError, match="list of origins"):
        UploadChannel(config, allowed_origins="https://example.com")
    with pytest.raises(TypeError, match="holds strings"):
        UploadChannel(config, allowed_origins=[3])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="UploadConfig or a function"):
        UploadChannel("f")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="consume must be a callable"):
        UploadChannel(config, consume=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="window must be 1 or more"):
        UploadChannel(config, window=0)
    with pytest.raises(TypeError, match="returned 'f', not an UploadConfig"):
        UploadChannel(lambda: "f").config()  # type: ignore[arg-type,return-value]


# --- the rest of ASGI ------------------------------------------------------------------------


async def test_a_config_function_gives_each_connection_its_own(
    serve: Callable[..., str], store: Store
) -> None:
    made: list[UploadConfig] = []

    def config() -> UploadConfig:
        made.append(UploadConfig("per-connection", accept="any", max_entries=1))
        return made[-1]

    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute

    app = Starlette(routes=[WebSocketRoute("/ws", UploadChannel(config))])
    address = serve(app=app)
    for _ in range(2):
        async with await _connect(address) as ws:
            c = Client(ws)
            assert (await c.hello())["upload"] == "per-connection"
            await c.select(file("a", b"x"))
            assert (await c.upload("a", b"x"))["result"] == {"name": "a.bin", "size": 1}
    assert len(made) == 2


async def test_max_entries_1_replaces_the_file_before(serve: Callable[..., str]) -> None:
    address = serve(max_entries=1, chunk_size=10, delay=0.05)
    async with await _connect(address) as ws:
        c = Client(ws)
        await c.hello()
        await c.select(file("a", b"x" * 100))
        await c.send(type="start", ref="a")
        await ws.send(chunk_frame("a", b"x" * 10))
        await c.send(type="select", files=[file("b", b"y")])
        seen: set[tuple[str, str]] = set()
        while len(seen) < 2:
            message = await c.recv()
            seen.add((message["type"], message["ref"]))
            seen -= {("ack", "a")}
        assert seen == {("accepted", "b"), ("cancelled", "a")}
        assert (await c.upload("b", b"y"))["type"] == "done"


async def test_plain_http_gets_426_and_the_channel_can_be_served_alone(
    serve: Callable[..., str],
) -> None:
    channel = UploadChannel(UploadConfig("f", accept="any"))
    address = serve(app=channel)
    response = httpx.get(f"http://{address}/")
    assert response.status_code == 426
    assert "WebSocket" in response.text
    async with await _connect(address) as ws:
        await Client(ws).hello()
