"""The contenders: each streams the same chunks into a new temp file and returns the seconds taken.

Every contender is timed from creating its file to having handed the last
byte to the OS (the file closed, or flushed for Django, whose handler leaves
the file open for the view); removing the file afterwards is not timed.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from itertools import count
from time import perf_counter, process_time
from typing import Any

import anyio

from uploadwriter import AsyncUploader, Chunk, Done, InlineWriter, Ok, ThreadedWriter, Uploader
from uploadwriter.writers import TmpFileOpts, TmpFileWriter, _tmpfile

# TmpFileWriter's write buffer (io.DEFAULT_BUFFER_SIZE for older checkouts,
# which had none, so that this benchmark also runs against them).
BUFFER_SIZE: int = getattr(_tmpfile, "BUFFER_SIZE", io.DEFAULT_BUFFER_SIZE)

Contender = Callable[[Sequence[bytes], str], tuple[float, float]]
"""Streams the chunks into a new file in a directory; returns (wall, CPU) seconds."""

_names = count()


def bare_loop(chunks: Sequence[bytes], directory: str) -> tuple[float, float]:
    """The floor: ``open(path, "wb")`` and a ``write`` per chunk."""
    path = os.path.join(directory, f"bare-{next(_names)}")
    t0, c0 = perf_counter(), process_time()
    with open(path, "wb") as f:
        for data in chunks:
            f.write(data)
    elapsed = perf_counter() - t0, process_time() - c0
    os.unlink(path)
    return elapsed


def bare_loop_buffered(chunks: Sequence[bytes], directory: str) -> tuple[float, float]:
    """The same loop with TmpFileWriter's buffer size, to show what buffering alone buys."""
    path = os.path.join(directory, f"bare-{next(_names)}")
    t0, c0 = perf_counter(), process_time()
    with open(path, "wb", buffering=BUFFER_SIZE) as f:
        for data in chunks:
            f.write(data)
    elapsed = perf_counter() - t0, process_time() - c0
    os.unlink(path)
    return elapsed


_django_ready: list[bool] = []


def _setup_django(directory: str) -> None:
    if _django_ready:
        return
    from django.conf import settings

    if not settings.configured:
        settings.configure(FILE_UPLOAD_TEMP_DIR=directory, USE_TZ=True)
    _django_ready.append(True)


def django_handler(chunks: Sequence[bytes], directory: str) -> tuple[float, float]:
    """Django's ``TemporaryFileUploadHandler``, called as its multipart parser calls it."""
    _setup_django(directory)
    from django.core.files.uploadhandler import TemporaryFileUploadHandler

    handler = TemporaryFileUploadHandler()
    t0, c0 = perf_counter(), process_time()
    handler.new_file("file", "upload.bin", "application/octet-stream", None)
    start = 0
    for data in chunks:
        handler.receive_data_chunk(data, start)
        start += len(data)
    uploaded = handler.file_complete(start)  # seeks to 0, which flushes
    elapsed = perf_counter() - t0, process_time() - c0
    uploaded.close()  # a NamedTemporaryFile: closing removes it
    return elapsed


def sfd_file_target(chunks: Sequence[bytes], directory: str) -> tuple[float, float]:
    """streaming-form-data's ``FileTarget`` (``start`` / ``data_received`` / ``finish``)."""
    from streaming_form_data.targets import FileTarget

    path = os.path.join(directory, f"sfd-{next(_names)}")
    t0, c0 = perf_counter(), process_time()
    target = FileTarget(path)
    target.start()
    for data in chunks:
        target.data_received(data)
    target.finish()
    elapsed = perf_counter() - t0, process_time() - c0
    os.unlink(path)
    return elapsed


def uploader(chunks: Sequence[bytes], directory: str) -> tuple[float, float]:
    """``Uploader`` + ``TmpFileWriter``: ``send(Chunk(data))`` per chunk, then ``Done()``."""
    t0, c0 = perf_counter(), process_time()
    with Uploader(TmpFileWriter(), TmpFileOpts(dir=directory)) as up:
        send = up.send
        for data in chunks:
            send(Chunk(data))
        send(Done())
    elapsed = perf_counter() - t0, process_time() - c0
    os.unlink(str(up.meta()["path"]))
    return elapsed


