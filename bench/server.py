"""The server side by side: the same upload over loopback, one server each, one upload at a time.

``python -m bench.server [--size MiB] [--rounds N] [--dir DIR] [--only A,B] [--smoke]``

Every contender is an ASGI app (``bench/server_apps.py``) in its own uvicorn
process (httptools, asyncio), so that each has its own peak RSS; (a") to (c")
are the ``uploadwriter serve`` command itself (uvicorn and httptools too, and
glibc malloc's thresholds fixed, as the command does). curl uploads
the same file to each in turn (``-F`` for a multipart body, ``-T`` for a raw
one); the WebSocket contenders get it from ``bench.channel_client`` (curl
speaks no WebSocket), with the channel's default window and chunk size.
Rounds run every contender once, in a rotated order, so that the machine's
other work hits all alike.

Figures, from ``/proc`` for the server process alone: CPU seconds (user +
system, summed over its threads from ``schedstat``, to the nanosecond) per GB
uploaded, the stable figure on a shared machine (the tables give medians, and
ratios are medians of the per-round ratios to the bare loop of the same
round); throughput as the client saw it; bytes the process passed to
``write(2)`` per byte uploaded; the growth of its peak RSS over its size
before the first upload. The machine's noise is reported too: the CPU the
rest of the machine used meanwhile (``/proc/stat``: all busy time, less the
servers', the clients' and this process's), the hypervisor's steal time, and
the spread of the per-round ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from time import process_time
from typing import NamedTuple

MiB = 1024 * 1024


class Contender(NamedTuple):
    """One server and the client command that uploads ``{file}`` to ``{url}``."""

    app: str  # a factory of bench.server_apps
    client: tuple[str, ...]
    floor: str  # the name of the bare loop it is compared with


CURL_FORM = ("curl", "-F", "f=@{file}", "{url}/upload")
CURL_RAW = ("curl", "-T", "{file}", "{url}/upload/big.bin")
CHANNEL = ("channel", "{ws}/ws", "{file}")

BARE_RAW = "(d) bare request.stream() loop, raw body"
BARE_FORM = "(d) bare request.stream() loop, multipart body"
BARE_WS = "(d-ws) bare WebSocket loop, the channel's messages"

CONTENDERS: dict[str, Contender] = {
    "(a) serve POST /upload (multipart, sha256)": Contender("serve", CURL_FORM, BARE_FORM),
    "(a') the same route, no sha256": Contender("library", CURL_FORM, BARE_FORM),
    "(b) serve PUT /upload/NAME (raw, sha256)": Contender("serve", CURL_RAW, BARE_RAW),
    "(b') the same route, no sha256": Contender("library", CURL_RAW, BARE_RAW),
    "(c) serve WebSocket /ws (sha256)": Contender("serve", CHANNEL, BARE_RAW),
    "(c') the same channel, no sha256": Contender("library", CHANNEL, BARE_RAW),
    '(a") the uploadwriter serve command: POST /upload': Contender("command", CURL_FORM, BARE_FORM),
    '(b") the uploadwriter serve command: PUT': Contender("command", CURL_RAW, BARE_RAW),
    '(c") the uploadwriter serve command: WebSocket': Contender("command", CHANNEL, BARE_RAW),
    BARE_RAW: Contender("bare", CURL_RAW, BARE_RAW),
    BARE_FORM: Contender("bare", CURL_FORM, BARE_FORM),
    BARE_WS: Contender("bare", CHANNEL, BARE_RAW),
    "(e) Starlette request.form() + copy": Contender("form", CURL_FORM, BARE_FORM),
    "(f) Django MultiPartParser, temp file renamed": Contender("django", CURL_FORM, BARE_FORM),
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _stat_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def _threads_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of each live thread of ``pid``, to the nanosecond (``schedstat``)."""
    times = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        path = f"/proc/{pid}/task/{tid}/schedstat"
        with contextlib.suppress(FileNotFoundError), open(path) as stat:  # a thread may end
            times[tid] = int(stat.read().split()[0]) / 1e9
    return times


class CpuClock:
    """A process's CPU time between two moments, summed over its threads."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._threads = _threads_cpu(pid)
        self._ticks = _stat_cpu(pid)

    def elapsed(self) -> float:
        threads, ticks = _threads_cpu(self.pid), _stat_cpu(self.pid)
        precise = sum(t - self._threads.get(tid, 0.0) for tid, t in threads.items())
        coarse = ticks - self._ticks
        # A thread that ended meanwhile took its schedstat with it; the
        # process's own utime + stime (10 ms ticks) still count it.
        return coarse if coarse > precise + 0.025 else precise


def _faults(pid: int) -> int:
    """Minor page faults of the process so far (fresh memory touched: malloc's churn shows here)."""
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[7])


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


def _machine() -> tuple[float, float]:
    """(busy, steal) CPU seconds of the whole machine since boot, all CPUs (``/proc/stat``)."""
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    busy = user + nice + system + irq + softirq
    return busy / ticks, steal / ticks


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


