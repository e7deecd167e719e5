"""Run the whole benchmark: ``python -m bench`` (``--smoke`` for a few-second check).

Throughput: every contender streams the same chunks into a new temp file, round
by round (each round runs every contender once, in a rotated order, so noise
hits all alike); the tables give medians over the rounds, and ratios are the
medians of the per-round ratios (paired within a round).
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Sequence
from time import perf_counter
from typing import Any

from uploadwriter import Chunk, Ok, Uploader
from uploadwriter.reducer import reduce, start

from . import memory
from .contenders import BUFFER_SIZE, CONTENDERS, PEERS, Contender, NullWriter, scratch_dir

KiB = 1024
MiB = 1024 * KiB
CHUNK_SIZES = (4 * KiB, 16 * KiB, 64_000, MiB)

BARE = "bare open/write loop"
BARE_BUFFERED = f"bare loop, {BUFFER_SIZE // 1024} KiB buffer"
DJANGO = "Django TemporaryFileUploadHandler"
SYNC = "Uploader + TmpFileWriter"
SYNC_BEFORE = "Uploader + TmpFileWriter before (BufferedWriter)"
ASYNC = "AsyncUploader asyncio + InlineWriter"
ASYNC_TRIO = "AsyncUploader trio + InlineWriter"


def _available(names: Sequence[str], strict: bool) -> list[str]:
    found = []
    for name in names:
        module = PEERS.get(name)
        if module is not None and importlib.util.find_spec(module) is None:
            message = f"{name} needs `{module}`, which is not installed: pip install -e '.[bench]'"
            if strict:
                raise SystemExit(message)
            print(f"  (skipped: {message})")
            continue
        found.append(name)
    return found


def _timed(contender: Contender, chunks: Sequence[bytes], directory: str) -> tuple[float, float]:
    gc.collect()
    gc.disable()
    try:
        return contender(chunks, directory)
    finally:
        gc.enable()


def throughput(
    chunk_size: int, total: int, rounds: int, names: list[str], directory: str, clock: str
) -> dict[str, Any]:
    """Median times per contender and per-round paired ratios, at one chunk size."""
    data = os.urandom(chunk_size)
    chunks = [data] * max(1, total // chunk_size)
    for name in names:  # warm up: imports, caches, the page cache's free pages
        CONTENDERS[name](chunks[:64], directory)
    wall: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            w, c = _timed(CONTENDERS[name], chunks, directory)
            wall[name].append(w)
            cpu[name].append(c)
    n = len(chunks)
    times = cpu if clock == "cpu" else wall

    def ratio(a: str, b: str) -> float | None:
        if a not in times or b not in times:
            return None
        return statistics.median(x / y for x, y in zip(times[a], times[b], strict=True))

    return {
        "chunk_size": chunk_size,
        "chunks": n,
        "bytes": n * chunk_size,
        "clock": clock,
        "us_per_chunk_cpu": {k: statistics.median(v) / n * 1e6 for k, v in cpu.items()},
        "us_per_chunk_wall": {k: statistics.median(v) / n * 1e6 for k, v in wall.items()},
        "vs_bare": {k: ratio(k, BARE) for k in names},
        "vs_bare_buffered": {k: ratio(k, BARE_BUFFERED) for k in names},
        "vs_django": {k: ratio(k, DJANGO) for k in names},
        "gathering_vs_buffered": ratio(SYNC, SYNC_BEFORE),
        "async_vs_sync": ratio(ASYNC, SYNC),
        "async_trio_vs_sync": ratio(ASYNC_TRIO, SYNC),
    }


def reducer_rate(events: int) -> dict[str, float]:
    """Events per second through the reducer alone, and through Uploader with a NullWriter."""
    data = b"x" * 64_000
    ok: Ok[None] = Ok(None)
    upload = reduce(start(), ok).upload
    gc.disable()
    t0 = perf_counter()
    for _ in range(events):
        upload = reduce(reduce(upload, Chunk(data)).upload, ok).upload
    pure = perf_counter() - t0
    with Uploader(NullWriter(), None) as up:
        send = up.send
        t0 = perf_counter()
        for _ in range(events):
            send(Chunk(data))
        driven = perf_counter() - t0
    gc.enable()
    return {
        # Each chunk is two reductions: the Chunk, and the writer's Ok.
        "reduce_steps_per_s": 2 * events / pure,
        "chunks_per_s_reducer_only": events / pure,
        "chunks_per_s_uploader_nullwriter": events / driven,
        "us_per_chunk_uploader_nullwriter": driven / events * 1e6,
    }


def rss(uploads: int, backend: str) -> dict[str, Any]:
    """Run the RSS measurement in a fresh interpreter, so nothing else this process did counts."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.memory",
            "rss",
            f"--uploads={uploads}",
            f"--backend={backend}",
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    ).stdout
    result: dict[str, Any] = json.loads(out)
    return result


def _fmt_ratio(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}x"


