"""``uploadwriter serve`` as users run it: a subprocess, uvicorn, Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest

from .http_support import leftovers, wait_until
from .serve_support import Server, server_process


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "uploadwriter", "serve", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_help_lists_the_options() -> None:
    result = run("--help")
    assert result.returncode == 0
    for option in (
        "--dir",
        "--host",
        "--port",
        "--accept",
        "--max-file-size",
        "--max-entries",
        "--chunk-timeout",
    ):
        assert option in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "the following arguments are required: --dir"),
        (["--port", "70000"], "must be a port number from 0 to 65535, not 70000"),
        (["--max-file-size", "0"], "must be at least 1, not 0"),
        (["--max-entries", "x"], "must be a whole number, not 'x'"),
        (["--chunk-timeout", "0"], "must be a number of seconds above 0"),
        (["--chunk-timeout", "soon"], "must be a number of seconds, not 'soon'"),
        (["--accept", ".no-such-extension"], "invalid accept filter '.no-such-extension'"),
    ],
)
def test_bad_options(tmp_path: Path, args: list[str], message: str) -> None:
    with_dir = args if not args else ["--dir", str(tmp_path), *args]
    result = run(*with_dir)
    assert result.returncode == 2
    assert message in result.stderr


def test_a_dir_that_cannot_be_used(tmp_path: Path) -> None:
    taken = tmp_path / "file"
    taken.write_text("not a directory")
    result = run("--dir", str(taken))
    assert result.returncode == 1
    assert "cannot use --dir" in result.stderr


def serving(directory: Path, *args: str) -> AbstractContextManager[Server]:
    return server_process(
        [sys.executable, "-m", "uploadwriter", "serve", "--dir", str(directory), *args]
    )


def test_serve_then_ctrl_c(tmp_path: Path) -> None:
    with serving(
        tmp_path, "--accept", ".txt, .bin", "--accept", "image/png", "--chunk-timeout", "10"
    ) as server:
        process, url = server.process, server.url
        kept = httpx.put(f"{url}/upload/a.txt", content=b"kept").json()["files"]
        refused = httpx.put(f"{url}/upload/a.exe", content=b"MZ")
        assert refused.status_code == 415
        # An upload in flight when Ctrl-C comes: cancelled after the grace
        # period, and nothing of it is left.
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(
                b"PUT /upload/slow.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"
                + b"x" * 1000
            )
            incoming = tmp_path / ".uploadwriter" / "incoming"
            wait_until(lambda: any(incoming.iterdir()), "the upload did not start")
            time.sleep(0.5)  # well under way
            started = time.monotonic()
            process.send_signal(signal.SIGINT)
            status = process.wait(timeout=20)
            said = server.said()
            assert status == 130, said
            assert time.monotonic() - started < 10
        assert "Shutting down" in said
        assert said.endswith("uploadwriter serve: stopped\n")
    assert leftovers(tmp_path) == []
    records = list((tmp_path / ".uploadwriter" / "records").iterdir())
    assert [r.name for r in records] == [kept[0]["id"] + ".json"]
    assert os.path.exists(kept[0]["path"])


def test_sigterm_stops_it_with_status_0(tmp_path: Path) -> None:
    with serving(tmp_path) as server:
        assert httpx.get(f"{server.url}/uploads").json() == {"files": []}
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=20) == 0
        assert server.said().endswith("uploadwriter serve: stopped\n")
