"""Ctrl-C soak: real SIGINTs at random moments against synchronous uploads.

``python -m bench.interrupts`` runs uploads back to back in a fresh interpreter
while a sender delivers real ``SIGINT`` signals at random moments, and counts
what the lifecycle promise forbids:

- writers whose ``init`` answered ``Ok`` but that were never closed, or closed twice
  (a counting writer, and ``TmpFileWriter`` through its open file descriptors);
- files left behind by uploads that did not complete (``TmpFileWriter``).

The application's own SIGINT handler (installed before the first upload, as a
server would) raises ``KeyboardInterrupt`` only while an upload runs, so the
harness's own bookkeeping is never interrupted; ``uploadwriter`` chains to it.

Senders: ``thread`` (``signal.pthread_kill`` from a thread of the same
process, as the issue that asked for this did: it lands mostly where the main
thread gives up the GIL, i.e. right after system calls) and ``process`` (``kill``
from another process: uniform over time).

    python -m bench.interrupts                        # 2,000 interrupts per writer and sender
    python -m bench.interrupts --interrupts 300 --writer counting --sender thread --json -
"""

from __future__ import annotations

import argparse
import collections
import gc
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Mapping
from types import FrameType, TracebackType
from typing import Any

from uploadwriter import Cancel, Chunk, Done, Ok, Uploader
from uploadwriter._base import raise_error
from uploadwriter._events import check_event
from uploadwriter.reducer import Phase
from uploadwriter.writers import TmpFileOpts, TmpFileWriter

WRITERS = ("counting", "tmpfile")
SENDERS = ("thread", "process")
SIZES = (1, 4096, 16_384, 64_000)


class CountingWriter:
    """Counts, per upload, whether ``init`` answered ``Ok`` and how often it was closed."""

    # Each record is the last thing a callback does before returning, and is
    # made without a call (a subscript store), so that no interrupt can land
    # between the record and the return: on CPython 3.11+ a signal handler
    # runs only at calls, function starts and backward jumps.

    def __init__(self) -> None:
        self.next_id = 0
        self.started: dict[int, bool] = {}
        self.closes: collections.defaultdict[int, int] = collections.defaultdict(int)

    def init(self, opts: object) -> Ok[int]:
        n = self.next_id
        self.next_id = n + 1
        answer = Ok(n)
        self.started[answer.state] = True
        return answer

    def meta(self, state: int) -> Mapping[str, object]:
        return {"id": state}

    def write_chunk(self, data: bytes, state: int) -> Ok[int]:
        return Ok(state)

    def close(self, state: int, reason: object) -> Ok[int]:
        answer = Ok(state)
        self.closes[state] += 1
        return answer


# --- the child: uploads under fire ---------------------------------------------------------

_armed = False  # True while an upload runs: only then does Ctrl-C raise
_stray = 0  # signals that arrived between uploads (ignored)


def _application_handler(signum: int, frame: FrameType | None) -> None:
    global _stray
    if _armed:
        raise KeyboardInterrupt
    _stray += 1


def _where(tb: TracebackType | None) -> str:
    """The innermost frame a traceback went through, short of the signal handlers: where
    the interrupt landed (or, when it was deferred, where it was delivered)."""
    names = []
    while tb is not None:
        code = tb.tb_frame.f_code
        module = tb.tb_frame.f_globals.get("__name__", "?")
        names.append(f"{module}.{getattr(code, 'co_qualname', code.co_name)}")
        tb = tb.tb_next
    while names and (
        names[-1].endswith("._application_handler")
        or ".interrupts." in names[-1]
        or "._interrupts." in names[-1]
    ):
        names.pop()
    return names[-1] if names else "?"


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else -1


def _one_upload(
    writer: Any, opts: object, rng: random.Random, box: list[Uploader[Any, Any]]
) -> None:
    """One upload with a random shape, its uploader put in ``box``; the caller catches."""
    global _armed
    sizes = [rng.choice(SIZES) for _ in range(rng.randrange(0, 7))]
    ending = rng.choices(["done", "cancel", "raise", "expected"], weights=(7, 1, 1, 1))[0]
    expected = sum(sizes) if ending == "expected" else None
    up: Uploader[Any, Any] = Uploader(writer, opts, expected_size=expected)
    box.append(up)
    payload = {n: b"x" * n for n in SIZES}
    try:
        _armed = True
        with up:
            for n in sizes:
                up.send(Chunk(payload[n]))
            if ending == "done":
                up.send(Done())
            elif ending == "cancel":
                up.send(Cancel())
            elif ending == "raise":
                # The application's own failure inside the block, on purpose.
                raise LookupError("the application's own failure")  # noqa: TRY301
    except LookupError:
        pass
    finally:
        _armed = False


