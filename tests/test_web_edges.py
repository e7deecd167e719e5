"""UploadChannel at its edges: bugs in the application, clients that vanish, servers that stop."""

from __future__ import annotations

import json
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from websockets.asyncio.client import connect

from uploadwriter.uploads import EntryError, UploadConfig, UploadEntry
from uploadwriter.web import UploadChannel
from uploadwriter.web._messages import entry_message, human_size
from uploadwriter.web._wire import chunk_frame

from .test_web_websocket import Client, closed_with, file, nothing_left
from .web_support import SlowFileWriter, SlowOpts, Store, make_app, uvicorn_server
from .web_support import hypercorn_trio_server as hypercorn_server

pytestmark = pytest.mark.anyio

HELLO = json.dumps({"type": "hello", "versions": [1]})


@pytest.fixture
def anyio_backend() -> str:
    # The websockets client is asyncio's; the servers run their own loops.
    return "asyncio"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path)


# --- words -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "words"),
    [
        (0, "0 bytes"),
        (1, "1 byte"),
        (999, "999 bytes"),
        (1000, "1 kB"),
        (999_999, "1 MB"),
        (8_000_000, "8 MB"),
        (1_234_567_890, "1.23 GB"),
        (5 * 10**12, "5 TB"),
    ],
)
def test_sizes_in_words(size: int, words: str) -> None:
    assert human_size(size) == words


def test_every_code_has_words() -> None:
    config = UploadConfig("f", accept=[".png"], chunk_timeout=2.5, max_entries=1)
    entry = UploadEntry("0", "u", "f", "a.png", 10, "image/png", None)
    said = {
        code: entry_message(EntryError(code, reason), entry, config)
        for code, reason in [
            ("incomplete", None),
            ("chunk_timeout", None),
            ("too_many_files", 2),
            ("not_accepted", None),
            ("own_code", "Pick a square picture."),
            ("another", None),
        ]
    }
    assert said == {
        "incomplete": "The upload ended before the whole file arrived.",
        "chunk_timeout": "Nothing arrived for 2.5 seconds, so the upload was stopped.",
        "too_many_files": "Too many files: at most 1 file at a time.",
        "not_accepted": "This type of file is not accepted here (accepted: .png).",
        "own_code": "Pick a square picture.",  # a validator's own words
        "another": "The server refused this file (another).",
    }


# --- origins -------------------------------------------------------------------------------


def scope(**headers: str) -> dict[str, Any]:
    return {
        "type": "websocket",
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
    }


def test_origins_compare_scheme_host_and_port() -> None:
    config = UploadConfig("f", accept="any")
    same = UploadChannel(config)
    assert same.origin_allowed(scope(origin="http://[::1]:8000", host="[::1]:8000"))
    assert not same.origin_allowed(scope(origin="http://[::1]:8001", host="[::1]:8000"))
    assert same.origin_allowed(scope(origin="https://example.com", host="example.com:443"))
    assert not same.origin_allowed(scope(origin="http://example.com"))  # no Host to compare
    assert not same.origin_allowed(scope(origin="http://example.com:x", host="example.com"))
    # Browsers send "null" for file:// pages and sandboxed frames: nobody's origin.
    assert not same.origin_allowed(scope(origin="null", host="example.com"))
    listed = UploadChannel(config, allowed_origins=["http://127.0.0.1:8000"])
    assert listed.origin_allowed(scope(origin="http://127.0.0.1:8000"))
    assert not listed.origin_allowed(scope(origin="http://127.0.0.1"))


# --- bugs in the application ------------------------------------------------------------------


async def test_a_broken_writer_factory_fails_that_file_only(store: Store) -> None:
    with uvicorn_server(make_app(store)) as address:
        async with await connect(f"ws://{address}/ws") as ws:
            c = Client(ws)
            await c.hello()
            await c.select(file("bad", b"x", "fail-factory.bin"), file("ok", b"y"))
            error = await c.upload("bad", b"x")
            assert error["error"] == {
                "code": "writer_failure",
                "message": "The server could not store this file.",
            }
            assert (await c.upload("ok", b"y"))["type"] == "done"


async def test_a_bug_in_the_server_closes_with_1011_and_leaves_nothing(store: Store) -> None:
    def validator(entry: UploadEntry) -> object:
        return 42 if entry.client_name == "boom" else None  # not an error: a bug

    with uvicorn_server(make_app(store, validator=validator, chunk_size=10, delay=0.05)) as address:
        async with await connect(f"ws://{address}/ws") as ws:
            c = Client(ws)
            await c.hello()
            await c.select(file("a", b"x" * 100))
            await c.send(type="start", ref="a")
            await ws.send(chunk_frame("a", b"x" * 10))
            await c.send(type="select", files=[{"ref": "b", "name": "boom", "size": 1}])
            assert await closed_with(ws, c.messages) == 1011
        assert c.messages[-1]["error"] == {"code": "server_error", "message": "the server failed"}
        await nothing_left(store)


# --- clients that vanish, servers that stop -----------------------------------------------------


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_a_client_gone_while_the_server_sends_ends_the_connection_cleanly(
    store: Store,
) -> None:
    # An ASGI server raises from send() once its client is gone (uvicorn:
    # ClientDisconnected, an OSError). The first ack meets that here.
    config = UploadConfig(
        "f",
        accept="any",
        chunk_size=10,
        writer=lambda name, entry: (SlowFileWriter(), SlowOpts(str(store.directory))),
    )
    app = UploadChannel(config)
    to_app, inbox = anyio.create_memory_object_stream[dict[str, Any]](10)
    sent: list[Mapping[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        if '"ack"' in message.get("text", ""):
            raise OSError("the client went away")
        sent.append(message)

    frames = [
        HELLO,
        json.dumps({"type": "select", "files": [file("a", b"x" * 100)]}),
        json.dumps({"type": "start", "ref": "a"}),
        chunk_frame("a", b"x" * 10),
    ]
    with to_app, inbox, anyio.fail_after(10):
        await to_app.send({"type": "websocket.connect"})
        for frame in frames:
            key = "text" if isinstance(frame, str) else "bytes"
            await to_app.send({"type": "websocket.receive", key: frame})
        await app({"type": "websocket", "headers": []}, inbox.receive, send)
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send", "websocket.send"]
    assert store.partial() == []


@pytest.mark.parametrize("server", [uvicorn_server, hypercorn_server])
async def test_a_server_stopping_mid_upload_leaves_nothing(server: Any, store: Store) -> None:
    context = server(make_app(store, chunk_size=1000, delay=0.05))
    address = context.__enter__()
    try:
        ws = await connect(f"ws://{address}/ws")
        c = Client(ws)
        await c.hello()
        await c.select(file("a", b"x" * 100_000))
        await c.send(type="start", ref="a")
        await ws.send(chunk_frame("a", b"x" * 1000))
        await c.until("a", "ack")
        assert len(store.partial()) == 1
    finally:
        await anyio.to_thread.run_sync(context.__exit__, None, None, None)
    await nothing_left(store)
    # Told it is going away (uvicorn says 1012 itself; under hypercorn the channel says 1001).
    assert await closed_with(ws) in (1001, 1012)


async def test_served_alone_it_speaks_lifespan(store: Store) -> None:
    app = UploadChannel(UploadConfig("f", accept="any"))
    with uvicorn_server(app, lifespan="on") as address:
        assert httpx.get(f"http://{address}/").status_code == 426
        async with await connect(f"ws://{address}/") as ws:
            assert (await Client(ws).hello())["upload"] == "f"
