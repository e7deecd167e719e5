"""A server in a process of its own on a free port, as users run it (serve, uvicorn)."""

from __future__ import annotations

import os
import re
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import attrs

RUNNING_ON = re.compile(r"running on (http://127\.0\.0\.1:\d+)")


@attrs.define
class Server:
    """A started server: its process, its URL, and what it wrote to stderr."""

    process: subprocess.Popen[str]
    url: str
    #: Its stderr lines (without their newline) up to the one that gave its URL.
    started: list[str]
    #: Every stderr line so far (read on in a thread, so that a full pipe never stalls it).
    log: list[str]
    _reader: threading.Thread

    def said(self) -> str:
        """All it wrote to stderr, once it has exited."""
        self._reader.join(10)
        return "".join(f"{line}\n" for line in self.log)


@contextmanager
def server_process(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    coverage: bool = True,
) -> Iterator[Server]:
    """Run ``argv --port 0`` until it says "running on URL"; stop it when the block ends.

    ``coverage=False``: a process about to be killed with SIGKILL runs
    unmeasured (a measurement cut short mid-write leaves a broken data file).
    At the end a process still running gets SIGTERM (it stops cleanly, saving its
    coverage data), and SIGKILL only if it hangs.
    """
    environment = {**os.environ, **(env or {})}
    if not coverage:
        environment = {k: v for k, v in environment.items() if not k.startswith("COVERAGE")}
    process = subprocess.Popen(
        [*argv, "--port", "0"],
        cwd=cwd,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    stderr = process.stderr
    assert stderr is not None
    log: list[str] = []
    reader: threading.Thread | None = None
    try:
        for line in stderr:
            log.append(line.rstrip("\n"))
            found = RUNNING_ON.search(line)
            if found:
                break
        else:
            process.wait(timeout=10)
            raise AssertionError("the server did not start:\n" + "\n".join(log))
        started = list(log)
        reader = threading.Thread(
            target=lambda: log.extend(line.rstrip("\n") for line in stderr), daemon=True
        )
        reader.start()
        yield Server(process, found.group(1), started, log, reader)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover - a server that hangs
                process.kill()
        process.wait(timeout=10)
        if reader is not None:
            reader.join(10)
        stderr.close()