def child(writer_name: str, sender: str, interrupts: int, seed: int, gap: float) -> dict[str, Any]:
    """Run uploads until ``interrupts`` of them were interrupted; return the tallies."""
    global _armed
    signal.signal(signal.SIGINT, _application_handler)
    sys.setswitchinterval(0.0002)  # more chances for the sender thread to run
    rng = random.Random(seed)
    directory = tempfile.mkdtemp(prefix="uploadwriter-sigint-")
    counting = CountingWriter()
    writer: Any = counting if writer_name == "counting" else TmpFileWriter()
    opts: object = None if writer_name == "counting" else TmpFileOpts(dir=directory)
    fds_before = _open_fds()

    stop = threading.Event()
    sent = [0]
    process = None
    if sender == "thread":
        main_ident = threading.main_thread().ident
        assert main_ident is not None

        def send_signals() -> None:
            local = random.Random(seed + 1)
            while not stop.wait(local.uniform(0, 2 * gap)):
                signal.pthread_kill(main_ident, signal.SIGINT)
                sent[0] += 1

        thread = threading.Thread(target=send_signals, daemon=True)
        thread.start()
    else:
        script = (
            "import os, random, signal, sys, time\n"
            "pid, gap, seed = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])\n"
            "rng = random.Random(seed)\n"
            "n = 0\n"
            "signal.signal(signal.SIGTERM, lambda *a: (print(n), sys.exit(0)))\n"
            "while True:\n"
            "    time.sleep(rng.uniform(0, 2 * gap))\n"
            "    os.kill(pid, signal.SIGINT)\n"
            "    n += 1\n"
        )
        process = subprocess.Popen(
            [sys.executable, "-c", script, str(os.getpid()), str(gap), str(seed + 1)],
            stdout=subprocess.PIPE,
            text=True,
        )

    uploads = interrupted = completed = 0
    unclosed: collections.Counter[str] = collections.Counter()  # by phase left in
    twice = 0
    interrupted_started = 0  # interrupted uploads whose init answered Ok
    files_left = 0
    leak_where: collections.Counter[str] = collections.Counter()
    interrupt_where: collections.Counter[str] = collections.Counter()
    started = time.perf_counter()
    try:
        while interrupted < interrupts:
            uploads += 1
            # No system call for the counting writer: the sender thread would get
            # the GIL there, and most signals would land in this bookkeeping.
            before_files = set(os.listdir(directory)) if writer_name == "tmpfile" else set()
            first_id = counting.next_id
            where = None
            box: list[Uploader[Any, Any]] = []
            try:
                _one_upload(writer, opts, rng, box)
            except KeyboardInterrupt as exc:
                interrupted += 1
                where = _where(exc.__traceback__)
                caught = exc
                interrupt_where[where] += 1
            leaked = False
            up = box[0] if box else None
            if up is not None and up.phase is Phase.CLOSED and up.failure is None:
                if writer_name == "tmpfile" and up.reason == Done():
                    os.unlink(str(up.meta()["path"]))  # the application consumes it
                completed += up.reason == Done()
            if writer_name == "counting":
                if where is not None and any(
                    n in counting.started for n in range(first_id, counting.next_id)
                ):
                    interrupted_started += 1
                for n in range(first_id, counting.next_id):
                    if n not in counting.started:
                        continue
                    if counting.closes[n] == 0:
                        leaked = True
                        # The phase the driver was left in.
                        unclosed[up.phase.name.lower() if up is not None else "?"] += 1
                    elif counting.closes[n] > 1:
                        leaked = True
                        twice += 1
            else:
                new = set(os.listdir(directory)) - before_files
                if new:
                    leaked = True
                    files_left += len(new)
                    for name in new:
                        os.unlink(os.path.join(directory, name))
            if leaked:
                leak_where[where or "not interrupted"] += 1
                if os.environ.get("UPLOADWRITER_SHOW_LEAKS") and where is not None:
                    traceback.print_exception(caught, file=sys.stderr)
    finally:
        stop.set()
        if process is not None:
            process.terminate()
            out, _ = process.communicate()
            sent[0] = int(out.strip() or 0)
        _armed = False
        time.sleep(0.05)  # let signals in flight arrive while disarmed
    seconds = time.perf_counter() - started
    fds_after = _open_fds()
    os.rmdir(directory)
    return {
        "writer": writer_name,
        "sender": sender,
        "python": sys.version.split()[0],
        "signals_sent": sent[0],
        "uploads": uploads,
        "interrupted_uploads": interrupted,
        "completed_uploads": completed,
        "init_ok": len(counting.started) if writer_name == "counting" else None,
        "interrupted_after_init_ok": interrupted_started if writer_name == "counting" else None,
        "never_closed": sum(unclosed.values()) if writer_name == "counting" else None,
        "never_closed_by_phase": dict(unclosed),
        "closed_twice": twice if writer_name == "counting" else None,
        "files_left": files_left if writer_name == "tmpfile" else None,
        "fds_leaked": fds_after - fds_before,
        "leaks_by_where_interrupted": dict(leak_where.most_common()),
        "interrupts_by_where": dict(interrupt_where.most_common(12)),
        "seconds": round(seconds, 1),
    }


