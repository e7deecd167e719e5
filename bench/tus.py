"""tus against PUT /upload on the same server, and the cost of durability checkpoints.

``python -m bench.tus [--size MiB] [--rounds N] [--smoke]``

Each contender is an ``uploadwriter serve`` process (uvicorn, httptools) on
its own directory; curl uploads the same file to each in turn, round by round
in a rotated order, one upload at a time:

* ``PUT /upload/NAME``: the raw body, hashed (sha256) while it streams;
* tus: ``POST /files/`` then one ``PATCH`` with the whole file, hashed once
  at completion (``--tus-checkpoint-every`` N: a suspend, a record saved and
  a resume every N bytes; "none" is a checkpoint-free PATCH, N past the size).

Figures, from ``/proc`` for the server process alone: CPU seconds (user +
system) per GB uploaded, the stable figure on a shared machine (medians over
rounds), and wall time as curl saw it (create + PATCH for tus).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence

from .server import _cpu, _free_port

MiB = 1024 * 1024
KiB = 1024

#: name -> checkpoint bytes for tus (None: PUT /upload)
CONTENDERS: dict[str, int | None] = {
    "PUT /upload/NAME (raw, sha256 while streaming)": None,
    "tus PATCH, no checkpoint": 2**40,
    "tus PATCH, checkpoint every 64 MiB": 64 * MiB,
    "tus PATCH, checkpoint every 8 MiB (default)": 8 * MiB,
    "tus PATCH, checkpoint every 1 MiB": MiB,
    "tus PATCH, checkpoint every 256 KiB": 256 * KiB,
}


class Server:
    """``uploadwriter serve`` in a process of its own."""

    def __init__(self, directory: str, checkpoint: int | None) -> None:
        self.port = _free_port()
        args = [sys.executable, "-m", "uploadwriter", "serve", "--dir", directory]
        args += ["--port", str(self.port), "--max-file-size", str(2**40)]
        if checkpoint is not None:
            args += ["--tus-checkpoint-every", str(checkpoint)]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while subprocess.run(
            ["curl", "-s", "-o", "/dev/null", f"{self.url}/uploads"], check=False
        ).returncode:
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def upload(server: Server, tus: bool, path: str, size: int) -> tuple[float, float]:
    """Upload ``path`` once; return (server CPU seconds, wall seconds)."""
    cpu = _cpu(server.process.pid)
    start = time.perf_counter()
    if not tus:
        command = ["curl", "-sf", "-o", "/dev/null", "-T", path, f"{server.url}/upload/big.bin"]
        subprocess.run(command, check=True)
    else:
        created = subprocess.run(
            ["curl", "-sf", "-D", "-", "-o", "/dev/null", "-X", "POST", "-H",
             "Tus-Resumable: 1.0.0", "-H", f"Upload-Length: {size}", f"{server.url}/files/"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        location = next(
            line.split(":", 1)[1].strip()
            for line in created.stdout.splitlines()
            if line.lower().startswith("location:")
        )
        subprocess.run(
            ["curl", "-sf", "-o", "/dev/null", "-X", "PATCH", "-T", path,
             "-H", "Tus-Resumable: 1.0.0", "-H", "Upload-Offset: 0",
             "-H", "Content-Type: application/offset+octet-stream", server.url + location],
            check=True,
        )  # fmt: skip
    wall = time.perf_counter() - start
    return _cpu(server.process.pid) - cpu, wall


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.tus", description=__doc__)
    parser.add_argument("--size", type=int, default=512, help="MiB per upload (512)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (5)")
    parser.add_argument("--smoke", action="store_true", help="tiny: checks that it runs")
    args = parser.parse_args(argv)
    size = (1 if args.smoke else args.size) * MiB
    rounds = 1 if args.smoke else args.rounds
    names = list(CONTENDERS)
    with tempfile.TemporaryDirectory(prefix="bench-tus-") as scratch:
        source = os.path.join(scratch, "big.bin")
        with open(source, "wb") as file:
            for _ in range(size // MiB):
                file.write(os.urandom(MiB))
        servers = {}
        for index, name in enumerate(names):
            directory = os.path.join(scratch, f"dir{index}")
            servers[name] = Server(directory, CONTENDERS[name])
        cpu: dict[str, list[float]] = {name: [] for name in names}
        wall: dict[str, list[float]] = {name: [] for name in names}
        try:
            for round_ in range(rounds):
                order = names[round_ % len(names) :] + names[: round_ % len(names)]
                for name in order:
                    seconds, elapsed = upload(
                        servers[name], CONTENDERS[name] is not None, source, size
                    )
                    cpu[name].append(seconds)
                    wall[name].append(elapsed)
                # The uploads kept are removed between rounds: the disk stays small.
                for index in range(len(names)):
                    for entry in os.scandir(os.path.join(scratch, f"dir{index}")):
                        if entry.is_file():
                            os.unlink(entry.path)
        finally:
            for server in servers.values():
                server.stop()
    gb = size / 1e9
    print(f"# tus vs PUT /upload: {size // MiB} MiB per upload, {rounds} rounds, medians")
    print(f"# {platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    print("| contender | server CPU s/GB | wall MB/s |")
    print("|---|---:|---:|")
    for name in names:
        per_gb = statistics.median(cpu[name]) / gb
        speed = size / 1e6 / statistics.median(wall[name])
        print(f"| {name} | {per_gb:.2f} | {speed:.0f} |")


if __name__ == "__main__":
    main()
