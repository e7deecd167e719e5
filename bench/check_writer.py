"""What the testing kit costs and finds: ``python -m bench.check_writer`` (``--smoke``: tiny).

1. How long ``check_writer`` takes at its default settings (100 generated
   uploads after the fixed ones), for a simple in-memory writer and for
   ``TmpFileWriter`` (with ``sizes=[BUFFER_SIZE, 6 MiB]`` too): the median
   of several runs in one process (imports done), wall clock; and the whole
   ``uploadwriter check`` command, a new process each time.
2. How often a writer that removes its file on ``Cancel()`` but not on
   ``Error(...)`` is flagged: by ``check_writer`` at 1 to 10 examples, and, for
   comparison, by a random search alone (``@given(event_streams())`` with
   ``replay``, what the kit did before its fixed uploads) at 10 and 60 examples.

No example database is used (``database=None``): each run searches afresh.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs
from hypothesis import given, settings

from uploadwriter import Cancel, CloseReason, Err, Ok
from uploadwriter.testing import (
    EventStream,
    WriterLawError,
    check_writer,
    default_settings,
    event_streams,
    files_in,
    replay,
)
from uploadwriter.writers import TmpFileOpts, TmpFileWriter
from uploadwriter.writers._tmpfile import BUFFER_SIZE

MiB = 2**20


@attrs.frozen
class HashState:
    hasher: Any
    size: int = 0


class Sha256Writer:
    """The README's simple writer: a SHA-256 of the upload, in memory."""

    def init(self, opts: Mapping[str, object]) -> Ok[HashState] | Err[None]:
        return Ok(HashState(hashlib.sha256()))

    def meta(self, state: HashState) -> Mapping[str, object]:
        return {"sha256": state.hasher.hexdigest(), "size": state.size}

    def write_chunk(self, data: bytes, state: HashState) -> Ok[HashState] | Err[HashState]:
        hasher = state.hasher.copy()
        hasher.update(data)
        return Ok(HashState(hasher, state.size + len(data)))

    def close(self, state: HashState, reason: CloseReason) -> Ok[HashState] | Err[HashState]:
        return Ok(state)


@attrs.frozen
class FileState:
    path: str
    fd: int


class ForgetsOnErrorWriter:
    """Removes its file on Cancel() but forgets to on Error(...): issue 14's bug."""

    def init(self, opts: Mapping[str, str]) -> Ok[FileState] | Err[None]:
        fd, path = tempfile.mkstemp(dir=opts["dir"])
        return Ok(FileState(path, fd))

    def meta(self, state: FileState) -> Mapping[str, object]:
        return {"path": state.path}

    def write_chunk(self, data: bytes, state: FileState) -> Ok[FileState] | Err[FileState]:
        os.write(state.fd, data)
        return Ok(state)

    def close(self, state: FileState, reason: CloseReason) -> Ok[FileState] | Err[FileState]:
        os.close(state.fd)
        if reason == Cancel():
            os.remove(state.path)
        return Ok(state)

    def discard(self, state: FileState) -> None:
        os.remove(state.path)