# --- what the protection costs per chunk ---------------------------------------------------


class UnprotectedUploader(Uploader[Any, Any]):
    """``Uploader`` without its Ctrl-C protection: ``send`` and the feed loop without the
    delivery check and with ``write_chunk`` called directly, to measure against."""

    __slots__ = ()

    def send(self, event: Any) -> None:
        check_event(event)
        self._feed(event)

    def _feed(self, event: object) -> None:
        step = self._reduce(event)
        while (call := step.call) is not None:
            writer = self._writer
            state = step.upload.state
            try:
                if isinstance(call, Chunk):
                    answer: object = writer.write_chunk(call.data, state)
                else:
                    answer = writer.close(state, call)
            except BaseException as exc:  # noqa: BLE001 - fed to the reducer (L11)
                answer = exc
            step = self._reduce(answer)
        if step.error is not None:
            raise_error(step)


class NullWriter:
    """Keeps nothing: every callback returns the same ``Ok(None)``."""

    _ok: Ok[None] = Ok(None)

    def init(self, opts: object) -> Ok[None]:
        return self._ok

    def meta(self, state: None) -> Mapping[str, object]:
        return {}

    def write_chunk(self, data: bytes, state: None) -> Ok[None]:
        return self._ok

    def close(self, state: None, reason: object) -> Ok[None]:
        return self._ok


def _timed_upload(
    driver: type[Uploader[Any, Any]], writer: Any, opts: object, chunks: list[bytes]
) -> float:
    gc.collect()
    gc.disable()
    try:
        c0 = time.process_time()
        with driver(writer, opts) as up:
            send = up.send
            for data in chunks:
                send(Chunk(data))
            send(Done())
        elapsed = time.process_time() - c0
    finally:
        gc.enable()
    if isinstance(writer, TmpFileWriter):
        os.unlink(str(up.meta()["path"]))
    return elapsed


