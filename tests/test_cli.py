"""``uploadwriter send``: the main job on the command line, run as a user runs it."""

from __future__ import annotations

import contextlib
import fcntl
import importlib.metadata
import io
import json
import os
import pty
import resource
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import uploadwriter
from uploadwriter._cli import main

COMMAND = [sys.executable, "-m", "uploadwriter"]


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args],
        input=None if stdin is None else stdin.decode("latin-1"),
        capture_output=True,
        text=True,
        encoding="latin-1",
        timeout=60,
        check=False,
    )


def remove_meta_file(stdout: str) -> bytes:
    """The bytes of the temp file whose meta ``send`` printed; the file is removed."""
    copy = Path(json.loads(stdout)["path"])
    try:
        return copy.read_bytes()
    finally:
        copy.unlink()


def test_send_copies_the_file_into_a_temp_file(tmp_path: Path) -> None:
    source = tmp_path / "photo.jpg"
    data = os.urandom(200_000)  # four 64_000-byte chunks, the last one short
    source.write_bytes(data)
    result = run("send", str(source), "--progress")
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
    source.write_bytes(b"x" * 12_000_000)
    tmp = tmp_path / "tmp"
    tmp.mkdir()

    def limit_file_size() -> None:
        # The kernel refuses writes past 8 MB (EFBIG), as a full disk would. (The
        # limit holds for every file of the process: coverage's data file must
        # stay under it, so it is far above what that needs.)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (8_000_000, 8_000_000))

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


# --- standard input, the progress bar, the habits of a command line ---------------


def test_send_dash_reads_standard_input() -> None:
    data = os.urandom(150_000)
    result = run("send", "-", stdin=data)  # cat file | uploadwriter send -
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert remove_meta_file(result.stdout) == data


def test_send_dash_with_a_file_on_standard_input(tmp_path: Path) -> None:
    source = tmp_path / "in.bin"
    source.write_bytes(b"abc" * 1000)
    with source.open("rb") as stdin:  # uploadwriter send - < in.bin
        result = subprocess.run(
            [*COMMAND, "send", "-", "--progress"],
            stdin=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    assert remove_meta_file(result.stdout) == b"abc" * 1000
    assert "3.00kB/3.00kB" in result.stderr  # the size of a redirected file is known


def test_send_dash_reads_stdin_even_if_a_file_is_named_dash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "-").write_bytes(b"the file")
    monkeypatch.chdir(tmp_path)
    result = run("send", "-", stdin=b"standard input")
    assert remove_meta_file(result.stdout) == b"standard input"
    result = run("send", "./-")
    assert remove_meta_file(result.stdout) == b"the file"


