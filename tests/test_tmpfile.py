"""TmpFileWriter: gathering small writes, a full disk on cancel, opts it cannot use, a safe init
(issue 9 items 5 and 11, issue 16 item 3)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from uploadwriter import Cancel, Chunk, Done, Err, InitError, Uploader
from uploadwriter.testing import check_writer, files_in, open_fds
from uploadwriter.writers import TmpFileOpts, TmpFileWriter, _tmpfile
from uploadwriter.writers._tmpfile import BUFFER_SIZE, DIRECT_SIZE, TmpFileState

ROOT = Path(__file__).resolve().parent.parent

# Sizes where the writer changes behaviour, and one byte either side.
EDGES = sorted(
    {n + d for n in (DIRECT_SIZE, BUFFER_SIZE) for d in (-1, 0, 1)} | {0, 1, 4096, 64_000}
)


def _upload(directory: Path, chunks: list[bytes]) -> Path:
    with Uploader(TmpFileWriter(), TmpFileOpts(dir=directory)) as up:
        for data in chunks:
            up.send(Chunk(data))
        up.send(Done())
    return Path(str(up.meta()["path"]))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.one_of(st.sampled_from(EDGES), st.integers(0, 3 * BUFFER_SIZE)), max_size=12).map(
        lambda sizes: [bytes([i % 251]) * n for i, n in enumerate(sizes)]
    )
)
def test_small_and_large_chunks_in_any_order_give_exactly_the_bytes_sent(
    tmp_path: Path, chunks: list[bytes]
) -> None:
    path = _upload(tmp_path, chunks)
    try:
        assert path.read_bytes() == b"".join(chunks)
    finally:
        path.unlink()


def test_small_chunks_are_gathered_and_a_large_one_goes_straight_through(tmp_path: Path) -> None:
    writer = TmpFileWriter()
    state = writer.init(TmpFileOpts(dir=tmp_path)).state
    assert isinstance(state, TmpFileState)
    writer.write_chunk(b"a" * 4096, state)
    assert os.path.getsize(state.path) == 0  # gathered
    writer.write_chunk(b"b" * 64_000, state)  # with the gathered bytes, in one call
    assert os.path.getsize(state.path) == 4096 + 64_000
    writer.write_chunk(b"c" * 100, state)
    assert writer.close(state, Done()).state is state
    assert Path(state.path).read_bytes() == b"a" * 4096 + b"b" * 64_000 + b"c" * 100
    assert state.gathered.closed  # its memory is released with the upload


def test_gathered_chunks_are_written_out_when_they_fill_the_buffer(tmp_path: Path) -> None:
    writer = TmpFileWriter()
    state = writer.init(TmpFileOpts(dir=tmp_path)).state
    assert isinstance(state, TmpFileState)
    chunk = b"x" * 4096
    sizes = []
    for _ in range(BUFFER_SIZE // len(chunk) + 1):
        writer.write_chunk(chunk, state)
        sizes.append(os.path.getsize(state.path))
    assert sizes[-3:] == [0, BUFFER_SIZE, BUFFER_SIZE]
    writer.close(state, Cancel())
    assert os.listdir(tmp_path) == []


def test_the_writer_passes_the_kit_at_its_own_sizes(tmp_path: Path) -> None:
    check_writer(
        TmpFileWriter(),
        TmpFileOpts(dir=tmp_path),
        sizes=[DIRECT_SIZE, BUFFER_SIZE],
        leaks=lambda: (files_in(tmp_path), open_fds()),
        consume=lambda meta: os.unlink(str(meta["path"])),
        settings=hypothesis.settings(max_examples=40, deadline=None),
    )


class ShortWrites:
    """``os.write``/``os.writev`` that write only part of what they are given, as a
    signal or a file size limit can make them: the writer must write the rest."""

    def __init__(self) -> None:
        self.short = 0

    def write(self, fd: int, data: Any) -> int:
        self.short += 1
        return os.write(fd, memoryview(data)[: max(1, len(data) // 3)])

    def writev(self, fd: int, buffers: Any) -> int:
        first = memoryview(buffers[0])
        return self.write(fd, first[: max(1, len(first) - 5)])


def test_short_writes_are_finished(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    short = ShortWrites()
    fake_os = type("os", (), {"write": short.write, "writev": short.writev})
    chunks = [b"a" * 5000, b"b" * 40_000, b"c" * 100_000, b"d" * 7]
    with Uploader(TmpFileWriter(), TmpFileOpts(dir=tmp_path)) as up:
        monkeypatch.setattr(_tmpfile, "os", fake_os)
        for data in chunks:
            up.send(Chunk(data))
        up.send(Done())
        monkeypatch.undo()
    assert Path(str(up.meta()["path"])).read_bytes() == b"".join(chunks)
    assert short.short > 10


# --- a full disk: cancel and error answer Ok, and write nothing (item 5) ---------------------

DISK_FULL = """
import json, os, resource, signal, sys
from uploadwriter import Cancel, Chunk, Done, Error, Uploader, WriterFailure
from uploadwriter.writers import TmpFileOpts, TmpFileWriter
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
limit = 100_000
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
directory = sys.argv[1]
out = {}
for end in ("cancel", "error", "done"):
    writer = TmpFileWriter()
    state = writer.init(TmpFileOpts(dir=directory)).state
    writer.write_chunk(b"a" * (limit - 10), state)  # written at once: the file is nearly full
    writer.write_chunk(b"b" * 1000, state)  # gathered: no room for it on the disk
    reason = {"cancel": Cancel(), "error": Error("client gone"), "done": Done()}[end]
    answer = writer.close(state, reason)
    out[end] = [type(answer).__name__, type(getattr(answer, "reason", None)).__name__]
