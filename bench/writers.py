"""The writers' cost per chunk, side by side: ``python -m bench.writers`` (``--smoke``: seconds).

Every contender streams the same chunks, round by round in a rotated order
(noise hits all alike); tables give medians over the rounds, and each ratio is
the median of the per-round ratios to the temp-file writer (paired). Times are
this process's CPU time and the wall clock.

S3 goes to moto's S3 server run in a *separate process* on 127.0.0.1, so
this process's CPU time is the client's alone: the library's work plus
boto3's, not the server's. Its floor is boto3's own ``upload_fileobj`` of the
same bytes with the same part size, one thread (as the writer sends parts):
the difference is what the writer adds.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import io
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from itertools import count
from time import perf_counter, process_time
from typing import Any

from uploadwriter import Chunk, Done, Uploader
from uploadwriter.writers import (
    HashOpts,
    HashWriter,
    MemoryOpts,
    MemoryWriter,
    S3Opts,
    S3Writer,
    TeeWriter,
    TmpFileOpts,
    TmpFileWriter,
)

from .contenders import NullWriter

MiB = 2**20
PART = 8 * MiB
Contender = Callable[[Sequence[bytes]], None]

_keys = count()
_SERVER = """
import sys, time
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
server.stop()
"""


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's S3 server in a child process; yields its endpoint."""
    with subprocess.Popen(
        [sys.executable, "-c", _SERVER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as child:
        assert child.stdin is not None
        assert child.stdout is not None
        try:
            port = int(child.stdout.readline())
            yield f"http://127.0.0.1:{port}"
        finally:
            child.stdin.close()  # the server stops at the end of its input
            child.wait(timeout=30)


def _client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )


def _through(writer: Any, opts: Any) -> Contender:
    def run(chunks: Sequence[bytes]) -> None:
        with Uploader(writer, opts) as up:
            send = up.send
            for data in chunks:
                send(Chunk(data))
            send(Done())
        if hasattr(writer, "discard"):
            writer.discard(up.state)

    return run


def contenders(directory: str, client: Any | None) -> dict[str, Contender]:
    """Every contender by name; the S3 ones only with a client."""

    def bare_sha256(chunks: Sequence[bytes]) -> None:
        h = hashlib.sha256()
        for data in chunks:
            h.update(data)
        h.hexdigest()

    found: dict[str, Contender] = {
        "Uploader + NullWriter (the driver alone)": _through(NullWriter(), None),
        "Uploader + TmpFileWriter": _through(TmpFileWriter(), TmpFileOpts(dir=directory)),
        "bare hashlib.sha256 update loop": bare_sha256,
        "Uploader + HashWriter sha256": _through(HashWriter(), HashOpts("sha256")),
        "Uploader + HashWriter md5": _through(HashWriter(), HashOpts("md5")),
        "Uploader + MemoryWriter": _through(MemoryWriter(), MemoryOpts()),
        "Uploader + TeeWriter(HashWriter, TmpFileWriter)": _through(
            TeeWriter(HashWriter(), TmpFileWriter()), (HashOpts(), TmpFileOpts(dir=directory))
        ),
    }
    if client is not None:
        from boto3.s3.transfer import TransferConfig

        client.create_bucket(Bucket="bench")
        one_thread = TransferConfig(
            multipart_threshold=PART, multipart_chunksize=PART, use_threads=False
        )

        joined: dict[int, bytes] = {}

        def boto3_upload_fileobj(chunks: Sequence[bytes]) -> None:
            # The whole file, joined before the rounds (untimed): boto3 reads it itself.
            body = joined.get(len(chunks))
            if body is None:
                body = joined[len(chunks)] = b"".join(chunks)
            key = f"boto3-{next(_keys)}"
            client.upload_fileobj(io.BytesIO(body), "bench", key, Config=one_thread)
            client.delete_object(Bucket="bench", Key=key)

        def prepare(chunks: Sequence[bytes]) -> None:
            joined.clear()
            joined[len(chunks)] = b"".join(chunks)

        boto3_upload_fileobj.prepare = prepare  # type: ignore[attr-defined]

        def s3_writer(chunks: Sequence[bytes]) -> None:
            key = f"writer-{next(_keys)}"
            _through(S3Writer(), S3Opts("bench", key, client=client, part_size=PART))(chunks)
            client.delete_object(Bucket="bench", Key=key)

        found["boto3 upload_fileobj, 1 thread (floor for S3)"] = boto3_upload_fileobj
        found["Uploader + S3Writer (moto, 8 MiB parts)"] = s3_writer
    return found


REFERENCE = "Uploader + TmpFileWriter"


def measure(
    chunk_size: int, total: int, rounds: int, found: dict[str, Contender]
) -> dict[str, Any]:
    data = os.urandom(chunk_size)
    chunks = [data] * max(1, total // chunk_size)
    for run in found.values():  # warm up
        run(chunks[:8])
        prepare = getattr(run, "prepare", None)
        if prepare is not None:
            prepare(chunks)
    wall: dict[str, list[float]] = {name: [] for name in found}
    cpu: dict[str, list[float]] = {name: [] for name in found}
    names = list(found)
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            gc.collect()
            gc.disable()
            try:
                t0, c0 = perf_counter(), process_time()
                found[name](chunks)
                wall[name].append(perf_counter() - t0)
                cpu[name].append(process_time() - c0)
            finally:
                gc.enable()
    n = len(chunks)

    def ratio(times: dict[str, list[float]], name: str) -> float:
        return statistics.median(a / b for a, b in zip(times[name], times[REFERENCE], strict=True))

    return {
        "chunk_size": chunk_size,
        "chunks": n,
        "cpu_us": {k: statistics.median(v) / n * 1e6 for k, v in cpu.items()},
        "wall_us": {k: statistics.median(v) / n * 1e6 for k, v in wall.items()},
        "cpu_ratio": {k: ratio(cpu, k) for k in names},
        "wall_ratio": {k: ratio(wall, k) for k in names},
    }


def report(results: list[dict[str, Any]]) -> None:
    for res in results:
        print(
            f"\n### chunk {res['chunk_size']:,} B x {res['chunks']:,}"
            f" = {res['chunk_size'] * res['chunks'] / MiB:.0f} MiB per run\n"
        )
        print(
            "| contender | µs/chunk CPU | µs/chunk wall "
            "| x TmpFileWriter CPU | x TmpFileWriter wall |"
        )
        print("|---|---:|---:|---:|---:|")
        for name in res["cpu_us"]:
            print(
                f"| {name} | {res['cpu_us'][name]:.2f} | {res['wall_us'][name]:.2f} "
                f"| {res['cpu_ratio'][name]:.2f}x | {res['wall_ratio'][name]:.2f}x |"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.writers", description=__doc__)
    parser.add_argument("--mib", type=int, default=64, help="MiB per run (default 64)")
    parser.add_argument("--rounds", type=int, default=7, help="rounds per chunk size (default 7)")
    parser.add_argument(
        "--chunk-sizes",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[4096, 64_000, MiB],
        help="comma-separated chunk sizes (default 4096,64000,1048576)",
    )
    parser.add_argument("--no-s3", action="store_true", help="leave out S3 (no moto server)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks that it runs")
    args = parser.parse_args(argv)
    if args.smoke:
        args.mib, args.rounds, args.chunk_sizes = 1, 1, [64_000]
    print(
        f"uploadwriter writers benchmark: Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {args.mib} MiB per run, {args.rounds} rounds"
    )
    with tempfile.TemporaryDirectory(prefix="uploadwriter-bench-") as directory:
        if args.no_s3:
            results = [
                measure(size, args.mib * MiB, args.rounds, contenders(directory, None))
                for size in args.chunk_sizes
            ]
        else:
            with moto_server() as endpoint:
                found = contenders(directory, _client(endpoint))
                results = [
                    measure(size, args.mib * MiB, args.rounds, found) for size in args.chunk_sizes
                ]
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
