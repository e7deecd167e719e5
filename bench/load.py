"""Load: many concurrent uploads against ``uploadwriter serve``, some of them failing on purpose.

``python -m bench.load [--uploads 200] [--max-size MiB] [--seed N] [--smoke]``

Starts ``uploadwriter serve`` (the real command, on 127.0.0.1) in its own
process and runs ``--uploads`` uploads against it all at once, from one
asyncio process: raw ``PUT /upload/NAME`` bodies, ``POST /upload``
multipart bodies (written by hand over a socket, so that a client can stop
or vanish mid-way) and files over the WebSocket channel (``bench.channel_client``),
of sizes spread evenly on a log scale. Of them, 10% disconnect mid-way (the
connection aborted), 5% are too slow (they stop sending half-way: the chunk
timeout), and 5% are too large (over ``--max-file-size``); the rest complete.

Then it checks, and exits 1 with what went wrong if anything did: every
completed upload got its ``200`` (or ``done``) with the sha256 of the bytes
sent, and its file on disk has that sha256; every failed one got the answer it
should (408 or ``chunk_timeout``, 413 or ``too_large``), nothing of it is
left (no file in the directory or in its ``incoming/``, no record), and
``GET /uploads`` lists exactly the completed ones; the server's log holds no
traceback. Figures: throughput (bytes of completed uploads over the run's
wall time), p50 and p99 of the completed uploads' time (connect to answer),
the server's peak RSS growth over its size after a warm-up upload on each
route (sampled every 20 ms, and its ``VmHWM``), and its CPU time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import math
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .channel_client import upload as channel_upload
from .server import CpuClock, _status

KiB = 1024
MiB = 1024 * KiB
SEND = 64 * KiB  # bytes per socket write of the HTTP clients

Route = Literal["put", "post", "ws"]
Fault = Literal["none", "disconnect", "slow", "too_large"]


@dataclass(frozen=True)
class Settings:
    """One load run."""

    uploads: int = 200
    min_size: int = 1 * KiB
    max_size: int = 16 * MiB  # of an upload that completes
    max_file_size: int = 24 * MiB  # the server's limit
    chunk_timeout: float = 2.0
    seed: int = 1
    routes: tuple[Route, ...] = ("put", "post", "ws")
    rss_bound: int = 256 * MiB  # the check: peak RSS growth at most this


@dataclass(frozen=True)
class Plan:
    """One upload: where, how big, what goes wrong, which bytes (``pool[offset:offset+size]``)."""

    index: int
    route: Route
    size: int
    fault: Fault
    offset: int
    cut: int  # bytes sent before the fault (disconnect, slow)

    @property
    def name(self) -> str:
        return f"load-{self.index:04d}.bin"


@dataclass
class Outcome:
    """What the client saw."""

    plan: Plan
    answer: str  # "200", "413", "408", ... or "done", "error:chunk_timeout", "refused:too_large"
    seconds: float
    sent: int = 0  # bytes of the file the client sent
    record: dict[str, Any] | None = None  # the server's record of a completed upload
    problem: str | None = None
    ended: float = math.nan  # when it ended (perf_counter)


@dataclass
class Report:
    """The figures and the problems of one run (no problem: every check passed)."""

    settings: Settings
    outcomes: list[Outcome]
    wall: float  # from the start to the last upload's end (the stalled ones' timeout included)
    span: float  # from the start to the last completed upload's end
    completed_bytes: int
    sent_bytes: int
    rss_before: int
    rss_peak_sampled: int
    rss_hwm: int
    server_cpu: float
    problems: list[str] = field(default_factory=list)

    @property
    def completed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.plan.fault == "none" and o.problem is None]

    def percentile(self, q: float) -> float:
        times = sorted(o.seconds for o in self.completed)
        if not times:
            return math.nan
        return times[min(len(times) - 1, math.ceil(q * len(times)) - 1)]


def plan(settings: Settings) -> list[Plan]:
    """The uploads of a run: faults by count (10%, 5%, 5%), sizes log-uniform.

    Each kind of fault (and the uploads without one) takes the routes in
    turn, so that every route gets its share of each; the order is shuffled.
    """
    rng = random.Random(settings.seed)
    n = settings.uploads
    counts: dict[Fault, int] = {
        "disconnect": round(n * 0.10),
        "slow": round(n * 0.05),
        "too_large": round(n * 0.05),
    }
    counts["none"] = n - sum(counts.values())
    routes = settings.routes
    kinds = [(f, routes[j % len(routes)]) for f, count in counts.items() for j in range(count)]
    rng.shuffle(kinds)
    plans = []
    low, high = math.log(settings.min_size), math.log(settings.max_size)
    for index, (fault, route) in enumerate(kinds):
        size = int(math.exp(rng.uniform(low, high)))
        if fault == "too_large":
            size = settings.max_file_size + rng.randint(1, max(1, settings.max_file_size // 8))
        elif fault in ("disconnect", "slow"):
            size = max(size, 4 * SEND)  # so that there is a middle to stop in
        cut = rng.randint(size // 4, 3 * size // 4)
        offset = rng.randint(0, pool_size(settings) - size)
        plans.append(Plan(index, route, size, fault, offset, cut))
    return plans


def pool_size(settings: Settings) -> int:
    # Every upload is a slice of one pool of random bytes, at its own offset.
    return settings.max_file_size + settings.max_file_size // 8 + 1 + 4 * MiB


# --- the clients --------------------------------------------------------------------


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, Any]]:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionResetError("the server closed the connection without an answer")
    status = int(status_line.split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    body = await reader.readexactly(length)
    return status, json.loads(body) if body else {}


async def http_upload(port: int, plan: Plan, data: memoryview, timeout: float) -> Outcome:
    """One upload over HTTP/1.1, written by hand (so that it can stop, stall or vanish)."""
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        if plan.route == "put":
            head = (
                f"PUT /upload/{plan.name} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Content-Type: application/octet-stream\r\nContent-Length: {plan.size}\r\n\r\n"
            ).encode()
            prefix = suffix = b""
        else:
            boundary = f"loadboundary{plan.index:04d}{plan.offset:x}"
            prefix = (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="{plan.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
            ).encode()
            suffix = f"\r\n--{boundary}--\r\n".encode()
            length = len(prefix) + plan.size + len(suffix)
            head = (
                f"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                f"Content-Length: {length}\r\n\r\n"
            ).encode()
        stop = plan.cut if plan.fault in ("disconnect", "slow") else plan.size
        sent = [0]

        async def send() -> None:
            writer.write(head + prefix)
            for start in range(0, stop, SEND):
                end = min(stop, start + SEND)
                writer.write(data[start:end])
                sent[0] = end
                await writer.drain()
            if stop == plan.size:
                writer.write(suffix)
                await writer.drain()

        sender = asyncio.ensure_future(send())
        if plan.fault == "disconnect":
            await sender
            writer.transport.abort()  # gone: no FIN, no answer awaited
            return Outcome(plan, "disconnected", time.perf_counter() - started, sent[0])
        response = asyncio.ensure_future(_read_response(reader))
        try:
            # An early answer (413) may come while the client is still sending:
            # then it stops. A sender that failed (the server closed the
            # connection after answering) does not hide the answer.
            status, body = await asyncio.wait_for(response, timeout)
        finally:
            for task in (sender, response):
                task.cancel()
                if task.done() and not task.cancelled():
                    task.exception()  # retrieved: no "never retrieved" warning
        seconds = time.perf_counter() - started
        files = body.get("files") if status == 200 else None
        record = files[0] if isinstance(files, list) and len(files) == 1 else None
        return Outcome(plan, str(status), seconds, sent[0], record)
    finally:
        writer.close()


async def ws_upload(port: int, plan: Plan, data: memoryview, timeout: float) -> Outcome:
    """One upload over the WebSocket channel."""
    started = time.perf_counter()

    def read(offset: int, n: int) -> bytes:
        return bytes(data[offset : offset + n])

    async def vanish(ws: Any) -> dict[str, Any]:
        ws.transport.abort()
        return {"type": "disconnected"}

    async def stall(ws: Any) -> None:
        return None  # send nothing more; the server's chunk timeout answers

    url = f"ws://127.0.0.1:{port}/ws"
    if plan.fault == "disconnect":
        last, _, sent = await channel_upload(
            url, plan.name, plan.size, read, stop_after=plan.cut, then=vanish, timeout=timeout
        )
    elif plan.fault == "slow":
        last, _, sent = await channel_upload(
            url, plan.name, plan.size, read, stop_after=plan.cut, then=stall, timeout=timeout
        )
    else:
        last, _, sent = await channel_upload(url, plan.name, plan.size, read, timeout=timeout)
    seconds = time.perf_counter() - started
    kind = last["type"]
    if kind in ("error", "refused"):
        kind = f"{kind}:{last['error']['code']}"
    record = last.get("result") if kind == "done" else None
    return Outcome(plan, kind, seconds, sent, record if isinstance(record, dict) else None)


EXPECTED: dict[tuple[str, Fault], set[str]] = {
    ("http", "none"): {"200"},
    ("http", "slow"): {"408"},
    ("http", "too_large"): {"413"},
    ("http", "disconnect"): {"disconnected"},
    ("ws", "none"): {"done"},
    ("ws", "slow"): {"error:chunk_timeout"},
    ("ws", "too_large"): {"refused:too_large"},
    ("ws", "disconnect"): {"disconnected"},
}


async def run_one(port: int, plan: Plan, pool: memoryview, timeout: float) -> Outcome:
    data = pool[plan.offset : plan.offset + plan.size]
    try:
        if plan.route == "ws":
            outcome = await ws_upload(port, plan, data, timeout)
        else:
            outcome = await http_upload(port, plan, data, timeout)
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as exc:
        return Outcome(plan, type(exc).__name__, math.nan, problem=f"{plan}: {exc!r}")
    outcome.ended = time.perf_counter()
    expected = EXPECTED["ws" if plan.route == "ws" else "http", plan.fault]
    if outcome.answer not in expected:
        outcome.problem = f"{plan}: answered {outcome.answer}, expected {' or '.join(expected)}"
    return outcome


# --- the server -----------------------------------------------------------------------


class ServeProcess:
    """``uploadwriter serve`` in its own process, its log in a file."""

    def __init__(self, settings: Settings, directory: str, log: str) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port: int = sock.getsockname()[1]
        self.directory = directory
        self.log = log
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uploadwriter",
                    "serve",
                    "--dir",
                    directory,
                    "--port",
                    str(self.port),
                    "--max-file-size",
                    str(settings.max_file_size),
                    "--chunk-timeout",
                    str(settings.chunk_timeout),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while not self._listening():
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"uploadwriter serve did not start; see {log}")
            time.sleep(0.05)

    def _listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            return False
        return True

    def get(self, path: str) -> Any:
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=30) as reply:
            return json.load(reply)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def _sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while block := file.read(MiB):
            digest.update(block)
    return digest.hexdigest()


def _leftovers(directory: str) -> list[str]:
    incoming = os.path.join(directory, ".uploadwriter", "incoming")
    return sorted(os.listdir(incoming)) if os.path.isdir(incoming) else []


def run(settings: Settings, directory: str | None = None) -> Report:
    """Run the load against a fresh ``uploadwriter serve``; return the figures and the problems."""
    work = tempfile.mkdtemp(prefix="uploadwriter-load-", dir=directory)
    store = os.path.join(work, "store")
    plans = plan(settings)
    pool = memoryview(os.urandom(pool_size(settings)))
    expected = {
        p.index: hashlib.sha256(pool[p.offset : p.offset + p.size]).hexdigest()
        for p in plans
        if p.fault == "none"
    }
    server = ServeProcess(settings, store, os.path.join(work, "serve.log"))
    try:
        return _run(settings, server, plans, pool, expected)
    finally:
        server.stop()
        shutil.rmtree(work)


def _run(
    settings: Settings,
    server: ServeProcess,
    plans: Sequence[Plan],
    pool: memoryview,
    expected: dict[int, str],
) -> Report:
    pid = server.process.pid
    problems: list[str] = []
    timeout = 60 + 10 * settings.chunk_timeout
    # Warm up (imports, first requests), and remove what that kept.
    warm = [Plan(-1 - i, route, 1000, "none", 0, 0) for i, route in enumerate(settings.routes)]
    warmed = asyncio.run(_all(server.port, warm, pool, timeout))
    problems += [f"warm-up: {outcome.problem}" for outcome in warmed if outcome.problem]
    for record in server.get("/uploads")["files"]:
        os.unlink(record["path"])
    for name in os.listdir(os.path.join(server.directory, ".uploadwriter", "records")):
        os.unlink(os.path.join(server.directory, ".uploadwriter", "records", name))
    rss_before = _status(pid, "VmRSS")
    clock = CpuClock(pid)
    peak = [rss_before]

    async def sample(stop: asyncio.Event) -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _status(pid, "VmRSS"))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.02)

    async def main() -> tuple[list[Outcome], float, float]:
        stop = asyncio.Event()
        sampler = asyncio.ensure_future(sample(stop))
        started = time.perf_counter()
        outcomes = await _all(server.port, plans, pool, timeout)
        wall = time.perf_counter() - started
        stop.set()
        await sampler
        ends = [o.ended for o in outcomes if o.plan.fault == "none" and o.problem is None]
        return outcomes, wall, max(ends, default=started) - started

    outcomes, wall, span = asyncio.run(main())
    server_cpu = clock.elapsed()
    rss_hwm = _status(pid, "VmHWM")
    problems += [o.problem for o in outcomes if o.problem]
    problems += _check(server, outcomes, expected)
    growth = max(rss_hwm, peak[0]) - rss_before
    if growth > settings.rss_bound:
        problems.append(
            f"the server's peak RSS grew by {growth / MiB:.1f} MiB, over the bound of "
            f"{settings.rss_bound / MiB:.0f} MiB"
        )
    with open(server.log, encoding="utf-8", errors="replace") as log:
        tracebacks = log.read().count("Traceback")
    if tracebacks:
        problems.append(f"the server's log holds {tracebacks} traceback(s): see {server.log}")
    sent = sum(o.sent for o in outcomes)
    return Report(
        settings,
        outcomes,
        wall,
        span,
        sum(o.plan.size for o in outcomes if o.plan.fault == "none"),
        sent,
        rss_before,
        peak[0],
        rss_hwm,
        server_cpu,
        problems,
    )


async def _all(port: int, plans: Sequence[Plan], pool: memoryview, timeout: float) -> list[Outcome]:
    return list(await asyncio.gather(*(run_one(port, p, pool, timeout) for p in plans)))


def _check(
    server: ServeProcess, outcomes: Sequence[Outcome], expected: dict[int, str]
) -> list[str]:
    """Every completed upload is whole and listed; nothing of a failed one is left."""
    problems = []
    directory = server.directory
    kept: set[str] = set()
    for outcome in outcomes:
        plan = outcome.plan
        if plan.fault != "none" or outcome.problem:
            continue
        record = outcome.record or {}
        want = expected[plan.index]
        if record.get("sha256") != want or record.get("size") != plan.size:
            problems.append(f"{plan}: the server's record {record} is not sha256 {want}")
            continue
        path = str(record.get("path"))
        if not os.path.isfile(path) or _sha256_file(path) != want:
            problems.append(f"{plan}: the file {path} on disk does not have sha256 {want}")
        kept.add(path)
    # A failed upload's temp file goes as its request ends: give a disconnect
    # that the server is still noticing a few seconds.
    deadline = time.monotonic() + 10
    while _leftovers(directory) and time.monotonic() < deadline:
        time.sleep(0.05)
    if left := _leftovers(directory):
        problems.append(f"files of failed uploads left in incoming/: {left}")
    on_disk = {entry.path for entry in os.scandir(directory) if entry.is_file()}
    if on_disk != kept:
        problems.append(
            f"the directory holds {len(on_disk)} files, {len(kept)} completed: "
            f"extra {sorted(on_disk - kept)[:5]}, missing {sorted(kept - on_disk)[:5]}"
        )
    listed = {record["path"] for record in server.get("/uploads")["files"]}
    if listed != kept:
        problems.append(f"GET /uploads lists {len(listed)} uploads, {len(kept)} completed")
    records = os.listdir(os.path.join(directory, ".uploadwriter", "records"))
    if len(records) != len(kept):
        problems.append(f"{len(records)} records for {len(kept)} completed uploads")
    return problems


# --- the report -----------------------------------------------------------------------


def print_report(report: Report) -> None:
    s = report.settings
    outcomes = report.outcomes
    completed = report.completed
    print(
        f"{s.uploads} concurrent uploads to uploadwriter serve on 127.0.0.1 "
        f"(routes {', '.join(s.routes)} in turn; sizes {s.min_size:,} B to "
        f"{s.max_size / MiB:g} MiB, log-uniform; --max-file-size {s.max_file_size / MiB:g} MiB, "
        f"--chunk-timeout {s.chunk_timeout:g} s; seed {s.seed})"
    )
    counts = Counter((o.plan.fault, o.answer) for o in outcomes)
    print("  outcomes: " + ", ".join(f"{f} -> {a}: {n}" for (f, a), n in sorted(counts.items())))
    rate = report.completed_bytes / report.span / 1e6
    print(
        f"  completed {len(completed)} uploads, {report.completed_bytes / MiB:.0f} MiB, all "
        f"within {report.span:.2f} s of the start: {rate:.0f} MB/s "
        f"({report.sent_bytes / MiB:.0f} MiB sent in all; the run took {report.wall:.1f} s, "
        "the stalled uploads' timeout included)"
    )
    print(
        f"  upload time of the completed ones: p50 {report.percentile(0.5):.2f} s, "
        f"p99 {report.percentile(0.99):.2f} s, max {report.percentile(1.0):.2f} s"
    )
    for route in s.routes:
        times = [o.seconds for o in completed if o.plan.route == route]
        if times:
            print(f"    {route}: {len(times)} uploads, median {statistics.median(times):.2f} s")
    growth = max(report.rss_hwm, report.rss_peak_sampled) - report.rss_before
    print(
        f"  server: RSS {report.rss_before / MiB:.1f} MiB after the warm-up, peak growth "
        f"{growth / MiB:.1f} MiB (VmHWM {report.rss_hwm / MiB:.1f} MiB); "
        f"CPU {report.server_cpu:.2f} s "
        f"({report.server_cpu / (report.sent_bytes / 1e9):.2f} s per GB received)"
    )
    if report.problems:
        print(f"  PROBLEMS ({len(report.problems)}):")
        for problem in report.problems:
            print(f"    - {problem}")
    else:
        print(
            "  checks passed: every completed upload's answer and file have the sha256 sent; "
            "the failed ones got their codes and left nothing; GET /uploads lists the completed"
        )


SMOKE = Settings(
    uploads=60,
    min_size=1 * KiB,
    max_size=512 * KiB,
    max_file_size=1 * MiB,
    chunk_timeout=0.5,
    rss_bound=64 * MiB,
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("--uploads", type=int, default=Settings.uploads)
    parser.add_argument("--max-size", type=float, default=Settings.max_size / MiB, help="MiB")
    parser.add_argument(
        "--max-file-size", type=float, default=Settings.max_file_size / MiB, help="MiB"
    )
    parser.add_argument("--chunk-timeout", type=float, default=Settings.chunk_timeout)
    parser.add_argument("--seed", type=int, default=Settings.seed)
    parser.add_argument("--dir", default=None, help="where the server writes (default: $TMPDIR)")
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE.uploads} small uploads")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    settings = (
        SMOKE
        if args.smoke
        else Settings(
            uploads=args.uploads,
            max_size=int(args.max_size * MiB),
            max_file_size=int(args.max_file_size * MiB),
            chunk_timeout=args.chunk_timeout,
            seed=args.seed,
        )
    )
    report = run(settings, args.dir)
    print_report(report)
    if args.json:
        growth = max(report.rss_hwm, report.rss_peak_sampled) - report.rss_before
        with open(args.json, "w") as out:
            json.dump(
                {
                    "uploads": settings.uploads,
                    "completed": len(report.completed),
                    "completed_bytes": report.completed_bytes,
                    "wall": report.wall,
                    "span": report.span,
                    "mb_per_s": report.completed_bytes / report.span / 1e6,
                    "p50": report.percentile(0.5),
                    "p99": report.percentile(0.99),
                    "rss_growth": growth,
                    "server_cpu": report.server_cpu,
                    "problems": report.problems,
                },
                out,
                indent=2,
            )
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