class BufferedTmpFileWriter(TmpFileWriter):
    """TmpFileWriter as it was before it gathered small writes itself: every write goes
    through a 128 KiB ``BufferedWriter``, flushed on every close (kept to measure against)."""

    def init(self, opts: TmpFileOpts) -> Any:
        fd, path = tempfile.mkstemp(prefix=opts.prefix, suffix=opts.suffix, dir=opts.dir)
        return Ok(_BufferedState(path, os.fdopen(fd, "wb", buffering=128 * 1024)))

    def write_chunk(self, data: bytes, state: Any) -> Any:
        state.file.write(data)
        return state.ok

    def close(self, state: Any, reason: object) -> Any:
        state.file.close()
        if reason != Done():
            os.unlink(state.path)
        return state.ok


class _BufferedState:
    __slots__ = ("file", "ok", "path")

    def __init__(self, path: str, file: Any) -> None:
        self.path, self.file, self.ok = path, file, Ok(self)


def uploader_buffered(chunks: Sequence[bytes], directory: str) -> tuple[float, float]:
    """``Uploader`` + the TmpFileWriter of before (a 128 KiB ``BufferedWriter``)."""
    t0, c0 = perf_counter(), process_time()
    with Uploader(BufferedTmpFileWriter(), TmpFileOpts(dir=directory)) as up:
        send = up.send
        for data in chunks:
            send(Chunk(data))
        send(Done())
    elapsed = perf_counter() - t0, process_time() - c0
    os.unlink(str(up.meta()["path"]))
    return elapsed


def _async_uploader(backend: str, wrap: Callable[[TmpFileWriter], Any]) -> Contender:
    def run(chunks: Sequence[bytes], directory: str) -> tuple[float, float]:
        async def main() -> tuple[tuple[float, float], Mapping[str, object]]:
            t0, c0 = perf_counter(), process_time()
            async with AsyncUploader(wrap(TmpFileWriter()), TmpFileOpts(dir=directory)) as up:
                send = up.send
                for data in chunks:
                    await send(Chunk(data))
                await send(Done())
            return (perf_counter() - t0, process_time() - c0), up.meta()

        # Only the upload is timed, not starting and stopping the event loop.
        elapsed, meta = anyio.run(main, backend=backend)
        os.unlink(str(meta["path"]))
        return elapsed

    run.__doc__ = f"``AsyncUploader`` on {backend} + ``{wrap.__name__}(TmpFileWriter())``."
    return run


CONTENDERS: dict[str, Contender] = {
    "bare open/write loop": bare_loop,
    f"bare loop, {BUFFER_SIZE // 1024} KiB buffer": bare_loop_buffered,
    "Django TemporaryFileUploadHandler": django_handler,
    "streaming-form-data FileTarget": sfd_file_target,
    "Uploader + TmpFileWriter": uploader,
    "Uploader + TmpFileWriter before (BufferedWriter)": uploader_buffered,
    "AsyncUploader asyncio + InlineWriter": _async_uploader("asyncio", InlineWriter),
    "AsyncUploader trio + InlineWriter": _async_uploader("trio", InlineWriter),
    "AsyncUploader asyncio + ThreadedWriter": _async_uploader("asyncio", ThreadedWriter),
    "AsyncUploader trio + ThreadedWriter": _async_uploader("trio", ThreadedWriter),
}
"""Every contender, by the name the tables print."""

PEERS = {
    "Django TemporaryFileUploadHandler": "django",
    "streaming-form-data FileTarget": "streaming_form_data",
    "AsyncUploader trio + InlineWriter": "trio",
    "AsyncUploader trio + ThreadedWriter": "trio",
}
"""Contenders that need a package beyond uploadwriter's own dependencies."""


class NullWriter:
    """A writer that keeps nothing: every callback returns the same ``Ok(None)``."""

    _ok: Ok[None] = Ok(None)

    def init(self, opts: object) -> Ok[None]:
        return self._ok

    def meta(self, state: None) -> Mapping[str, object]:
        return {}

    def write_chunk(self, data: bytes, state: None) -> Ok[None]:
        return self._ok

    def close(self, state: None, reason: object) -> Ok[None]:
        return self._ok


class AsyncNullWriter:
    """:class:`NullWriter` with async callbacks."""

    _ok: Ok[None] = Ok(None)

    async def init(self, opts: object) -> Ok[None]:
        return self._ok

    def meta(self, state: None) -> Mapping[str, object]:
        return {}

    async def write_chunk(self, data: bytes, state: None) -> Ok[None]:
        return self._ok

    async def close(self, state: None, reason: object) -> Ok[None]:
        return self._ok


def scratch_dir(parent: str | None) -> tempfile.TemporaryDirectory[str]:
    """A fresh directory for the benchmark's files."""
    return tempfile.TemporaryDirectory(prefix="uploadwriter-bench-", dir=parent)