with Uploader(TmpFileWriter(), TmpFileOpts(dir=directory)) as up:
    up.send(Chunk(b"a" * (limit - 10)))
    up.send(Chunk(b"b" * 1000))
    up.send(Cancel())  # no WriterFailure: the cancel is answered Ok
out["driver"] = [repr(up.reason), repr(up.failure)]
out["files"] = os.listdir(directory)
print(json.dumps(out))
# The disk has room again: whatever is written at exit (coverage's data) is written whole.
hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE and SIGXFSZ are POSIX")
def test_cancel_and_error_answer_ok_when_the_disk_is_full(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", DISK_FULL, str(tmp_path)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout
    report = json.loads(out)
    assert report["cancel"] == ["Ok", "NoneType"]
    assert report["error"] == ["Ok", "NoneType"]
    assert report["done"] == ["Err", "OSError"]  # completing it really needs the disk
    assert report["driver"] == ["Cancel()", "None"]
    assert report["files"] == []


# --- opts it cannot use (item 11) --------------------------------------------------------------


def test_none_opts_are_the_defaults() -> None:
    opts: Any = None  # as Phoenix's temp-file writer, which ignores its opts
    with Uploader(TmpFileWriter(), opts) as up:
        up.send(Chunk(b"x"))
        up.send(Done())
    path = Path(str(up.meta()["path"]))
    try:
        assert path.parent == Path(tempfile.gettempdir())
        assert path.name.startswith("upload-")
    finally:
        path.unlink()


@pytest.mark.parametrize("opts", [{"dir": "/tmp"}, "/tmp", 3, ("a",)])
def test_opts_it_cannot_use_are_an_init_error_naming_what_is_allowed(
    tmp_path: Path, opts: object
) -> None:
    with pytest.raises(InitError) as info, Uploader(TmpFileWriter(), opts):  # type: ignore[misc]
        pass  # pragma: no cover
    reason = info.value.reason
    assert isinstance(reason, TypeError)
    assert "TmpFileOpts(dir=..., prefix=..., suffix=...) or None" in str(reason)
    assert type(opts).__name__ in str(reason)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("opts", ["null", f'{{"dir": "{tempfile.gettempdir()}"}}'])
def test_the_kit_finds_no_broken_law_with_null_or_json_opts(
    capsys: pytest.CaptureFixture[str], opts: str
) -> None:
    from uploadwriter._cli import main

    status = main(
        ["check", "uploadwriter.writers:TmpFileWriter", "--opts", opts, "--max-examples", "15"]
    )
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "laws a-e hold" in out


# --- a safe init (item: nothing outlives a failed init) ----------------------------------------


@pytest.fixture
def fds() -> Iterator[list[str]]:
    before = open_fds()
    yield before
    assert open_fds() == before


@pytest.mark.parametrize("failure", [KeyboardInterrupt(), MemoryError()])
def test_a_failure_after_the_file_is_created_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fds: list[str], failure: BaseException
) -> None:
    def broken_state(*args: object) -> TmpFileState:
        raise failure

    monkeypatch.setattr(_tmpfile, "TmpFileState", broken_state)
    if isinstance(failure, Exception):  # an error is init's answer
        answer = TmpFileWriter().init(TmpFileOpts(dir=tmp_path))
        assert isinstance(answer, Err)
        assert answer.reason is failure
    else:  # an interruption goes on
        with pytest.raises(type(failure)):
            TmpFileWriter().init(TmpFileOpts(dir=tmp_path))
    assert os.listdir(tmp_path) == []


def test_a_descriptor_that_cannot_be_wrapped_is_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fds: list[str]
) -> None:
    def refuse(fd: int, mode: str) -> object:
        raise OSError("no file object for you")

    monkeypatch.setattr(io, "FileIO", refuse)
    answer = TmpFileWriter().init(TmpFileOpts(dir=tmp_path))
    monkeypatch.undo()
    assert isinstance(getattr(answer, "reason", None), OSError)
    assert os.listdir(tmp_path) == []


def test_a_close_interrupted_on_done_removes_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fds: list[str]
) -> None:
    writer = TmpFileWriter()
    state = writer.init(TmpFileOpts(dir=tmp_path)).state
    assert isinstance(state, TmpFileState)
    writer.write_chunk(b"abc", state)

    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(_tmpfile, "_write_out", interrupted)
    with pytest.raises(KeyboardInterrupt):
        writer.close(state, Done())
    assert os.listdir(tmp_path) == []
    assert state.file.closed