def cost(rounds: int, mib: int) -> list[dict[str, Any]]:
    """CPU µs per chunk with and without the protection; the median of per-round ratios."""
    rows = []
    directory = tempfile.mkdtemp(prefix="uploadwriter-cost-")
    cases = [
        ("NullWriter", NullWriter(), None, 64_000, 200_000),
        ("TmpFileWriter", TmpFileWriter(), TmpFileOpts(dir=directory), 4096, 0),
        ("TmpFileWriter", TmpFileWriter(), TmpFileOpts(dir=directory), 64_000, 0),
    ]
    for name, writer, opts, size, count in cases:
        n = count or mib * 2**20 // size
        chunks = [os.urandom(size)] * n
        drivers: dict[str, type[Uploader[Any, Any]]] = {
            "protected": Uploader,
            "unprotected": UnprotectedUploader,
        }
        times: dict[str, list[float]] = {k: [] for k in drivers}
        for driver in drivers.values():  # warm up
            _timed_upload(driver, writer, opts, chunks[: n // 10])
        for r in range(rounds):
            order = list(drivers) if r % 2 == 0 else list(reversed(drivers))
            for key in order:
                times[key].append(_timed_upload(drivers[key], writer, opts, chunks))
        ratios = [a / b for a, b in zip(times["protected"], times["unprotected"], strict=True)]
        rows.append(
            {
                "writer": name,
                "chunk": size,
                "chunks": n,
                "us_per_chunk_protected": statistics.median(times["protected"]) / n * 1e6,
                "us_per_chunk_unprotected": statistics.median(times["unprotected"]) / n * 1e6,
                "ratio": statistics.median(ratios),
                "ratio_quartiles": statistics.quantiles(ratios, n=4)[::2],
            }
        )
    os.rmdir(directory)
    return rows


# --- the parent: one fresh interpreter per run ---------------------------------------------


def run_child(
    writer: str, sender: str, interrupts: int, seed: int, gap: float, cwd: str | None = None
) -> dict[str, Any]:
    """Run :func:`child` in a fresh interpreter and return its tallies."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.interrupts",
            "--child",
            f"--writer={writer}",
            f"--sender={sender}",
            f"--interrupts={interrupts}",
            f"--seed={seed}",
            f"--gap={gap}",
            "--json=-",
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=cwd or os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    ).stdout
    result: dict[str, Any] = json.loads(out)
    return result


def _row(r: dict[str, Any]) -> str:
    bad = (
        f"{r['never_closed']} never closed, {r['closed_twice']} closed twice"
        if r["writer"] == "counting"
        else f"{r['files_left']} files left"
    )
    return (
        f"| {r['writer']} | {r['sender']} | {r['signals_sent']:,} | {r['uploads']:,} "
        f"| {r['interrupted_uploads']:,} | {bad} | {r['fds_leaked']} | {r['seconds']} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.interrupts", description=__doc__)
    parser.add_argument("--interrupts", type=int, default=2_000, help="per run (default 2000)")
    parser.add_argument("--writer", choices=[*WRITERS, "both"], default="both")
    parser.add_argument("--sender", choices=[*SENDERS, "both"], default="both")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--gap", type=float, default=0.0005, help="mean seconds between signals (default 0.0005)"
    )
    parser.add_argument("--json", default=None, help="write the tallies here ('-': stdout only)")
    parser.add_argument(
        "--cost",
        action="store_true",
        help="instead: CPU time per chunk with and without the protection (no signals)",
    )
    parser.add_argument("--rounds", type=int, default=21, help="--cost: rounds (default 21)")
    parser.add_argument("--mib", type=int, default=64, help="--cost: MiB per TmpFileWriter run")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.cost:
        rows = cost(args.rounds, args.mib)
        print("| writer | chunk | µs/chunk protected | µs/chunk unprotected | ratio (IQR) |")
        print("|---|---:|---:|---:|---|")
        for r in rows:
            lo, hi = r["ratio_quartiles"]
            print(
                f"| {r['writer']} | {r['chunk']:,} | {r['us_per_chunk_protected']:.3f} "
                f"| {r['us_per_chunk_unprotected']:.3f} | {r['ratio']:.3f} ({lo:.3f} to {hi:.3f}) |"
            )
        if args.json:
            with open(args.json, "w") as f:
                json.dump(rows, f, indent=2)
        return 0
    if args.child:
        result = child(args.writer, args.sender, args.interrupts, args.seed, args.gap)
        print(json.dumps(result))
        return 0
    writers = WRITERS if args.writer == "both" else (args.writer,)
    senders = SENDERS if args.sender == "both" else (args.sender,)
    results = [
        run_child(w, s, args.interrupts, args.seed, args.gap) for w in writers for s in senders
    ]
    if args.json == "-":
        print(json.dumps(results, indent=2))
        return 0
    print(
        "| writer | sender | SIGINTs sent | uploads | interrupted | broken promises "
        "| fds leaked | seconds |"
    )
    print("|---|---|---:|---:|---:|---|---:|---:|")
    for r in results:
        print(_row(r))
    for r in results:
        if r["leaks_by_where_interrupted"]:
            print(f"\n{r['writer']} / {r['sender']}: where the leaking uploads were interrupted")
            for where, n in r["leaks_by_where_interrupted"].items():
                print(f"  {n:6,}  {where}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