def print_report(results: list[dict[str, Any]], names: list[str]) -> None:
    for res in results:
        size = res["chunk_size"]
        print(
            f"\n### chunk {size:,} B x {res['chunks']:,} = {res['bytes'] / MiB:.0f} MiB per run"
            f" (ratios: medians of per-round {res['clock']}-time ratios)\n"
        )
        print(
            "| contender | µs/chunk CPU | µs/chunk wall | x bare loop | x Django "
            f"| x bare, {BUFFER_SIZE // 1024} KiB buffer |"
        )
        print("|---|---:|---:|---:|---:|---:|")
        for name in names:
            print(
                f"| {name} | {res['us_per_chunk_cpu'][name]:.2f} "
                f"| {res['us_per_chunk_wall'][name]:.2f} "
                f"| {_fmt_ratio(res['vs_bare'][name])} "
                f"| {_fmt_ratio(res['vs_django'][name])} "
                f"| {_fmt_ratio(res['vs_bare_buffered'][name])} |"
            )
        if res["gathering_vs_buffered"] is not None:
            print(
                "\nTmpFileWriter (its own gathering) / TmpFileWriter before (BufferedWriter): "
                f"{res['gathering_vs_buffered']:.3f}x",
                end="",
            )
        for key, label in (("async_vs_sync", "asyncio"), ("async_trio_vs_sync", "trio")):
            if res[key] is not None:
                print(
                    f"\nAsyncUploader ({label}, InlineWriter) / Uploader: {res[key]:.3f}x", end=""
                )
        print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--mib", type=int, default=64, help="MiB streamed per run (default 64)")
    parser.add_argument("--rounds", type=int, default=11, help="rounds per chunk size (default 11)")
    parser.add_argument(
        "--chunk-sizes",
        type=lambda s: [int(x) for x in s.split(",")],
        default=list(CHUNK_SIZES),
        help="comma-separated chunk sizes in bytes (default 4096,16384,64000,1048576)",
    )
    parser.add_argument("--events", type=int, default=200_000, help="chunks for the reducer rate")
    parser.add_argument("--uploads", type=int, default=10_000, help="concurrent uploads for RSS")
    parser.add_argument("--per-upload", type=int, default=2_000, help="uploads for tracemalloc")
    parser.add_argument(
        "--clock",
        choices=["cpu", "wall"],
        default="cpu",
        help="time the ratios use (default cpu: this process's CPU time, which other "
        "processes on a shared machine disturb less than the wall clock)",
    )
    parser.add_argument("--dir", default=None, help="where the temp files go (default: $TMPDIR)")
    parser.add_argument("--only", default=None, help="comma-separated substrings of contenders")
    parser.add_argument("--json", default=None, help="also write every figure to this file")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes, 2 rounds: checks that everything runs, in seconds; figures mean nothing",
    )
    parser.add_argument(
        "--require-peers",
        action="store_true",
        help="fail, rather than skip, when a peer (Django, streaming-form-data, trio) is missing",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.mib, args.rounds, args.events, args.uploads, args.per_upload = 1, 2, 2_000, 200, 50
    names = list(CONTENDERS)
    if args.only:
        wanted = args.only.split(",")
        names = [
            n
            for n in names
            if n in (BARE, BARE_BUFFERED) or any(w.lower() in n.lower() for w in wanted)
        ]

    print(
        f"uploadwriter benchmark: Python {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} CPUs, {args.mib} MiB per run, {args.rounds} rounds"
    )
    names = _available(names, args.require_peers)
    report: dict[str, Any] = {"argv": sys.argv[1:], "python": platform.python_version()}
    with scratch_dir(args.dir) as directory:
        results = [
            throughput(size, args.mib * MiB, args.rounds, names, directory, args.clock)
            for size in args.chunk_sizes
        ]
    print_report(results, names)
    report["throughput"] = results

    rate = reducer_rate(args.events)
    report["reducer"] = rate
    print("\n### reducer, with a writer that does nothing\n")
    print(f"- reduce alone: {rate['reduce_steps_per_s']:,.0f} steps/s")
    print(f"  ({rate['chunks_per_s_reducer_only']:,.0f} chunks/s: a Chunk and an Ok each)")
    print(
        f"- Uploader + NullWriter: {rate['chunks_per_s_uploader_nullwriter']:,.0f} chunks/s "
        f"({rate['us_per_chunk_uploader_nullwriter']:.2f} µs per chunk)"
    )

    backends = ["asyncio"] + (["trio"] if importlib.util.find_spec("trio") else [])
    per_sync = memory.bytes_per_sync_upload(args.per_upload)
    per_async = {b: memory.bytes_per_async_upload(args.per_upload, b) for b in backends}
    growth = {b: rss(args.uploads, b) for b in backends}
    report["memory"] = {"per_sync": per_sync, "per_async": per_async, "rss": growth}
    print("\n### memory\n")
    print(f"- open Uploader (driver + reducer state): {per_sync:,.0f} bytes")
    for b in backends:
        print(f"- open AsyncUploader on {b} (with its cancel scope): {per_async[b]:,.0f} bytes")
    for b in backends:
        g = growth[b]["growth"]
        print(
            f"- {args.uploads:,} uploads open at once on {b}: peak RSS +{g / MiB:.1f} MiB "
            f"({g / args.uploads:,.0f} bytes each, tasks included)"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    if args.smoke:
        # The other two benchmarks, tiny, so that CI checks they run too.
        from . import core, handoff

        handoff.main(["--smoke"])
        core.main(["--smoke"])
    else:
        print(
            "\n(the thread handoff: python -m bench.handoff; "
            "compiled and pure Python: python -m bench.core)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
