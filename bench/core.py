"""The library's own cost per chunk, compiled (mypyc) and pure Python, side by side.

    python -m bench.core                          # this interpreter's uploadwriter
    python -m bench.core --python .ci-venv-mypyc/bin/python   # an install of the mypyc wheel

Each round runs the same measurement in two fresh interpreters, one per
variant (``UPLOADWRITER_PURE_PYTHON=1`` for the pure one), in a rotated order.
An interpreter measures, in CPU time:

* the library's overhead per chunk: ``Uploader`` with a writer that does
  nothing (``Chunk``, two reductions, the driver's loop), and its parts;
* ``Uploader`` + ``TmpFileWriter`` against a bare ``open``/``write`` loop and a
  loop with the same buffer, at 64 000-byte and 4 KiB chunks, each ratio the
  median of ratios paired within its interpreter.

The tables give medians over rounds. The package is imported from where the
interpreter finds it (its site-packages for an installed wheel), not from this checkout.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from time import process_time
from typing import Any

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# --- in the measuring interpreter --------------------------------------------------------------


def _cpu(fn: Callable[[], object], reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        gc.collect()
        gc.disable()
        try:
            c0 = process_time()
            fn()
            best = min(best, process_time() - c0)
        finally:
            gc.enable()
    return best


def measure(chunks: int, mib: int, reps: int) -> dict[str, Any]:
    """Everything one interpreter measures (imports uploadwriter from wherever it finds it)."""
    from uploadwriter import Chunk, Ok, Uploader, _variant
    from uploadwriter.reducer import reduce, start

    from .contenders import NullWriter, bare_loop, bare_loop_buffered, uploader

    data = b"x" * 64_000
    ok: Ok[None] = Ok(None)

    def make_chunks() -> None:
        for _ in range(chunks):
            Chunk(data)

    def reductions() -> None:
        upload = reduce(start(), ok).upload
        chunk = Chunk(data)
        for _ in range(chunks):
            upload = reduce(reduce(upload, chunk).upload, ok).upload

    def sends() -> None:
        with Uploader(NullWriter(), None) as up:
            send = up.send
            for _ in range(chunks):
                send(Chunk(data))

    def empty() -> None:
        for _ in range(chunks):
            pass

    loop = _cpu(empty, reps)
    result: dict[str, Any] = {
        "compiled": _variant.compiled(),
        "python": platform.python_version(),
        "ns_overhead": (_cpu(sends, reps) - loop) / chunks * 1e9,
        "ns_chunk": (_cpu(make_chunks, reps) - loop) / chunks * 1e9,
        "ns_two_reductions": (_cpu(reductions, reps) - loop) / chunks * 1e9,
    }
    contenders = {"bare": bare_loop, "buffered": bare_loop_buffered, "uploader": uploader}
    with tempfile.TemporaryDirectory(prefix="uploadwriter-bench-") as directory:
        for size in (64_000, 4096):
            payload = [os.urandom(size)] * max(1, mib * 2**20 // size)
            for fn in contenders.values():
                fn(payload[:64], directory)  # warm up
            times: dict[str, list[float]] = {name: [] for name in contenders}
            names = list(contenders)
            for r in range(reps):
                for name in names[r % 3 :] + names[: r % 3]:
                    gc.collect()
                    gc.disable()
                    try:
                        times[name].append(contenders[name](payload, directory)[1])
                    finally:
                        gc.enable()
            for base in ("bare", "buffered"):
                result[f"x_{base}_{size}"] = statistics.median(
                    u / b for u, b in zip(times["uploader"], times[base], strict=True)
                )
    return result


# --- the parent: rounds of fresh interpreters --------------------------------------------------


def _run(python: str, pure: bool, args: argparse.Namespace) -> dict[str, Any]:
    env = dict(os.environ)
    env.pop("UPLOADWRITER_PURE_PYTHON", None)
    if pure:
        env["UPLOADWRITER_PURE_PYTHON"] = "1"
    code = (
        f"import sys, json; sys.path.append({HERE!r}); from bench.core import measure; "
        f"print(json.dumps(measure({args.chunks}, {args.mib}, {args.reps})))"
    )
    # Run from an empty directory: the checkout is only appended to the path (for
    # bench/), so the uploadwriter measured is the interpreter's own install.
    with tempfile.TemporaryDirectory() as cwd:
        out = subprocess.run(
            [python, "-c", code], env=env, cwd=cwd, check=True, capture_output=True, text=True
        ).stdout
    result: dict[str, Any] = json.loads(out)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.core", description=__doc__)
    parser.add_argument("--python", default=sys.executable, help="the interpreter to measure")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--chunks", type=int, default=200_000, help="for the overhead")
    parser.add_argument("--mib", type=int, default=64, help="MiB per file-writing run")
    parser.add_argument("--reps", type=int, default=5, help="repetitions in an interpreter")
    parser.add_argument("--json", default=None)
    parser.add_argument("--smoke", action="store_true", help="tiny: checks that it runs")
    args = parser.parse_args(argv)
    if args.smoke:
        args.rounds, args.chunks, args.mib, args.reps = 1, 2000, 1, 1
    runs: dict[str, list[dict[str, Any]]] = {"compiled": [], "pure": []}
    order = [False, True]
    for r in range(args.rounds):
        for pure in order[r % 2 :] + order[: r % 2]:
            result = _run(args.python, pure, args)
            runs["pure" if pure else "compiled"].append(result)
    if not any(run["compiled"] for run in runs["compiled"]):
        print(f"  ({args.python} has no compiled modules: both columns are pure Python)")
    keys = [
        ("ns_overhead", "library overhead per chunk, ns (target ≤ 500)", "{:.0f}"),
        ("ns_chunk", "  of which Chunk(data), ns", "{:.0f}"),
        ("ns_two_reductions", "  of which two reductions, ns", "{:.0f}"),
        ("x_bare_64000", "Uploader + TmpFileWriter / bare loop, 64 000 B (≤ 1.03)", "{:.3f}x"),
        ("x_buffered_64000", "  / loop with the same buffer, 64 000 B (≤ 1.02)", "{:.3f}x"),
        ("x_bare_4096", "Uploader + TmpFileWriter / bare loop, 4 KiB", "{:.3f}x"),
        ("x_buffered_4096", "  / loop with the same buffer, 4 KiB", "{:.3f}x"),
    ]
    python = runs["pure"][0]["python"]
    print(
        f"\n### the library's own cost: mypyc-compiled and pure Python (Python {python}, "
        f"{args.rounds} rounds, CPU time, medians)\n"
    )
    print("| figure | compiled | pure Python |")
    print("|---|---:|---:|")
    summary: dict[str, Any] = {}
    for key, label, fmt in keys:
        row = {v: statistics.median(run[key] for run in runs[v]) for v in runs}
        summary[key] = row
        print(f"| {label} | {fmt.format(row['compiled'])} | {fmt.format(row['pure'])} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"runs": runs, "medians": summary}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
