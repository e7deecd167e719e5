"""A client of the WebSocket upload channel, for the benchmarks (``websockets``, asyncio).

``python -m bench.channel_client URL FILE`` uploads FILE over the channel at
URL with the window and chunk size the server's ``welcome`` gives (the
defaults, 8 chunks of 64,000 bytes), and prints ``{"seconds": ..., "done":
...}`` as JSON: the time from the ``start`` message to the ``done`` one, and
the server's ``done`` message. :func:`upload` is the same, to call from
asyncio code (``bench.load`` does, with faults to inject).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from uploadwriter.web import chunk_frame

__all__ = ("upload",)

#: ``read(offset, n)``: up to ``n`` bytes of the file from ``offset`` (``b""`` past its end).
Read = Callable[[int, int], bytes]


async def upload(
    url: str,
    name: str,
    size: int,
    read: Read,
    *,
    announce: int | None = None,
    stop_after: int | None = None,
    then: Callable[[Any], Awaitable[dict[str, Any] | None]] | None = None,
    timeout: float = 120.0,
) -> tuple[dict[str, Any], float, int]:
    """Upload one file of ``size`` bytes over the channel; return the last message, seconds, bytes.

    The last message is the file's ``done``, ``error``, ``refused`` or
    ``cancelled``. ``announce`` is the size announced, when it is not
    ``size``. With ``stop_after``, the client stops sending after that many
    bytes and awaits ``then(ws)``, whose result (or, if it returns ``None``,
    the next message about the file) is returned: how ``bench.load`` plays a
    client that goes away or stalls. The seconds run from ``start`` to the
    last message; the bytes are those sent.
    """
    return await asyncio.wait_for(
        _upload(url, name, size, read, announce=announce, stop_after=stop_after, then=then),
        timeout,
    )


async def _upload(
    url: str,
    name: str,
    size: int,
    read: Read,
    *,
    announce: int | None,
    stop_after: int | None,
    then: Callable[[Any], Awaitable[dict[str, Any] | None]] | None,
) -> tuple[dict[str, Any], float, int]:
    import websockets

    async with websockets.connect(url, max_size=None, compression=None) as ws:
        await ws.send(json.dumps({"type": "hello", "versions": [1]}))
        welcome = json.loads(await ws.recv())
        assert welcome["type"] == "welcome", welcome
        window: int = welcome["window"]
        files = [{"ref": "f", "name": name, "size": size if announce is None else announce}]
        await ws.send(json.dumps({"type": "select", "files": files}))
        verdict = json.loads(await ws.recv())
        if verdict["type"] != "accepted":
            return verdict, 0.0, 0
        chunk_size: int = verdict["chunk_size"]
        started = time.perf_counter()
        await ws.send(json.dumps({"type": "start", "ref": "f"}))
        sent, credits = 0, window
        limit = size if stop_after is None else min(size, stop_after)
        while True:
            while credits and sent < limit:
                data = read(sent, min(chunk_size, limit - sent))
                await ws.send(chunk_frame("f", data))
                sent += len(data)
                credits -= 1
            if sent >= limit and stop_after is not None and then is not None:
                last = await then(ws)
                if last is not None:
                    return last, time.perf_counter() - started, sent
                then = None
            message = json.loads(await ws.recv())
            kind = message["type"]
            if kind == "ack":
                credits += 1
            elif kind in ("done", "error", "cancelled"):
                await ws.close()
                return message, time.perf_counter() - started, sent


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.channel_client", description=__doc__)
    parser.add_argument("url")
    parser.add_argument("file")
    args = parser.parse_args(argv)
    size = os.path.getsize(args.file)
    with open(args.file, "rb", buffering=0) as file:

        def read(offset: int, n: int) -> bytes:
            return os.pread(file.fileno(), n, offset)

        last, seconds, _ = asyncio.run(upload(args.url, os.path.basename(args.file), size, read))
    json.dump({"seconds": seconds, "last": last}, sys.stdout)
    if last["type"] != "done":
        raise SystemExit(f"the upload did not complete: {last}")


if __name__ == "__main__":
    main()
