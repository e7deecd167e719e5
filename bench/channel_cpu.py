"""The WebSocket channel's own CPU per chunk, in one process: ``python -m bench.channel_cpu``.

No transport: a fake client drives :class:`~uploadwriter.web.UploadChannel`
(the ASGI app) directly with prebuilt messages (``hello``, ``select``,
``start``, then ``--size`` bytes in binary frames of ``--chunk-size``), keeping
at most ``--window`` chunks unacknowledged as a real client does: ``receive()``
waits for an ``ack`` when the window is full, and returns at once otherwise.
The writer keeps nothing (a synchronous one through ``InlineWriter``, as the
library's server app uses), so what is measured is the channel: the
connection, the protocol machine, the uploads layer, the async driver, and the
fake client's few lines.

With ``--against REV`` (a git revision, e.g. ``main``), the package as it is at
REV is exported to a temporary directory and measured side by side with this
worktree's: each round runs one file per side, each in a fresh interpreter,
sides alternating; CPU time (``time.process_time``) of the upload alone,
imports and a warm-up upload excluded. The table gives medians.

    python -m bench.channel_cpu                          # this worktree only
    python -m bench.channel_cpu --against main --rounds 15
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _NullWriter:
    """A synchronous writer that keeps nothing (its state is the size)."""

    def __init__(self) -> None:
        from uploadwriter import Ok  # the package measured, imported once started

        self.ok = Ok

    def init(self, opts: None) -> Any:
        return self.ok(0)

    def meta(self, state: int) -> Mapping[str, object]:
        return {"size": state}

    def write_chunk(self, data: bytes, state: int) -> Any:
        return self.ok(state + len(data))

    def close(self, state: int, reason: Any) -> Any:
        return self.ok(state)


def _app(window: int) -> Any:
    from uploadwriter import InlineWriter
    from uploadwriter.uploads import UploadConfig
    from uploadwriter.web import UploadChannel

    def writer(name: str, entry: Any) -> tuple[Any, None]:
        return InlineWriter(_NullWriter()), None

    config = UploadConfig(
        "files", accept="any", max_file_size=1 << 40, max_entries=10, writer=writer
    )

    def consume(meta: Mapping[str, object], entry: Any) -> object:
        return {"size": entry.client_size}

    return UploadChannel(config, consume=consume, window=window)


async def _upload(app: Any, size: int, chunk_size: int, window: int, arrive: int = 0) -> None:
    """One file through the channel, from ``websocket.connect`` to the client's close.

    ``arrive``: a chunk is received after an event-loop iteration of its own
    once every ``arrive`` chunks (0: only when the window is full).
    """
    ref = "f1"
    chunk = bytes([len(ref)]) + ref.encode() + b"x" * chunk_size
    count, last = divmod(size, chunk_size)
    frames = [chunk] * count
    if last:
        frames.append(chunk[: 2 + len(ref) - 1 + last])
    announced = {"ref": ref, "name": "a.bin", "size": size, "type": ""}
    texts: deque[dict[str, Any]] = deque(
        [
            {"type": "websocket.connect"},
            {"type": "websocket.receive", "text": json.dumps({"type": "hello", "versions": [1]})},
            {
                "type": "websocket.receive",
                "text": json.dumps({"type": "select", "files": [announced]}),
            },
            {"type": "websocket.receive", "text": json.dumps({"type": "start", "ref": ref})},
        ]
    )
    chunks = deque({"type": "websocket.receive", "bytes": frame} for frame in frames)
    state = {"in_flight": 0, "done": False, "closed": False, "received": 0}
    wake = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if texts:
            return texts.popleft()
        while True:
            if chunks and state["in_flight"] < window:
                state["in_flight"] += 1
                state["received"] += 1
                if arrive and state["received"] % arrive == 0:
                    await asyncio.sleep(0)  # it came with the transport's next read
                return chunks.popleft()
            if state["done"] or state["closed"]:
                return {"type": "websocket.disconnect", "code": 1000}
            wake.clear()
            await wake.wait()

    async def send(message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "websocket.send":
            text = message["text"]
            if text.startswith('{"type":"ack"'):
                state["in_flight"] -= 1
                wake.set()
            elif text.startswith('{"type":"done"'):
                state["done"] = True
                wake.set()
            elif text.startswith(('{"type":"error"', '{"type":"failed"')):
                raise RuntimeError(text)
        elif kind == "websocket.close":
            state["closed"] = True
            wake.set()

    await app({"type": "websocket", "headers": []}, receive, send)
    if not state["done"]:
        raise RuntimeError("the upload did not complete")


def _worker(size: int, chunk_size: int, window: int, arrive: int) -> None:
    """Run in a fresh interpreter: a warm-up upload, then one measured; print CPU seconds."""
    import uploadwriter

    app = _app(window)
    asyncio.run(_upload(app, chunk_size * 16, chunk_size, window, arrive))
    start = time.process_time()
    asyncio.run(_upload(app, size, chunk_size, window, arrive))
    cpu = time.process_time() - start
    print(json.dumps({"cpu": cpu, "package": os.path.dirname(uploadwriter.__file__)}))


def _export(rev: str, into: str) -> None:
    archive = subprocess.run(
        ["git", "-C", _ROOT, "archive", rev, "uploadwriter"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", into], input=archive, check=True)


def _run(pythonpath: str | None, args: argparse.Namespace) -> tuple[float, str]:
    env = dict(os.environ)
    # The package at pythonpath comes before the worktree's editable install.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (pythonpath, _ROOT) if p)
    out = subprocess.run(
        [sys.executable, "-m", "bench.channel_cpu", "--worker",
         "--size", str(args.size), "--chunk-size", str(args.chunk_size),
         "--window", str(args.window), "--arrive", str(args.arrive)],
        env=env, cwd=pythonpath or _ROOT, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    result = json.loads(out.strip().splitlines()[-1])
    return float(result["cpu"]), str(result["package"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.channel_cpu", description=__doc__)
    parser.add_argument("--size", type=int, default=256_000_000)
    parser.add_argument("--chunk-size", type=int, default=64_000)
    parser.add_argument("--window", type=int, default=8)
    parser.add_argument(
        "--arrive",
        type=int,
        default=0,
        help="a loop iteration before every N-th chunk (0: only when the window is full)",
    )
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--against", metavar="REV", help="measure the package at REV beside")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args.size, args.chunk_size, args.window, args.arrive)
        return
    chunks = -(-args.size // args.chunk_size)
    with tempfile.TemporaryDirectory() as tmp:
        sides: dict[str, str | None] = {"this worktree": None}
        if args.against:
            _export(args.against, tmp)
            sides = {args.against: tmp, "this worktree": None}
        cpu: dict[str, list[float]] = {name: [] for name in sides}
        packages: dict[str, str] = {}
        for _ in range(args.rounds):
            for name, path in sides.items():
                seconds, packages[name] = _run(path, args)
                cpu[name].append(seconds)
    print(
        f"size={args.size} chunk_size={args.chunk_size} ({chunks} chunks) window={args.window} "
        f"arrive={args.arrive} rounds={args.rounds}, CPU time, medians"
    )
    for name, package in packages.items():
        print(f"  {name}: {package}")
    print("| package | µs per chunk | min-max | CPU s/GB | / first |")
    print("|---|---:|---:|---:|---:|")
    first = None
    for name, values in cpu.items():
        median = statistics.median(values)
        first = first or median
        print(
            f"| {name} | {median / chunks * 1e6:.1f} | {min(values) / chunks * 1e6:.1f}-"
            f"{max(values) / chunks * 1e6:.1f} | {median / args.size * 1e9:.2f} "
            f"| {median / first:.2f} |"
        )


if __name__ == "__main__":
    main()