def _cpu() -> float:
    """CPU seconds of this process and its finished children: steadier than the wall
    clock on a machine that others share."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _median_seconds(run: Callable[[], object], rounds: int) -> dict[str, float]:
    wall, cpu = [], []
    for _ in range(rounds):
        start, start_cpu = time.perf_counter(), _cpu()
        run()
        wall.append(time.perf_counter() - start)
        cpu.append(_cpu() - start_cpu)
    return {
        "median_s": statistics.median(wall),
        "min_s": min(wall),
        "max_s": max(wall),
        "median_cpu_s": statistics.median(cpu),
    }


def speed(rounds: int, examples: int | None) -> dict[str, Any]:
    chosen = settings(default_settings(), database=None)
    if examples is not None:
        chosen = settings(chosen, max_examples=examples)
    results: dict[str, Any] = {}
    results["Sha256Writer (in memory)"] = _median_seconds(
        lambda: check_writer(Sha256Writer(), {}, settings=chosen), rounds
    )
    with tempfile.TemporaryDirectory() as directory:
        opts = TmpFileOpts(dir=directory)
        results["TmpFileWriter"] = _median_seconds(
            lambda: check_writer(TmpFileWriter(), opts, settings=chosen), rounds
        )
        sizes = [BUFFER_SIZE, 6 * MiB] if examples is None else [BUFFER_SIZE]
        results[f"TmpFileWriter, sizes={sizes}"] = _median_seconds(
            lambda: check_writer(TmpFileWriter(), opts, settings=chosen, sizes=sizes), rounds
        )
    command = [sys.executable, "-m", "uploadwriter", "check", "uploadwriter.writers:TmpFileWriter"]
    if examples is not None:
        command += ["--max-examples", str(examples)]
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "XDG_CACHE_HOME": cache}
        results["uploadwriter check ...:TmpFileWriter (a new process)"] = _median_seconds(
            lambda: subprocess.run(command, check=True, capture_output=True, env=env), rounds
        )
    return results


def _flagged_by_check(runs: int, examples: Callable[[int], int]) -> int:
    flagged = 0
    for run in range(runs):
        with tempfile.TemporaryDirectory() as directory:
            try:
                check_writer(
                    ForgetsOnErrorWriter(),
                    {"dir": directory},
                    settings=settings(
                        default_settings(), max_examples=examples(run), database=None
                    ),
                    leaks=functools.partial(files_in, directory),
                )
            except WriterLawError:
                flagged += 1
    return flagged


def _search_alone(directory: str, examples: int) -> Callable[[], None]:
    @settings(default_settings(), max_examples=examples, database=None)
    @given(event_streams())
    def search(stream: EventStream) -> None:
        leaks = functools.partial(files_in, directory)
        replay(ForgetsOnErrorWriter(), {"dir": directory}, stream, leaks=leaks)

    return search


def _flagged_by_search_alone(runs: int, examples: int) -> int:
    flagged = 0
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as directory:
            try:
                _search_alone(directory, examples)()
            except WriterLawError:
                flagged += 1
    return flagged


def detection(runs: int) -> dict[str, Any]:
    return {
        "runs": runs,
        "check_writer, max_examples 1..10": _flagged_by_check(runs, lambda r: 1 + r % 10),
        "random search alone, 10 examples": _flagged_by_search_alone(runs, 10),
        "random search alone, 60 examples": _flagged_by_search_alone(runs, 60),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a few seconds: checks that it runs")
    parser.add_argument("--rounds", type=int, default=7, help="timed runs of each (median)")
    parser.add_argument("--runs", type=int, default=100, help="runs of the buggy writer")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    rounds, runs, examples = (1, 3, 5) if args.smoke else (args.rounds, args.runs, None)
    figures = {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average_before": os.getloadavg(),
        },
        "seconds": speed(rounds, examples),
        "flagged": detection(runs),
    }
    figures["machine"]["load_average_after"] = os.getloadavg()
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    machine = figures["machine"]
    print(f"Python {machine['python']} on {machine['platform']}, {machine['cpus']} CPUs")
    print(f"load average before {machine['load_average_before']}, after {os.getloadavg()}")
    print(f"\ncheck_writer, default settings, median of {rounds} runs: wall (min-max), CPU")
    for name, t in figures["seconds"].items():
        print(
            f"  {name:56} {t['median_s']:5.2f} s ({t['min_s']:.2f}-{t['max_s']:.2f})"
            f"  {t['median_cpu_s']:5.2f} s CPU"
        )
    print(f"\nA writer that forgets its file on Error(...), flagged in {runs} runs:")
    for name, count in figures["flagged"].items():
        if name != "runs":
            print(f"  {name:40} {count}/{runs}")


if __name__ == "__main__":
    main()
