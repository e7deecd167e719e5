"""The server side by side: the same upload over loopback, curl as the client, one server each.

``python -m bench.server [--size MiB] [--rounds N] [--smoke]``

Every contender is an ASGI app (``bench/server_apps.py``) in its own uvicorn
process (httptools, asyncio); curl uploads the same file to each in turn,
round by round in a rotated order, one upload at a time. Figures, taken from
``/proc`` for the server process alone: CPU seconds (user + system) per GB
uploaded, the stable figure on a shared machine (the tables give medians, and
ratios are medians of the per-round ratios to the bare loop); wall time as
curl saw it; bytes the process passed to ``write(2)`` per byte uploaded; the
growth of its peak RSS over its size before the first upload.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from time import process_time

MiB = 1024 * 1024

#: name -> (app factory, curl arguments to upload FILE to URL)
CONTENDERS: dict[str, tuple[str, list[str]]] = {
    "(a) serve POST /upload (multipart, sha256)": ("serve", ["-F", "f=@{file}", "{url}/upload"]),
    "(a') the same route, no sha256": ("library", ["-F", "f=@{file}", "{url}/upload"]),
    "(b) serve PUT /upload/NAME (raw, sha256)": ("serve", ["-T", "{file}", "{url}/upload/big.bin"]),
    "(b') the same route, no sha256": ("library", ["-T", "{file}", "{url}/upload/big.bin"]),
    "(d) bare request.stream() loop, raw": ("bare", ["-T", "{file}", "{url}/upload/big.bin"]),
    "(d) bare request.stream() loop, multipart": ("bare", ["-F", "f=@{file}", "{url}/upload"]),
    "(e) Starlette request.form() + copy": ("form", ["-F", "f=@{file}", "{url}/upload"]),
}
BARE_RAW = "(d) bare request.stream() loop, raw"
BARE_FORM = "(d) bare request.stream() loop, multipart"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def _status(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def _written(pid: int) -> int:
    with open(f"/proc/{pid}/io") as io:
        for line in io:
            if line.startswith("wchar:"):
                return int(line.split()[1])
    raise KeyError("wchar")


class Server:
    """One uvicorn process serving one app."""

    def __init__(self, app: str, directory: str) -> None:
        self.directory = directory
        self.port = _free_port()
        env = {**os.environ, "UPLOADWRITER_BENCH_DIR": directory}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                f"bench.server_apps:{app}",
                "--factory",
                "--http",
                "httptools",
                "--loop",
                "asyncio",
                "--lifespan",
                "off",
                "--log-level",
                "warning",
                "--port",
                str(self.port),
            ],
            env=env,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"the {app} server did not start") from None
                time.sleep(0.05)
        self.rss_before = _status(self.process.pid, "VmRSS")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


def upload(server: Server, args: Sequence[str], path: str) -> tuple[float, float, int]:
    """Upload once; return (server CPU s, wall s, bytes the server passed to write(2))."""
    pid = server.process.pid
    command = ["curl", "-sS", "--fail-with-body", "-o", os.devnull, "-H", "Expect:"]
    command += [a.format(file=path, url=server.url) for a in args]
    cpu, written = _cpu(pid), _written(pid)
    start = time.perf_counter()
    subprocess.run(command, check=True)
    wall = time.perf_counter() - start
    cpu, written = _cpu(pid) - cpu, _written(pid) - written
    for entry in os.scandir(server.directory):  # keep the disk free between uploads
        if entry.is_file():
            os.unlink(entry.path)
    return cpu, wall, written


def sha256_cost(path: str, chunk: int = 256 * 1024) -> float:
    """CPU seconds of hashlib.sha256 over the file, in chunks as the server gets them."""
    with open(path, "rb") as file:
        data = file.read()
    h = hashlib.sha256()
    start = process_time()
    view = memoryview(data)
    for offset in range(0, len(data), chunk):
        h.update(view[offset : offset + chunk])
    return process_time() - start


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="upload size in MiB (256)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="4 MiB, 1 round: checks it runs")
    parser.add_argument(
        "--dir",
        default=None,
        help="where the servers write (default: the temp directory); /dev/shm (tmpfs) takes "
        "the disk's writeback out of the figures, which steadies them",
    )
    args = parser.parse_args(argv)
    size, rounds = (4 * MiB, 1) if args.smoke else (args.size * MiB, args.rounds)
    if shutil.which("curl") is None:
        raise SystemExit("bench.server needs curl (apt-get install curl)")
    work = tempfile.mkdtemp(prefix="uploadwriter-bench-", dir=args.dir)
    source = os.path.join(work, "upload.bin")
    with open(source, "wb") as file:
        for _ in range(size // MiB):
            file.write(os.urandom(MiB))
    names = list(CONTENDERS)
    servers: dict[str, Server] = {}
    try:
        for app in sorted({app for app, _ in CONTENDERS.values()}):
            directory = os.path.join(work, app)
            os.mkdir(directory)
            servers[app] = Server(app, directory)
        for name in names:  # warm up
            app, curl = CONTENDERS[name]
            upload(servers[app], curl, source)
        cpu: dict[str, list[float]] = {n: [] for n in names}
        wall: dict[str, list[float]] = {n: [] for n in names}
        written: dict[str, list[int]] = {n: [] for n in names}
        for r in range(rounds):
            shift = r % len(names)
            for name in names[shift:] + names[:shift]:
                app, curl = CONTENDERS[name]
                c, w, b = upload(servers[app], curl, source)
                cpu[name].append(c)
                wall[name].append(w)
                written[name].append(b)
        peak = {app: _status(s.process.pid, "VmHWM") - s.rss_before for app, s in servers.items()}
        hashing = statistics.median(sha256_cost(source) for _ in range(3))
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(work)
    gigabytes = size / 1e9
    print(
        f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; "
        f"{size / MiB:g} MiB per upload, {rounds} rounds, curl to uvicorn (httptools) on "
        f"127.0.0.1, files written to {os.path.dirname(work)}"
    )
    print(
        f"  {'contender':<44} {'CPU s/GB':>8} {'x bare':>7} {'MB/s':>6} {'written':>8} "
        f"{'peak RSS':>9}"
    )
    for name in names:
        app, curl = CONTENDERS[name]
        bare = BARE_FORM if "-F" in curl else BARE_RAW
        ratio = statistics.median(
            a / max(b, 1e-9) for a, b in zip(cpu[name], cpu[bare], strict=True)
        )
        print(
            f"  {name:<44} {statistics.median(cpu[name]) / gigabytes:>8.2f} {ratio:>7.2f} "
            f"{size / 1e6 / statistics.median(wall[name]):>6.0f} "
            f"{statistics.median(written[name]) / size:>7.2f}x {peak[app] / MiB:>6.1f} MiB"
        )
    print(f"  sha256 alone (hashlib, 256 KiB chunks): {hashing / gigabytes:.2f} CPU s/GB")
    print("  x bare: against the bare loop with the same body (raw or multipart);")
    print("  written: bytes passed to write(2) per byte uploaded; peak RSS: growth over the run")


if __name__ == "__main__":
    main()
