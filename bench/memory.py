"""Memory: bytes of driver and reducer state per open upload, and RSS with many uploads open.

``python -m bench.memory rss --uploads 10000 --backend asyncio`` runs the RSS
measurement on its own (the main benchmark runs it in a fresh subprocess, so
that nothing else it did counts). ``python -m bench.memory tmpfile --uploads
10000 --chunk 64000`` measures the same with ``TmpFileWriter`` uploads, each
holding its open file.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import tempfile
import tracemalloc
from typing import Any

import anyio

from uploadwriter import AsyncUploader, Chunk, Done, Uploader
from uploadwriter.writers import TmpFileOpts, TmpFileWriter

from .contenders import AsyncNullWriter, NullWriter

# One shared payload: the writer keeps nothing, and the caller's bytes are not
# the upload's state, so no copy of them may be counted.
_DATA = b"x" * 64_000


def bytes_per_sync_upload(n: int) -> float:
    """Traced bytes per open ``Uploader`` (entered, one chunk written), NullWriter state."""
    writer = NullWriter()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    uploads = []
    for _ in range(n):
        up = Uploader(writer, None, expected_size=10 * len(_DATA), max_size=10**9)
        up.__enter__()
        up.send(Chunk(_DATA))
        uploads.append(up)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    total = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    # The list holding them is the benchmark's, not the uploads'.
    total -= sys.getsizeof(uploads)
    for up in uploads:
        up.__exit__(None, None, None)
    return total / n


def bytes_per_async_upload(n: int, backend: str) -> float:
    """Traced bytes per open ``AsyncUploader`` (with its chunk-timeout cancel scope)."""

    async def main() -> float:
        writer = AsyncNullWriter()
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        uploads = []
        for _ in range(n):
            up = AsyncUploader(writer, None, expected_size=10 * len(_DATA), chunk_timeout=60)
            await up.__aenter__()
            await up.send(Chunk(_DATA))
            uploads.append(up)
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        total = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
        total -= sys.getsizeof(uploads)
        for up in reversed(uploads):  # cancel scopes exit innermost first
            await up.__aexit__(None, None, None)
        return total / n

    result: float = anyio.run(main, backend=backend)
    return result


def _maxrss_bytes() -> int:
    # ru_maxrss is in KiB on Linux, in bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def rss_growth(uploads: int, backend: str) -> dict[str, Any]:
    """Peak RSS growth while ``uploads`` AsyncUploaders are open at once in one event loop."""

    async def main() -> dict[str, Any]:
        opened = 0
        all_open = anyio.Event()
        release = anyio.Event()

        async def one() -> None:
            nonlocal opened
            async with AsyncUploader(AsyncNullWriter(), None, chunk_timeout=60) as up:
                await up.send(Chunk(_DATA))
                opened += 1
                if opened == uploads:
                    all_open.set()
                await release.wait()
                await up.send(Done())

        gc.collect()
        base = _maxrss_bytes()
        async with anyio.create_task_group() as tg:
            for _ in range(uploads):
                tg.start_soon(one)
            await all_open.wait()
            peak = _maxrss_bytes()
            release.set()
        return {"uploads": uploads, "backend": backend, "growth": peak - base}

    result: dict[str, Any] = anyio.run(main, backend=backend)
    return result


def rss_growth_tmpfile(uploads: int, chunk: int, directory: str | None) -> dict[str, Any]:
    """Peak RSS growth while ``uploads`` Uploader + TmpFileWriter uploads are open at once,
    each after one chunk of ``chunk`` bytes (each chunk its own bytes object, as bytes
    received from a network are: a writer that keeps a reference to it keeps its memory)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < uploads + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, uploads + 100), hard))
    data = os.urandom(chunk)
    writer = TmpFileWriter()
    with tempfile.TemporaryDirectory(prefix="uploadwriter-rss-", dir=directory) as where:
        opts = TmpFileOpts(dir=where)
        gc.collect()
        base = _maxrss_bytes()
        open_uploads = []
        for i in range(uploads):
            up = Uploader(writer, opts)
            up.__enter__()
            up.send(Chunk(data[:-8] + i.to_bytes(8, "little")))  # a new object each time
            open_uploads.append(up)
        peak = _maxrss_bytes()
        for up in open_uploads:
            up.__exit__(None, None, None)  # cancel: removes the files
        left = len(os.listdir(where))
    return {
        "uploads": uploads,
        "chunk": chunk,
        "writer": "TmpFileWriter",
        "growth": peak - base,
        "files_left": left,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory")
    parser.add_argument("what", choices=["rss", "tmpfile"])
    parser.add_argument("--uploads", type=int, default=10_000)
    parser.add_argument("--backend", default="asyncio", choices=["asyncio", "trio"])
    parser.add_argument("--chunk", type=int, default=64_000, help="tmpfile: bytes per upload")
    parser.add_argument("--dir", default=None, help="tmpfile: where the files go")
    args = parser.parse_args(argv)
    if args.what == "tmpfile":
        print(json.dumps(rss_growth_tmpfile(args.uploads, args.chunk, args.dir)))
    else:
        print(json.dumps(rss_growth(args.uploads, args.backend)))


if __name__ == "__main__":
    main()