#: ``--malloc steady``: glibc's malloc with fixed thresholds in every server. By
#: default its mmap threshold follows the largest block freed and the top of
#: its heap is given back to the kernel once 2x that is free; with uvicorn's
#: 256 KiB reads, whether a process then maps (and the kernel clears) fresh
#: pages for most chunks depends on where its longer-lived blocks happen to
#: lie: the page faults column shows which servers pay it.
STEADY_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(8 * MiB), "MALLOC_TRIM_THRESHOLD_": str(64 * MiB)}


class Server:
    """One uvicorn process serving one app, with its own directory and temp directory."""

    def __init__(self, app: str, directory: str, env: dict[str, str] | None = None) -> None:
        self.directory = directory
        temp = os.path.join(directory, ".tmp")  # where Starlette and Django spool
        os.makedirs(temp)
        self.port = _free_port()
        env = {**os.environ, **(env or {}), "UPLOADWRITER_BENCH_DIR": directory, "TMPDIR": temp}
        if app == "command":  # `uploadwriter serve` itself: (a) to (c) as its users run them
            command = [sys.executable, "-m", "uploadwriter", "serve", "--dir", directory]
            command += ["--port", str(self.port), "--max-file-size", str(64 * 1024**3)]
            quiet = subprocess.DEVNULL  # its log: a line per request
            self.process = subprocess.Popen(command, env=env, stdout=quiet, stderr=quiet)
        else:
            self.process = self._uvicorn(app, env)
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"the {app} server did not start") from None
                time.sleep(0.05)
        self.rss_before = _status(self.process.pid, "VmRSS")

    def _uvicorn(self, app: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                app if ":" in app else f"bench.server_apps:{app}",
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

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


class Upload(NamedTuple):
    cpu: float  # the server's CPU seconds
    wall: float  # seconds, as the client saw them
    written: int  # bytes the server passed to write(2)
    faults: int  # the server's minor page faults
    clients: float  # CPU seconds of the client processes


def upload(server: Server, client: Sequence[str], path: str, *, check: bool = True) -> Upload:
    """Upload once, check the server kept one whole file, and remove it."""
    port = server.port
    args = [
        a.format(file=path, url=f"http://127.0.0.1:{port}", ws=f"ws://127.0.0.1:{port}")
        for a in client
    ]
    if args[0] == "curl":
        command = ["curl", "-sS", "--fail-with-body", "-o", os.devnull, "-H", "Expect:", *args[1:]]
    else:
        command = [sys.executable, "-m", "bench.channel_client", *args[1:]]
    pid = server.process.pid
    clock, written, children = CpuClock(pid), _written(pid), _children_cpu()
    faults = _faults(pid)
    start = time.perf_counter()
    out = subprocess.run(command, check=True, stdout=subprocess.PIPE).stdout
    wall = time.perf_counter() - start
    cpu, written, faults = clock.elapsed(), _written(pid) - written, _faults(pid) - faults
    if args[0] != "curl":  # the client's own clock: from its start message to done
        wall = json.loads(out)["seconds"]
    kept = [entry for entry in os.scandir(server.directory) if entry.is_file()]
    size = os.path.getsize(path)
    # (The bare loop keeps a multipart body whole: the file and a few hundred bytes.)
    if check and (len(kept) != 1 or not size <= kept[0].stat().st_size < size + 1024):
        raise RuntimeError(f"{server.directory}: expected one file of {size} bytes, found {kept}")
    for entry in kept:  # keep the disk free between uploads
        os.unlink(entry.path)
    return Upload(cpu, wall, written, faults, _children_cpu() - children)


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


def _quartiles(values: Sequence[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    q = statistics.quantiles(values, n=4)
    return q[0], q[2]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="upload size in MiB (256)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="4 MiB, 1 round: checks it runs")
    parser.add_argument("--only", default=None, help="comma-separated substrings of contenders")
    parser.add_argument("--json", default=None, help="also write every figure to this file")
    parser.add_argument(
        "--malloc",
        choices=["default", "steady"],
        default="default",
        help="steady: every server runs with glibc malloc's thresholds fixed "
        f"({', '.join(f'{k}={v}' for k, v in STEADY_MALLOC.items())}), which takes the "
        "page faults of malloc's heap trimming out of every figure",
    )
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
    names = list(CONTENDERS)
    if args.only:
        wanted = args.only.split(",")
        chosen = {n for n in names if any(w.lower() in n.lower() for w in wanted)}
        chosen |= {CONTENDERS[n].floor for n in chosen}
        names = [n for n in names if n in chosen]
    work = tempfile.mkdtemp(prefix="uploadwriter-bench-", dir=args.dir)
    source = os.path.join(work, "upload.bin")
    with open(source, "wb") as file:
        for _ in range(size // MiB):
            file.write(os.urandom(MiB))
    servers: dict[str, Server] = {}
    runs: dict[str, list[Upload]] = {n: [] for n in names}
    load = os.getloadavg()
    try:
        for i, name in enumerate(names):
            directory = os.path.join(work, str(i))
            os.mkdir(directory)
            env = STEADY_MALLOC if args.malloc == "steady" else None
            servers[name] = Server(CONTENDERS[name].app, directory, env)
        for name in names:  # warm up: imports, first requests, the page cache
            upload(servers[name], CONTENDERS[name].client, source)
        busy0, steal0 = _machine()
        own0, started = process_time(), time.perf_counter()
        for r in range(rounds):
            shift = r % len(names)
            for name in names[shift:] + names[:shift]:
                runs[name].append(upload(servers[name], CONTENDERS[name].client, source))
        busy1, steal1 = _machine()
        elapsed = time.perf_counter() - started
        ours = sum(u.cpu + u.clients for us in runs.values() for u in us)
        others = (busy1 - busy0) - ours - (process_time() - own0)
        steal = steal1 - steal0
        load = (*load, *os.getloadavg())
        peak = {n: _status(s.process.pid, "VmHWM") - s.rss_before for n, s in servers.items()}
        hashing = statistics.median(sha256_cost(source) for _ in range(3))
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(work)
    gigabytes = size / 1e9
    cpus = os.cpu_count() or 1
    print(
        f"Python {platform.python_version()} on {platform.machine()}, {cpus} CPUs; "
        f"{size / MiB:g} MiB per upload, {rounds} rounds, uvicorn (httptools) on 127.0.0.1, "
        f"files written to {os.path.dirname(work)} "
        f"({_filesystem(os.path.dirname(work))}), malloc {args.malloc}"
    )
    print(
        f"  noise: the rest of the machine used {others / elapsed:.2f} of its {cpus} CPUs "
        f"during the {elapsed:.0f} s of the rounds, steal {steal / elapsed:.2f} CPUs; "
        f"load average {load[0]:.1f} before, {load[-3]:.1f} after"
    )
    print(
        f"  {'contender':<50} {'CPU s/GB':>8} {'x floor':>7} {'IQR of x':>11} {'MB/s':>5} "
        f"{'written':>8} {'peak RSS':>9} {'faults/MiB':>10}"
    )
    report: dict[str, object] = {
        "size": size,
        "rounds": rounds,
        "malloc": args.malloc,
        "others_cpus": others / elapsed,
        "steal_cpus": steal / elapsed,
        "load": load,
        "contenders": {},
    }
    for name in names:
        floor = CONTENDERS[name].floor
        ratios = [
            u.cpu / max(b.cpu, 1e-9) for u, b in zip(runs[name], runs.get(floor, []), strict=False)
        ]
        ratio = statistics.median(ratios) if ratios else float("nan")
        low, high = _quartiles(ratios) if ratios else (float("nan"),) * 2
        cpu = statistics.median(u.cpu for u in runs[name]) / gigabytes
        rate = size / 1e6 / statistics.median(u.wall for u in runs[name])
        written = statistics.median(u.written for u in runs[name]) / size
        faults = statistics.median(u.faults for u in runs[name]) / (size / MiB)
        print(
            f"  {name:<50} {cpu:>8.2f} {ratio:>7.3f} {low:>5.3f}-{high:<5.3f} {rate:>5.0f} "
            f"{written:>7.2f}x {peak[name] / MiB:>5.1f} MiB {faults:>10.0f}"
        )
        report["contenders"][name] = {  # type: ignore[index]
            "cpu_s_per_gb": cpu,
            "x_floor": ratio,
            "x_floor_all": ratios,
            "floor": floor,
            "mb_per_s": rate,
            "written_per_byte": written,
            "peak_rss_growth": peak[name],
            "faults_per_mib": faults,
            "cpu_s": [u.cpu for u in runs[name]],
        }
    print(f"  sha256 alone (hashlib, 256 KiB chunks): {hashing / gigabytes:.2f} CPU s/GB")
    print("  x floor: the median of the per-round CPU ratios to the bare loop (WebSocket: the")
    print("  raw body's); IQR: their quartiles; written: bytes passed to write(2) per byte")
    print("  uploaded; peak RSS: growth over the server's RSS before its first upload; faults:")
    print("  minor page faults per MiB uploaded (memory the kernel had to map and clear)")
    report["sha256_s_per_gb"] = hashing / gigabytes
    if args.json:
        with open(args.json, "w") as file:
            json.dump(report, file, indent=2)


def _filesystem(path: str) -> str:
    best, kind = "", "?"
    with open("/proc/mounts") as mounts:
        for line in mounts:
            _, point, fstype, *_ = line.split()
            if path.startswith(point) and len(point) > len(best):
                best, kind = point, fstype
    return kind


if __name__ == "__main__":
    main()
