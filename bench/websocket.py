"""Throughput of the WebSocket upload channel by flow-control window: ``python -m bench.websocket``.

The server (uvicorn, the channel at ``/ws``) runs in its own process on
127.0.0.1; this process is the client (``websockets``), uploading one file of
``--size`` bytes per run and keeping at most ``window`` chunks unacknowledged
(``window=1`` is an acknowledgement per chunk). The server's window is set
high, so the client's own is what is measured. Each window runs ``--rounds``
times, rounds interleaved; the table gives the median MB/s.

Writers: ``null`` (an async writer that drops the bytes: the channel's own
cost), ``tmpfile`` (the default ``TmpFileWriter`` through worker threads), and
``slow`` (sleeps ``--delay`` seconds per chunk: a slow destination).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping
from typing import Any

from uploadwriter import CloseReason, Ok
from uploadwriter.uploads import UploadConfig, UploadEntry
from uploadwriter.web import UploadChannel
from uploadwriter.web._wire import chunk_frame
from uploadwriter.writers import TmpFileOpts, TmpFileWriter

SERVER_WINDOW = 64


class NullWriter:
    """An async writer that keeps nothing (optionally sleeping per chunk)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay

    async def init(self, opts: None) -> Ok[int]:
        return Ok(0)

    def meta(self, state: int) -> Mapping[str, object]:
        return {"size": state}

    async def write_chunk(self, data: bytes, state: int) -> Ok[int]:
        if self.delay:
            await asyncio.sleep(self.delay)
        return Ok(state + len(data))

    async def close(self, state: int, reason: CloseReason) -> Ok[int]:
        return Ok(state)


def create_app() -> Any:
    """The server's app (``uvicorn --factory``), configured by environment variables."""
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute

    kind = os.environ["BENCH_WRITER"]
    delay = float(os.environ.get("BENCH_DELAY", "0"))
    chunk_size = int(os.environ["BENCH_CHUNK"])

    def writer(name: str, entry: UploadEntry) -> tuple[Any, Any]:
        if kind == "tmpfile":
            return TmpFileWriter(), TmpFileOpts()
        return NullWriter(delay if kind == "slow" else 0.0), None

    config = UploadConfig(
        "bench", accept="any", max_file_size=2**40, chunk_size=chunk_size, writer=writer
    )
    channel = UploadChannel(config, window=SERVER_WINDOW)
    return Starlette(routes=[WebSocketRoute("/ws", channel)])


async def upload(url: str, size: int, chunk_size: int, window: int, rtt: float = 0.0) -> float:
    """Upload ``size`` bytes with at most ``window`` chunks unacknowledged; return seconds.

    With ``rtt``, each message from the server is acted on ``rtt`` seconds after
    it arrived: a network's round trip, as the flow control feels it.
    """
    import websockets

    chunk = os.urandom(chunk_size)
    async with websockets.connect(url, max_size=None, compression=None) as ws:
        await ws.send(json.dumps({"type": "hello", "versions": [1]}))
        json.loads(await ws.recv())
        started = time.perf_counter()
        files = [{"ref": "f", "name": "bench.bin", "size": size}]
        await ws.send(json.dumps({"type": "select", "files": files}))
        assert json.loads(await ws.recv())["type"] == "accepted"
        await ws.send(json.dumps({"type": "start", "ref": "f"}))
        inbox: asyncio.Queue[tuple[float, dict[str, Any]]] = asyncio.Queue()

        async def read() -> None:
            async for text in ws:
                inbox.put_nowait((time.perf_counter() + rtt, json.loads(text)))

        reader = asyncio.create_task(read())
        try:
            sent, credits = 0, window
            while True:
                while credits and sent < size:
                    piece = chunk[: min(chunk_size, size - sent)]
                    await ws.send(chunk_frame("f", piece))
                    sent += len(piece)
                    credits -= 1
                due, message = await inbox.get()
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                if message["type"] == "ack":
                    credits += 1
                elif message["type"] == "done":
                    return time.perf_counter() - started
                else:  # pragma: no cover - a failed bench run
                    raise RuntimeError(message)
        finally:
            reader.cancel()


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.websocket", description=__doc__)
    parser.add_argument("--writer", choices=["null", "tmpfile", "slow"], default="null")
    parser.add_argument("--size", type=int, default=32_000_000)
    parser.add_argument("--chunk-size", type=int, default=64_000)
    parser.add_argument("--windows", default="1,2,4,8,16,32")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--delay", type=float, default=0.002)
    parser.add_argument("--rtt", type=float, default=0.0, help="emulated round trip, seconds")
    args = parser.parse_args(argv)
    windows = [int(w) for w in args.windows.split(",")]
    port = _port()
    env = dict(
        os.environ,
        BENCH_WRITER=args.writer,
        BENCH_DELAY=str(args.delay),
        BENCH_CHUNK=str(args.chunk_size),
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "bench.websocket:create_app",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
         "--ws", "websockets-sansio", "--ws-max-size", str(2 * args.chunk_size)],
        env=env,
    )  # fmt: skip
    try:
        url = f"ws://127.0.0.1:{port}/ws"
        deadline = time.monotonic() + 20
        while True:
            try:
                asyncio.run(upload(url, args.chunk_size, args.chunk_size, 1))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        times: dict[int, list[float]] = {w: [] for w in windows}
        for _ in range(args.rounds):
            for window in windows:
                times[window].append(
                    asyncio.run(upload(url, args.size, args.chunk_size, window, args.rtt))
                )
    finally:
        server.terminate()
        server.wait(20)
    print(
        f"writer={args.writer} size={args.size} chunk_size={args.chunk_size} "
        f"rounds={args.rounds} rtt={args.rtt * 1000:g} ms"
        + (f" delay={args.delay}" if args.writer == "slow" else "")
    )
    print("| window | MB/s (median) | min-max | server holds at most |")
    print("|---:|---:|---:|---:|")
    for window in windows:
        rates = [args.size / t / 1e6 for t in times[window]]
        print(
            f"| {window} | {statistics.median(rates):.0f} | {min(rates):.0f}-{max(rates):.0f} "
            f"| {window * args.chunk_size / 1e3:.0f} kB |"
        )


if __name__ == "__main__":
    main()
