"""The writers shipped in ``uploadwriter.writers``: TmpFileWriter and EchoWriter."""

from __future__ import annotations

import logging
import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from uploadwriter import (
    AsyncUploader,
    Cancel,
    Chunk,
    Done,
    Error,
    FileTooLarge,
    InitError,
    ThreadedWriter,
    Uploader,
    WriterFailure,
)
from uploadwriter.writers import EchoOpts, EchoWriter, TmpFileOpts, TmpFileWriter

# --- TmpFileWriter ------------------------------------------------------------------------


def _opts(directory: Path, *, prefix: str = "upload-", suffix: str = "") -> TmpFileOpts:
    return TmpFileOpts(dir=str(directory), prefix=prefix, suffix=suffix)


def _upload(
    directory: Path, chunks: list[bytes], *, prefix: str = "upload-", suffix: str = ""
) -> Path:
    with Uploader(TmpFileWriter(), _opts(directory, prefix=prefix, suffix=suffix)) as up:
        for data in chunks:
            up.send(Chunk(data))
        up.send(Done())
    return Path(str(up.meta()["path"]))


def test_tmpfile_done_keeps_the_exact_content(tmp_path: Path) -> None:
    chunks = [b"hello ", b"", b"world", bytes(range(256)) * 300]
    path = _upload(tmp_path, chunks)
    assert path.read_bytes() == b"".join(chunks)
    assert path.parent == tmp_path


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.binary(max_size=20_000), max_size=6))
def test_tmpfile_content_is_exactly_what_was_sent(tmp_path: Path, chunks: list[bytes]) -> None:
    path = _upload(tmp_path, chunks)
    try:
        assert path.read_bytes() == b"".join(chunks)
    finally:
        path.unlink()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_tmpfile_is_private_to_its_owner(tmp_path: Path) -> None:
    path = _upload(tmp_path, [b"secret"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_tmpfile_names_are_random_and_use_prefix_and_suffix(tmp_path: Path) -> None:
    paths = [_upload(tmp_path, [b"x"]) for _ in range(5)]
    assert len({p.name for p in paths}) == 5
    assert all(p.name.startswith("upload-") for p in paths)
    named = _upload(tmp_path, [b"x"], prefix="avatar-", suffix=".jpg")
    assert named.name.startswith("avatar-")
    assert named.name.endswith(".jpg")
    assert len(named.name) > len("avatar-.jpg")  # a random part in between
    assert named.parent == tmp_path


def test_tmpfile_meta_is_the_path(tmp_path: Path) -> None:
    with Uploader(TmpFileWriter(), _opts(tmp_path)) as up:
        up.send(Done())
    assert set(up.meta()) == {"path"}
    assert os.path.isabs(str(up.meta()["path"]))


def test_tmpfile_default_dir_is_the_system_temp_dir() -> None:
    with Uploader(TmpFileWriter(), TmpFileOpts()) as up:
        up.send(Chunk(b"x"))
        up.send(Done())
    path = Path(str(up.meta()["path"]))
    try:
        assert path.parent == Path(tempfile.gettempdir())
    finally:
        path.unlink()


def _files(directory: Path) -> list[Path]:
    return sorted(directory.iterdir())


def test_tmpfile_cancel_removes_the_file(tmp_path: Path) -> None:
    with Uploader(TmpFileWriter(), _opts(tmp_path)) as up:
        up.send(Chunk(b"partial"))
        assert len(_files(tmp_path)) == 1
        up.send(Cancel())
    assert _files(tmp_path) == []


def test_tmpfile_leaving_the_block_removes_the_file(tmp_path: Path) -> None:
    def handler() -> None:
        with Uploader(TmpFileWriter(), _opts(tmp_path)) as up:
            up.send(Chunk(b"partial"))
            raise RuntimeError

    with pytest.raises(RuntimeError):
        handler()
    assert _files(tmp_path) == []


def test_tmpfile_too_large_removes_the_file(tmp_path: Path) -> None:
    with Uploader(TmpFileWriter(), _opts(tmp_path), max_size=4) as up:
        up.send(Chunk(b"abc"))
        with pytest.raises(FileTooLarge):
            up.send(Chunk(b"def"))
    assert _files(tmp_path) == []


def test_tmpfile_close_with_error_removes_the_file(tmp_path: Path) -> None:
    writer = TmpFileWriter()
    answer = writer.init(_opts(tmp_path))
    state = answer.state
    assert state is not None
    assert writer.write_chunk(b"abc", state).state is state
    closed = writer.close(state, Error("the client vanished"))
    assert closed.state is state
    assert not os.path.exists(state.path)


@pytest.mark.anyio
async def test_tmpfile_through_threaded_writer_on_cancel(tmp_path: Path) -> None:
    async with AsyncUploader(ThreadedWriter(TmpFileWriter()), _opts(tmp_path)) as up:
        await up.send(Chunk(b"abc"))
        await up.send(Cancel())
    assert _files(tmp_path) == []


@pytest.mark.parametrize(
    ("option", "value", "error"),
    [
        ("prefix", "../escape-", ValueError),
        ("prefix", "a/b", ValueError),
        ("suffix", "/x.jpg", ValueError),
        ("prefix", 3, TypeError),
        ("suffix", None, TypeError),
        ("dir", 3, TypeError),
    ],
)
def test_tmpfile_bad_option_is_refused_naming_it(
    tmp_path: Path, option: str, value: Any, error: type[Exception]
) -> None:
    with pytest.raises(error) as info:
        TmpFileOpts(**{option: value})
    assert f"TmpFileOpts.{option}" in str(info.value)
    assert repr(value) in str(info.value)
    assert _files(tmp_path) == []


def test_tmpfile_dir_may_be_a_path(tmp_path: Path) -> None:
    with Uploader(TmpFileWriter(), TmpFileOpts(dir=tmp_path)) as up:
        up.send(Done())
    assert Path(str(up.meta()["path"])).parent == tmp_path


def test_tmpfile_opts_that_are_not_tmpfile_opts_are_init_error(tmp_path: Path) -> None:
    opts: Any = {"dir": str(tmp_path)}  # the old dict form
    with pytest.raises(InitError), Uploader(TmpFileWriter(), opts):
        pass  # pragma: no cover
    assert _files(tmp_path) == []


def test_tmpfile_missing_dir_is_init_error(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir"
    with pytest.raises(InitError) as info, Uploader(TmpFileWriter(), _opts(missing)):
        pass  # pragma: no cover
    assert isinstance(info.value.reason, FileNotFoundError)
    assert info.value.__cause__ is info.value.reason
    assert _files(tmp_path) == []


# A real "disk full": the kernel refuses to grow a file past RLIMIT_FSIZE with
# EFBIG (Python ignores SIGXFSZ, so the write fails instead of killing us).
# Half of it must exceed TmpFileWriter's write buffer (128 KiB), so that the
# chunks below are written at once rather than buffered.
FSIZE_LIMIT = 300_000


@pytest.fixture
def file_size_limit() -> Iterator[int]:
    resource = pytest.importorskip("resource")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    if hard != resource.RLIM_INFINITY and hard < FSIZE_LIMIT:
        pytest.skip("the hard file size limit is already lower")  # pragma: no cover
    resource.setrlimit(resource.RLIMIT_FSIZE, (FSIZE_LIMIT, hard))
    try:
        yield FSIZE_LIMIT
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def test_tmpfile_write_failure_is_writer_failure_and_removes_the_file(
    tmp_path: Path, file_size_limit: int
) -> None:
    with Uploader(TmpFileWriter(), _opts(tmp_path)) as up:
        up.send(Chunk(b"a" * (file_size_limit // 2)))
        with pytest.raises(WriterFailure) as info:
            up.send(Chunk(b"b" * file_size_limit))  # larger than the buffer: written at once
    assert info.value.during == "write_chunk"
    assert isinstance(info.value.reason, OSError)
    assert info.value.__cause__ is info.value.reason
    assert isinstance(up.reason, Error)
    assert _files(tmp_path) == []


def test_tmpfile_flush_failure_on_done_is_writer_failure_and_removes_the_file(
    tmp_path: Path, file_size_limit: int
) -> None:
    with Uploader(TmpFileWriter(), _opts(tmp_path)) as up:
        up.send(Chunk(b"a" * (file_size_limit - 10)))
        up.send(Chunk(b"b" * 100))  # buffered: fails only when flushed by close
        with pytest.raises(WriterFailure) as info:
            up.send(Done())
    assert info.value.during == "close"
    assert isinstance(info.value.reason, OSError)
    assert up.reason == Done()
    assert _files(tmp_path) == []


# --- EchoWriter ---------------------------------------------------------------------------------

ECHO_LOGGER = "uploadwriter.echo"


def _echo(opts: EchoOpts, chunks: list[bytes], end: Done | Cancel) -> Uploader[Any, Any]:
    with Uploader(EchoWriter(), opts) as up:
        for data in chunks:
            up.send(Chunk(data))
        up.send(end)
    return up


@pytest.mark.parametrize(
    ("level", "levelno"),
    [("debug", logging.DEBUG), ("INFO", logging.INFO), (logging.WARNING, logging.WARNING)],
)
def test_echo_logs_each_chunk_and_the_close_at_its_level(
    caplog: pytest.LogCaptureFixture, level: int | str, levelno: int
) -> None:
    caplog.set_level(logging.DEBUG, logger=ECHO_LOGGER)
    up = _echo(EchoOpts(level=level), [b"abc", b"", b"defgh"], Done())
    assert [r.getMessage() for r in caplog.records] == [
        "received chunk of 3 bytes",
        "received chunk of 0 bytes",
        "received chunk of 5 bytes",
        "closing upload after 8 bytes, Done()",
    ]
    assert {r.levelno for r in caplog.records} == {levelno}
    assert {r.name for r in caplog.records} == {ECHO_LOGGER}
    assert up.meta() == {"level": level}


def test_echo_logs_the_cancel_reason(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=ECHO_LOGGER)
    _echo(EchoOpts(level="info"), [b"ab"], Cancel())
    assert caplog.records[-1].getMessage() == "closing upload after 2 bytes, Cancel()"


def test_echo_logs_the_error_reason(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=ECHO_LOGGER)
    writer = EchoWriter()
    state = writer.init(EchoOpts(level="info")).state
    assert state is not None
    writer.close(state, Error("boom"))
    assert caplog.records[-1].getMessage() == "closing upload after 0 bytes, Error(reason='boom')"


def test_echo_below_the_loggers_level_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=ECHO_LOGGER)
    _echo(EchoOpts(level="debug"), [b"abc"], Done())
    assert caplog.records == []


def test_echo_state_is_not_mutated(caplog: pytest.LogCaptureFixture) -> None:
    writer = EchoWriter()
    first = writer.init(EchoOpts()).state
    assert first is not None
    second = writer.write_chunk(b"abcd", first).state
    assert first.total == 0
    assert second.total == 4


def test_echo_default_level_is_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=ECHO_LOGGER)
    up = _echo(EchoOpts(), [b"abc"], Done())
    assert {r.levelno for r in caplog.records} == {logging.DEBUG}
    assert up.meta() == {"level": "debug"}


@pytest.mark.parametrize("level", ["loud", True, None, 2.5, ""])
def test_echo_bad_level_is_refused_naming_it(level: Any) -> None:
    with pytest.raises(ValueError, match=r"EchoOpts\.level must be a logging level") as info:
        EchoOpts(level=level)
    assert repr(level) in str(info.value)


@pytest.mark.parametrize("opts", [{"level": "info"}, None, "info"])
def test_echo_opts_that_are_not_echo_opts_are_init_error(opts: Any) -> None:
    with pytest.raises(InitError) as info, Uploader(EchoWriter(), opts):
        pass  # pragma: no cover
    assert isinstance(info.value.reason, TypeError)
    assert "EchoOpts(level=...)" in str(info.value)
