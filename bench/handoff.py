"""The thread handoff, side by side with the machine's floor: ``python -m bench.handoff``.

Floors, per round trip (a call handed to another thread, its answer back):

* a bare two-thread ping-pong, ``queue.SimpleQueue`` both ways (no event loop);
* ``anyio.to_thread.run_sync`` of a function that does nothing, on asyncio and trio;
* a dedicated worker thread answering through ``loop.call_soon_threadsafe``
  (asyncio) or the trio token's ``run_sync_soon`` (trio);
* uploadwriter's own handoff (``_handoff.run_in_worker``), which ``ThreadedWriter`` uses.

Then the adapters, per chunk, at each chunk size: ``AsyncUploader`` with
``TmpFileWriter`` behind ``ThreadedWriter`` (and ``PipelinedWriter``) minus the
same behind ``InlineWriter`` (the same writer, called on the loop), so that what
remains is the handoff alone. Every round runs every contender once, in a
rotated order; figures are medians over rounds, ratios medians of the per-round
ratios (paired within a round), for the wall clock and for the process's CPU
time (both threads).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import queue
import statistics
import sys
import threading
from collections.abc import Callable, Sequence
from time import perf_counter, process_time
from typing import Any

import anyio
import anyio.to_thread

from uploadwriter import AsyncUploader, Chunk, Done, InlineWriter, ThreadedWriter
from uploadwriter._handoff import run_in_worker
from uploadwriter.writers import TmpFileOpts, TmpFileWriter

from .contenders import scratch_dir

KiB = 1024
MiB = 1024 * KiB
SIZES = (4 * KiB, 64_000, MiB)
#: Chunks per run at each size (the 1 MiB runs are fewer: each write is long).
CHUNKS = {4 * KiB: 2000, 64_000: 1000, MiB: 300}

Timing = tuple[float, float]  # wall, CPU seconds per round trip (or per chunk)


def _nothing() -> None:
    return None


# --- the floors -----------------------------------------------------------------------------------


def ping_pong(n: int) -> Timing:
    """Two threads, a ``SimpleQueue`` each way: the cost of a round trip with no event loop."""
    there: queue.SimpleQueue[int | None] = queue.SimpleQueue()
    back: queue.SimpleQueue[int] = queue.SimpleQueue()

    def echo() -> None:
        while (item := there.get()) is not None:
            back.put(item)

    thread = threading.Thread(target=echo)
    thread.start()
    there.put(0)
    back.get()
    t0, c0 = perf_counter(), process_time()
    for i in range(n):
        there.put(i)
        back.get()
    elapsed = (perf_counter() - t0) / n, (process_time() - c0) / n
    there.put(None)
    thread.join()
    return elapsed


def _on_loop(backend: str, body: Callable[[int], Any]) -> Callable[[int], Timing]:
    def run(n: int) -> Timing:
        async def main() -> Timing:
            await body(1)  # warm up: a worker thread started, imports done
            t0, c0 = perf_counter(), process_time()
            await body(n)
            return (perf_counter() - t0) / n, (process_time() - c0) / n

        result: Timing = anyio.run(main, backend=backend)
        return result

    return run


async def _to_thread(n: int) -> None:
    for _ in range(n):
        await anyio.to_thread.run_sync(_nothing)


async def _handoff(n: int) -> None:
    for _ in range(n):
        await run_in_worker(_nothing)


async def _dedicated_asyncio(n: int) -> None:
    loop = asyncio.get_running_loop()
    jobs: queue.SimpleQueue[asyncio.Future[None] | None] = queue.SimpleQueue()

    def worker() -> None:
        while (future := jobs.get()) is not None:
            loop.call_soon_threadsafe(future.set_result, None)

    thread = threading.Thread(target=worker)
    thread.start()
    for _ in range(n):
        future = loop.create_future()
        jobs.put(future)
        await future
    jobs.put(None)
    thread.join()


async def _dedicated_trio(n: int) -> None:
    import trio

    token = trio.lowlevel.current_trio_token()
    jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def worker() -> None:
        while (task := jobs.get()) is not None:
            token.run_sync_soon(trio.lowlevel.reschedule, task)

    def refuse(_: object) -> trio.lowlevel.Abort:
        return trio.lowlevel.Abort.FAILED

    thread = threading.Thread(target=worker)
    thread.start()
    for _ in range(n):
        jobs.put(trio.lowlevel.current_task())
        await trio.lowlevel.wait_task_rescheduled(refuse)
    jobs.put(None)
    thread.join()


def floors(backends: Sequence[str]) -> dict[str, Callable[[int], Timing]]:
    """The round-trip contenders, by the name the tables print."""
    found: dict[str, Callable[[int], Timing]] = {"ping-pong (SimpleQueue both ways)": ping_pong}
    dedicated = {"asyncio": _dedicated_asyncio, "trio": _dedicated_trio}
    entry = {"asyncio": "loop.call_soon_threadsafe", "trio": "trio token"}
    for backend in backends:
        found[f"anyio.to_thread.run_sync, {backend}"] = _on_loop(backend, _to_thread)
        found[f"dedicated thread + {entry[backend]}, {backend}"] = _on_loop(
            backend, dedicated[backend]
        )
        found[f"uploadwriter handoff, {backend}"] = _on_loop(backend, _handoff)
    return found


PING_PONG = "ping-pong (SimpleQueue both ways)"


# --- the adapters, per chunk ---------------------------------------------------------------


def adapter_run(backend: str, wrap: Callable[[TmpFileWriter], Any]) -> Callable[..., Timing]:
    """``AsyncUploader`` + ``wrap(TmpFileWriter())`` streaming the chunks: seconds per chunk."""

    def run(chunks: Sequence[bytes], directory: str) -> Timing:
        async def main() -> tuple[Timing, str]:
            t0, c0 = perf_counter(), process_time()
            async with AsyncUploader(wrap(TmpFileWriter()), TmpFileOpts(dir=directory)) as up:
                send = up.send
                for data in chunks:
                    await send(Chunk(data))
                await send(Done())
            n = len(chunks)
            path = str(up.meta()["path"])
            return ((perf_counter() - t0) / n, (process_time() - c0) / n), path

        elapsed, path = anyio.run(main, backend=backend)
        os.unlink(path)
        return elapsed

    return run


def adapters() -> dict[str, Callable[[TmpFileWriter], Any]]:
    """The adapters measured, by name (``InlineWriter`` first: the others are minus it)."""
    found: dict[str, Callable[[TmpFileWriter], Any]] = {
        "InlineWriter": InlineWriter,
        "ThreadedWriter": ThreadedWriter,
    }
    try:
        from uploadwriter import PipelinedWriter
    except ImportError:  # an older checkout
        return found
    found["PipelinedWriter"] = PipelinedWriter

    def pipelined_1mib(writer: TmpFileWriter) -> Any:
        return PipelinedWriter(writer, max_queued=MiB)

    found["PipelinedWriter, max_queued=1 MiB"] = pipelined_1mib
    return found


# --- running ------------------------------------------------------------------------------------


def _timed(fn: Callable[..., Timing], *args: Any) -> Timing:
    gc.collect()
    gc.disable()
    try:
        return fn(*args)
    finally:
        gc.enable()


def _median(values: Sequence[float]) -> float:
    return statistics.median(values)


def measure(
    rounds: int, round_trips: int, sizes: Sequence[int], backends: Sequence[str], directory: str
) -> dict[str, Any]:
    """Every contender once per round, rotated; medians and per-round paired ratios."""
    floor_fns = floors(backends)
    adapter_fns = adapters()
    contenders: dict[str, Callable[[], Timing]] = {}
    for name, fn in floor_fns.items():
        contenders[name] = lambda fn=fn: fn(round_trips)  # type: ignore[misc]
    chunk_sets = {size: [os.urandom(size)] * CHUNKS.get(size, 1000) for size in sizes}
    for size, chunks in chunk_sets.items():
        for backend in backends:
            for adapter, wrap in adapter_fns.items():
                run = adapter_run(backend, wrap)
                contenders[f"{adapter}|{backend}|{size}"] = (
                    lambda run=run, chunks=chunks: run(chunks, directory)  # type: ignore[misc]
                )
    for fn in contenders.values():  # warm up: threads started, imports, page cache
        fn()
    wall: dict[str, list[float]] = {k: [] for k in contenders}
    cpu: dict[str, list[float]] = {k: [] for k in contenders}
    names = list(contenders)
    for r in range(rounds):
        shift = (r * 7) % len(names)
        for name in names[shift:] + names[:shift]:
            w, c = _timed(contenders[name])
            wall[name].append(w)
            cpu[name].append(c)

    def per_round(clock: dict[str, list[float]], f: Callable[[int], float]) -> list[float]:
        return [f(i) for i in range(rounds)]

    result: dict[str, Any] = {"floors": {}, "adapters": {}}
    for name in floor_fns:
        result["floors"][name] = {
            "wall_us": _median(wall[name]) * 1e6,
            "cpu_us": _median(cpu[name]) * 1e6,
            "x_ping_pong_wall": _median(
                per_round(wall, lambda i, n=name: wall[n][i] / wall[PING_PONG][i])
            ),
            "x_ping_pong_cpu": _median(
                per_round(cpu, lambda i, n=name: cpu[n][i] / cpu[PING_PONG][i])
            ),
        }
    for size in sizes:
        for backend in backends:
            inline = f"InlineWriter|{backend}|{size}"
            for adapter in adapter_fns:
                key = f"{adapter}|{backend}|{size}"
                row: dict[str, Any] = {
                    "adapter": adapter,
                    "backend": backend,
                    "chunk_size": size,
                    "wall_us": _median(wall[key]) * 1e6,
                    "cpu_us": _median(cpu[key]) * 1e6,
                }
                if adapter != "InlineWriter":
                    for clock, times in (("wall", wall), ("cpu", cpu)):
                        handoff = [times[key][i] - times[inline][i] for i in range(rounds)]
                        row[f"handoff_{clock}_us"] = _median(handoff) * 1e6
                        row[f"handoff_x_ping_pong_{clock}"] = _median(
                            [h / times[PING_PONG][i] for i, h in enumerate(handoff)]
                        )
                result["adapters"][key] = row
    return result


def _fmt(x: float) -> str:
    return f"{x:.1f}" if x < 1000 else f"{x:,.0f}"


def print_report(result: dict[str, Any], backends: Sequence[str], sizes: Sequence[int]) -> None:
    print("\n### a round trip to another thread (a call that does nothing)\n")
    print("| contender | µs wall | µs CPU | x ping-pong, wall | x ping-pong, CPU |")
    print("|---|---:|---:|---:|---:|")
    for name, row in result["floors"].items():
        print(
            f"| {name} | {_fmt(row['wall_us'])} | {_fmt(row['cpu_us'])} "
            f"| {row['x_ping_pong_wall']:.2f}x | {row['x_ping_pong_cpu']:.2f}x |"
        )
    print(
        "\n### the handoff per chunk: AsyncUploader + TmpFileWriter behind the adapter, "
        "minus the same behind InlineWriter\n"
    )
    print(
        "| adapter | loop | chunk | µs/chunk wall | µs/chunk CPU | handoff µs wall "
        "| handoff µs CPU | x ping-pong, wall | x ping-pong, CPU |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for size in sizes:
        for backend in backends:
            for row in result["adapters"].values():
                if row["backend"] != backend or row["chunk_size"] != size:
                    continue
                extra = "| — | — | — | — |"
                if "handoff_wall_us" in row:
                    extra = (
                        f"| {_fmt(row['handoff_wall_us'])} | {_fmt(row['handoff_cpu_us'])} "
                        f"| {row['handoff_x_ping_pong_wall']:.2f}x "
                        f"| {row['handoff_x_ping_pong_cpu']:.2f}x |"
                    )
                print(
                    f"| {row['adapter']} | {backend} | {size:,} B | {_fmt(row['wall_us'])} "
                    f"| {_fmt(row['cpu_us'])} {extra}"
                )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.handoff", description=__doc__)
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--round-trips", type=int, default=2000, help="per floor run")
    parser.add_argument(
        "--chunk-sizes",
        type=lambda s: [int(x) for x in s.split(",")],
        default=list(SIZES),
        help="comma-separated chunk sizes in bytes (default 4096,64000,1048576)",
    )
    parser.add_argument("--dir", default=None, help="where the temp files go (default: $TMPDIR)")
    parser.add_argument("--json", default=None, help="also write every figure to this file")
    parser.add_argument("--smoke", action="store_true", help="tiny: checks that it runs")
    args = parser.parse_args(argv)
    if args.smoke:
        args.rounds, args.round_trips = 2, 20
        for size in CHUNKS:
            CHUNKS[size] = 4
    backends = ["asyncio"]
    try:
        import trio  # noqa: F401
    except ImportError:
        print("  (trio is not installed: asyncio only; pip install -e '.[bench]')")
    else:
        backends.append("trio")
    print(
        f"uploadwriter thread handoff: Python {platform.python_version()} on "
        f"{platform.machine()}, {os.cpu_count()} CPUs, {args.rounds} rounds"
    )
    with scratch_dir(args.dir) as directory:
        result = measure(args.rounds, args.round_trips, args.chunk_sizes, backends, directory)
    print_report(result, backends, args.chunk_sizes)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"argv": sys.argv[1:], **result}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