def run_on_a_terminal(*args: str) -> tuple[int, str, str]:
    """Run the command with stderr on a pseudo-terminal; return (status, stdout, stderr)."""
    controller, terminal = pty.openpty()
    # A fresh pseudo-terminal is 0 columns wide; a person's has a size.
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    with subprocess.Popen(
        [*COMMAND, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=terminal
    ) as process:
        os.close(terminal)
        seen = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the process closed its end
                break
            if not chunk:
                break
            seen += chunk
        assert process.stdout is not None
        out = process.stdout.read().decode()
        status = process.wait(timeout=60)
    os.close(controller)
    return status, out, seen.decode()


def test_the_progress_bar_is_drawn_on_a_terminal(tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(b"\0" * 2_500_000)
    status, out, err = run_on_a_terminal("send", str(source))
    assert status == 0, err
    assert remove_meta_file(out) == b"\0" * 2_500_000
    assert "\r" in err
    assert "big.bin: 100%" in err
    assert "2.50MB/2.50MB" in err  # decimal units: 2,500,000 bytes


def test_no_progress_on_a_terminal(tmp_path: Path) -> None:
    source = tmp_path / "f"
    source.write_bytes(b"x" * 1000)
    status, out, err = run_on_a_terminal("send", str(source), "--no-progress")
    assert status == 0, err
    assert err == ""
    remove_meta_file(out)


def test_no_progress_bar_in_a_file_but_the_log_lines(tmp_path: Path) -> None:
    # uploadwriter send X --writer echo 2>log: the log, without \r bars between its lines.
    source = tmp_path / "f"
    source.write_bytes(b"x" * 2500)
    with (tmp_path / "log").open("w") as log:
        result = subprocess.run(
            [*COMMAND, "send", str(source), "--writer", "echo", "--chunk-size", "1000"],
            stdout=subprocess.PIPE,
            stderr=log,
            timeout=60,
            check=False,
        )
    assert result.returncode == 0
    assert (tmp_path / "log").read_text().splitlines() == [
        "uploadwriter.echo: received chunk of 1000 bytes",
        "uploadwriter.echo: received chunk of 1000 bytes",
        "uploadwriter.echo: received chunk of 500 bytes",
        "uploadwriter.echo: closing upload after 2500 bytes, Done()",
    ]


def test_sizes_have_one_unit_convention_with_or_without_a_total(tmp_path: Path) -> None:
    data = b"\0" * 2_500_000
    source = tmp_path / "f"
    source.write_bytes(data)
    from_file = run("send", str(source), "--progress")
    from_pipe = run("send", "-", "--progress", stdin=data)
    for result in (from_file, from_pipe):
        assert result.returncode == 0, result.stderr
        remove_meta_file(result.stdout)
    final = [result.stderr.rstrip("\n").rsplit("\r", 1)[-1] for result in (from_file, from_pipe)]
    assert "2.50MB/2.50MB [" in final[0], final
    assert ": 2.50MB [" in final[1], final


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout == f"uploadwriter {uploadwriter.__version__}\n"
    assert uploadwriter.__version__ == importlib.metadata.version("uploadwriter")


def test_ctrl_c_during_send_is_one_line_status_130_and_no_file(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    with subprocess.Popen(
        [*COMMAND, "send", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "TMPDIR": str(tmp)},
    ) as process:
        assert process.stdin is not None
        # More than TmpFileWriter's buffer: once the file has bytes, the upload is mid-way.
        process.stdin.write(b"x" * 200_000)
        process.stdin.flush()
        deadline = time.monotonic() + 30
        while not any(path.stat().st_size for path in tmp.iterdir()):
            assert time.monotonic() < deadline, "the upload never started"
            time.sleep(0.01)
        # A signal that lands just before the process blocks in read() is seen
        # only when the next one interrupts it (CPython checks for signals after
        # a system call, not before): as a person would, press Ctrl-C again.
        for _ in range(6):
            process.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)  # ample time to clean up and exit
                break
        status = process.wait(timeout=30)
        out, err = process.communicate()
    assert status == 130
    assert out == b""
    assert err == b"uploadwriter send: interrupted\n"
    assert list(tmp.iterdir()) == []  # the temp file was removed (L10: closed with Cancel())


def send_to(stdout: int, tmp: Path, source: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, "send", str(source)],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "TMPDIR": str(tmp)},
    )


def test_send_to_a_full_disk_is_one_line_and_leaves_no_file(tmp_path: Path) -> None:
    # uploadwriter send FILE > /dev/full: nobody can learn where the upload went,
    # so it is discarded (the writer's discard hook removes the temp file).
    source = tmp_path / "f"
    source.write_bytes(b"x" * 1000)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    with open("/dev/full", "wb") as full:
        result = send_to(full.fileno(), tmp, source)
    assert result.returncode == 1
    assert result.stderr == (
        "uploadwriter send: cannot write the meta to stdout: No space left on device; "
        "the upload was discarded\n"
    )
    assert list(tmp.iterdir()) == []


def test_send_to_a_closed_pipe_is_one_line_and_leaves_no_file(tmp_path: Path) -> None:
    # uploadwriter send FILE | program-that-exited
    source = tmp_path / "f"
    source.write_bytes(b"x" * 1000)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = send_to(write_end, tmp, source)
    finally:
        os.close(write_end)
    assert result.returncode == 1
    assert result.stderr == (
        "uploadwriter send: cannot write the meta to stdout: Broken pipe; "
        "the upload was discarded\n"
    )
    assert list(tmp.iterdir()) == []


def test_send_dash_in_process_with_stdin_that_has_no_descriptor(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # An application calling main() may have replaced sys.stdin: no fileno(), no size.
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"from memory")))
    assert main(["send", "-", "--no-progress"]) == 0
    assert remove_meta_file(capsys.readouterr().out) == b"from memory"


class InterruptedStdout(io.StringIO):
    def write(self, text: str) -> int:
        raise KeyboardInterrupt


def test_ctrl_c_while_the_meta_is_printed_discards_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "f"
    source.write_bytes(b"x" * 10)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    monkeypatch.setattr(sys, "stdout", InterruptedStdout())
    assert main(["send", str(source)]) == 130
    assert capsys.readouterr().err == "uploadwriter send: interrupted\n"
    assert list(tmp.iterdir()) == []
