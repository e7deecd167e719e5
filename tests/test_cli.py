"""``uploadwriter send``: the main job on the command line, run as a user runs it."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from uploadwriter._cli import main


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "uploadwriter", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_send_copies_the_file_into_a_temp_file(tmp_path: Path) -> None:
    source = tmp_path / "photo.jpg"
    data = os.urandom(200_000)  # four 64_000-byte chunks, the last one short
    source.write_bytes(data)
    result = run("send", str(source))
    assert result.returncode == 0, result.stderr
    meta = json.loads(result.stdout)
    copy = Path(meta["path"])
    try:
        assert copy.read_bytes() == data
        assert copy != source
        assert copy.stat().st_mode & 0o777 == 0o600
        assert "100%" in result.stderr  # the progress bar reached the end
        assert "photo.jpg" in result.stderr
    finally:
        copy.unlink()


def test_send_with_echo_writer_logs_each_chunk(tmp_path: Path) -> None:
    source = tmp_path / "data.bin"
    source.write_bytes(b"x" * 2500)
    result = run("send", str(source), "--writer", "echo", "--chunk-size", "1000", "--quiet")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"level": "info"}
    lines = [line for line in result.stderr.splitlines() if "uploadwriter.echo" in line]
    assert lines == [
        "uploadwriter.echo: received chunk of 1000 bytes",
        "uploadwriter.echo: received chunk of 1000 bytes",
        "uploadwriter.echo: received chunk of 500 bytes",
        "uploadwriter.echo: closing upload after 2500 bytes, Done()",
    ]


def test_send_an_empty_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "empty"
    source.write_bytes(b"")
    assert main(["send", str(source), "--quiet"]) == 0
    copy = Path(json.loads(capsys.readouterr().out)["path"])
    assert copy.read_bytes() == b""
    copy.unlink()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing.txt", "cannot read"),
        (lambda p: p, "cannot read"),  # a directory
    ],
)
def test_send_unreadable_input_is_one_clear_line(
    tmp_path: Path, make: Callable[[Path], Path], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = make(tmp_path)
    assert main(["send", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"uploadwriter send: {message} {str(path)!r}")


def test_send_a_file_that_announces_no_size(capsys: pytest.CaptureFixture[str]) -> None:
    # /proc files say st_size == 0 yet have content: streamed until EOF.
    assert main(["send", "/proc/self/status", "--quiet"]) == 0
    copy = Path(json.loads(capsys.readouterr().out)["path"])
    try:
        assert b"Name:" in copy.read_bytes()
    finally:
        copy.unlink()


def test_send_a_read_error_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    # Reading /proc/self/mem at offset 0 fails with EIO: a real read error.
    assert main(["send", "/proc/self/mem", "--quiet"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "uploadwriter send: cannot read '/proc/self/mem': Input/output error\n"


def test_send_a_writer_failure_is_one_clear_line_and_leaves_no_file(tmp_path: Path) -> None:
    source = tmp_path / "big"
    source.write_bytes(b"x" * 300_000)
    tmp = tmp_path / "tmp"
    tmp.mkdir()

    def limit_file_size() -> None:
        # The kernel refuses writes past 200 kB (EFBIG), as a full disk would.
        # (Not less: coverage writes its data file from this process too.)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))

    result = subprocess.run(
        [sys.executable, "-m", "uploadwriter", "send", str(source), "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "TMPDIR": str(tmp)},
        preexec_fn=limit_file_size,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("uploadwriter send: the writer's write_chunk failed: ")
    assert "File too large" in result.stderr
    assert result.stderr.count("\n") == 1
    assert list(tmp.iterdir()) == []  # the partial temp file was removed


@pytest.mark.parametrize("size", ["0", "-3", "lots"])
def test_send_bad_chunk_size_is_a_usage_error(tmp_path: Path, size: str) -> None:
    source = tmp_path / "f"
    source.write_bytes(b"abc")
    result = run("send", str(source), "--chunk-size", size)
    assert result.returncode == 2
    assert "--chunk-size" in result.stderr
    assert result.stdout == ""
