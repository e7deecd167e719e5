"""Which push parser for ``multipart/form-data``: python-multipart or ``multipart``'s sans-IO one.

``python -m bench.multipart_parsers [--size MiB] [--rounds N] [--smoke]``

Both parsers get the same body (a text field, then one file part of random
bytes, 256 MiB by default), cut into the same chunks, round by round in a
rotated order; each hands every piece of the file part to the same sink as a
``bytes`` object (what a ``Chunk`` needs). The figure is CPU time
(``time.process_time``): the stable one on a shared machine. Ratios are the
medians of the per-round ratios to the fastest contender's time in that round.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
from collections.abc import Callable, Sequence
from time import process_time

MiB = 1024 * 1024
BOUNDARY = b"----uploadwriterBenchBoundary7MA4YWxkTrZu0gW"


def payload(kind: str, size: int) -> bytes:
    """``size`` bytes of a file: random ("binary"), or CRLF lines, some starting "--" ("text")."""
    if kind == "binary":
        return os.urandom(size)  # random bytes hold a CR every 256 bytes or so
    # The hard case for a boundary search: a CR LF every 64 bytes, and lines
    # that start like a delimiter ("\r\n--") without being one.
    line = b"-- a line of text, as in a CSV file or a diff, ended by CR LF ----\r\n"
    lines = (line + line[2:].replace(b"--", b"ab", 1)) * (size // (2 * len(line) - 2) + 1)
    return lines[:size]


def body(kind: str, size: int) -> bytes:
    """A multipart body: a text field, then one file part of ``size`` bytes of ``kind``."""
    return b"".join(
        [
            b"--" + BOUNDARY + b"\r\n",
            b'Content-Disposition: form-data; name="note"\r\n\r\n',
            b"hello\r\n",
            b"--" + BOUNDARY + b"\r\n",
            b'Content-Disposition: form-data; name="file"; filename="big.bin"\r\n',
            b"Content-Type: application/octet-stream\r\n\r\n",
            payload(kind, size),
            b"\r\n--" + BOUNDARY + b"--\r\n",
        ]
    )


class Sink:
    """Where file data goes: counts bytes, keeps nothing (the same for both parsers)."""

    def __init__(self) -> None:
        self.size = 0
        self.parts = 0

    def data(self, piece: bytes) -> None:
        self.size += len(piece)


def run_multipart(chunks: Sequence[bytes], sink: Sink) -> None:
    """``multipart.PushMultipartParser``: events out of ``parse(chunk)``."""
    from multipart import PushMultipartParser

    parser = PushMultipartParser(BOUNDARY)
    file = False
    data = sink.data
    for chunk in chunks:
        for event in parser.parse(chunk):
            if type(event) is bytes:
                if file:
                    data(event)
            elif event is None:
                sink.parts += 1
            else:
                file = event.filename is not None
    parser.close()


def run_python_multipart(chunks: Sequence[bytes], sink: Sink) -> None:
    """``python_multipart.MultipartParser``: callbacks from ``write(chunk)``."""
    from python_multipart import MultipartParser

    headers: list[bytes] = []
    state = {"file": False}
    data = sink.data

    def on_header_value(buf: bytes, start: int, end: int) -> None:
        headers.append(buf[start:end])

    def on_headers_finished() -> None:
        state["file"] = any(b"filename=" in h for h in headers)
        headers.clear()

    def on_part_data(buf: bytes, start: int, end: int) -> None:
        if state["file"]:
            # Whole chunks are passed on as they are; a piece must be copied.
            data(buf if start == 0 and end == len(buf) else buf[start:end])

    def on_part_end() -> None:
        sink.parts += 1

    parser = MultipartParser(
        BOUNDARY,
        {
            "on_header_value": on_header_value,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    for chunk in chunks:
        parser.write(chunk)
    parser.finalize()


CONTENDERS: dict[str, Callable[[Sequence[bytes], Sink], None]] = {
    "multipart (PushMultipartParser)": run_multipart,
    "python-multipart (MultipartParser)": run_python_multipart,
}


def measure(kind: str, chunk_size: int, size: int, rounds: int) -> None:
    whole = body(kind, size)
    chunks = [whole[i : i + chunk_size] for i in range(0, len(whole), chunk_size)]
    names = list(CONTENDERS)
    cpu: dict[str, list[float]] = {name: [] for name in names}
    for name in names:  # warm up and check that each parser finds the whole file
        sink = Sink()
        CONTENDERS[name](chunks, sink)
        assert (sink.size, sink.parts) == (size, 2), (name, sink.size, sink.parts)
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            sink = Sink()
            gc.collect()
            gc.disable()
            c0 = process_time()
            CONTENDERS[name](chunks, sink)
            cpu[name].append(process_time() - c0)
            gc.enable()
    best = min(names, key=lambda n: statistics.median(cpu[n]))
    gigabytes = size / 1e9
    print(
        f"\n{kind} file part of {size / MiB:g} MiB, chunks of {chunk_size:,} bytes, {rounds} rounds"
    )
    print(f"  {'parser':<36} {'CPU s (median)':>15} {'CPU s/GB':>9} {'x fastest':>10}")
    for name in names:
        ratio = statistics.median(a / b for a, b in zip(cpu[name], cpu[best], strict=True))
        median = statistics.median(cpu[name])
        print(f"  {name:<36} {median:>15.3f} {median / gigabytes:>9.3f} {ratio:>10.2f}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="file part size in MiB (256)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="1 MiB, 1 round: checks it runs")
    args = parser.parse_args(argv)
    size, rounds = (MiB, 1) if args.smoke else (args.size * MiB, args.rounds)
    import multipart
    import python_multipart

    print(
        f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; "
        f"multipart {multipart.__version__}, python-multipart {python_multipart.__version__}"
    )
    for kind in ("binary", "text"):
        for chunk_size in (4 * 1024, 64 * 1024, 256 * 1024):
            measure(kind, chunk_size, size, rounds)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
