"""The per-chunk path alone, to run under a profiler.

    pyinstrument -m bench.profile              # where the time goes, per call
    python -m bench.profile --chunks 1000000   # or under py-spy, perf, ...

Streams ``--chunks`` chunks through ``Uploader`` and a writer that does
nothing, so what remains is the library's own cost: building the ``Chunk``,
two reductions, the driver's loop.
"""

from __future__ import annotations

import argparse
from time import perf_counter

from uploadwriter import Chunk, Done, Uploader

from .contenders import NullWriter


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("--chunks", type=int, default=300_000)
    parser.add_argument("--size", type=int, default=64_000)
    args = parser.parse_args(argv)
    data = b"x" * args.size
    t0 = perf_counter()
    with Uploader(NullWriter(), None) as up:
        send = up.send
        for _ in range(args.chunks):
            send(Chunk(data))
        send(Done())
    elapsed = perf_counter() - t0
    print(f"{args.chunks:,} chunks: {elapsed / args.chunks * 1e9:,.0f} ns per chunk")


if __name__ == "__main__":
    main()
