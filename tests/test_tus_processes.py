"""tus across processes: `uploadwriter serve` servers sharing one store, killed with kill -9.

Each test starts real `uploadwriter serve` processes on 127.0.0.1 (and, for
S3, moto's server in this process). Slow: marked ``slow`` and kept few.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from .s3_server import S3, MiB, moto_endpoint, s3
from .serve_support import server_process
from .test_tus_serve import create, listed, offset, patch, raw_patch, wait_for

__all__ = ("moto_endpoint", "s3")  # fixtures

pytestmark = pytest.mark.slow


@contextmanager
def serving(
    directory: Path, *args: str, env: dict[str, str] | None = None, killed: bool = False
) -> Iterator[str]:
    """Run `uploadwriter serve --dir DIRECTORY ARGS` on a free port; yield its base URL.

    ``killed``: it will be killed with SIGKILL, so it runs without coverage.
    """
    argv = [sys.executable, "-m", "uploadwriter", "serve", "--dir", str(directory), *args]
    with server_process(argv, env=env, coverage=not killed) as server:
        _processes[server.url] = server.process
        try:
            yield server.url
        finally:
            del _processes[server.url]


_processes: dict[str, subprocess.Popen[str]] = {}


def kill_9(url: str) -> None:
    """Kill the server listening at ``url`` with SIGKILL (no cleanup of any kind)."""
    process = _processes[url]
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def test_two_servers_on_one_dir_share_every_upload(tmp_path: Path) -> None:
    data = os.urandom(3 * MiB)
    with serving(tmp_path) as one, serving(tmp_path) as two:
        url = create(one, len(data))
        upload_path = url.removeprefix(one)
        assert patch(url, 0, data[:MiB]).status_code == 204
        on_two = two + upload_path
        assert offset(on_two) == MiB
        # One process holds the upload while it writes: the other is refused, never mixed in.
        sock = raw_patch(on_two, MiB, MiB, data[MiB : MiB + 1000])
        wait_for(lambda: patch(url, MiB, b"x").status_code == 423, "the lock held by two")
        sock.sendall(data[MiB + 1000 : 2 * MiB])
        assert sock.recv(4096).startswith(b"HTTP/1.1 204")
        sock.close()
        assert patch(url, 2 * MiB, data[2 * MiB :]).status_code == 204
        assert listed(one) == listed(two)
        (record,) = listed(two)
    assert record["sha256"] == hashlib.sha256(data).hexdigest()
    assert Path(record["path"]).read_bytes() == data


def resume_after_kill_9(
    start: Callable[[bool], AbstractContextManager[str]],
    data: bytes,
    sent: int,
    checkpoint: int,
) -> tuple[int, str]:
    """Upload ``data``: PATCH, kill the server after ``sent`` bytes, restart, resume from HEAD.

    Returns the offset HEAD gave after the restart and the final server's URL.
    """
    with start(True) as base:
        url = create(base, len(data), **{"Upload-Metadata": "filename a2lsbGVkLmJpbg=="})
        upload_path = url.removeprefix(base)
        sock = raw_patch(url, 0, len(data), data[:sent])
        # The server has made it durable up to the last checkpoint before the kill.
        wait_for(lambda: offset(url) == sent // checkpoint * checkpoint, "a checkpoint")
        kill_9(base)
        sock.close()
    with start(False) as base:
        url = base + upload_path
        at = offset(url)
        answer = patch(url, at, data[at:])
        assert answer.status_code == 204, answer.text
        assert answer.headers["Upload-Offset"] == str(len(data))
        return at, base
    raise AssertionError  # pragma: no cover


def test_kill_9_mid_patch_then_restart_and_resume_from_head(tmp_path: Path) -> None:
    data = os.urandom(4 * MiB)
    checkpoint = 256 * 1024

    def start(killed: bool) -> AbstractContextManager[str]:
        return serving(tmp_path, "--tus-checkpoint-every", str(checkpoint), killed=killed)

    at, _ = resume_after_kill_9(start, data, 1_500_000, checkpoint)
    # At most what the offset says was lost: the bytes since the last checkpoint.
    assert at == 1_500_000 // checkpoint * checkpoint
    with serving(tmp_path) as base:
        (record,) = listed(base)
    assert record["client_name"] == "killed.bin"
    assert Path(record["path"]).read_bytes() == data
    assert record["sha256"] == hashlib.sha256(data).hexdigest()
    assert list((tmp_path / ".uploadwriter" / "tus" / "data").iterdir()) == []


def test_kill_9_mid_patch_with_the_s3_store(tmp_path: Path, s3: S3) -> None:
    data = os.urandom(11 * MiB + 5)
    env = {
        "AWS_ENDPOINT_URL_S3": s3.endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    args = ("--tus-s3-bucket", s3.bucket, "--tus-lock-dir", str(tmp_path / "locks"))

    def start(killed: bool) -> AbstractContextManager[str]:
        # Each server has a directory of its own: all they share is the bucket and the locks.
        here = tmp_path / f"server-{time.monotonic_ns()}"
        return serving(here, *args, env=env, killed=killed)

    # The S3 store's parts are 8 MiB by default; the CLI's store is built with them.
    at, _ = resume_after_kill_9(start, data, 8 * MiB + 1000, 8 * MiB)
    assert at == 8 * MiB
    key = next(k for k in s3.objects() if not k.endswith(".info"))
    assert s3.read(key) == data
    assert [k for k in s3.objects() if ".tail/" in k] == []
    assert s3.in_progress() == []
    records = [r for d in tmp_path.glob("server-*") for r in stored_records(d)]
    assert [r["sha256"] for r in records] == [hashlib.sha256(data).hexdigest()]
    assert records[0]["location"] == f"s3://{s3.bucket}/{key}"


def stored_records(directory: Path) -> list[dict[str, object]]:
    return [json.loads(p.read_text()) for p in (directory / ".uploadwriter" / "records").glob("*")]


def test_a_server_stopped_mid_patch_saves_what_arrived(tmp_path: Path) -> None:
    data = os.urandom(3 * MiB)
    with serving(tmp_path) as base:
        url = create(base, len(data))
        upload_path = url.removeprefix(base)
        sock = raw_patch(url, 0, len(data), data[:1_000_000])
        time.sleep(0.5)  # the bytes reach the server
        process = _processes[base]
        process.terminate()  # SIGTERM: 3 s of grace, then requests in flight are cancelled
        process.wait(timeout=20)
        sock.close()
    with serving(tmp_path) as base:
        url = base + upload_path
        assert offset(url) == 1_000_000  # the cancelled request was a suspension
        assert patch(url, 1_000_000, data[1_000_000:]).status_code == 204
        (record,) = listed(base)
    assert Path(record["path"]).read_bytes() == data
