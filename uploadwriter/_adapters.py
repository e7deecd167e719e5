"""Adapters that let a synchronous writer run under :class:`~uploadwriter.AsyncUploader`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, TypeVar, cast

from ._errors import safe_repr
from ._events import CloseReason
from ._handoff import run_in_worker
from ._protocols import (
    AsyncUploadWriter,
    ResumableWriter,
    UploadWriter,
    check_writer_shape,
    discard,
    is_async_writer,
)
from ._results import Err, Ok

__all__ = ("InlineWriter", "ThreadedWriter", "as_async_writer", "writer_and_opts")

O = TypeVar("O")  # noqa: E741 - the writer's opts type, as in the protocol
S = TypeVar("S")


def _resumable(writer: object) -> bool:
    return all(callable(getattr(writer, name, None)) for name in ("suspend", "resume"))


def _resumable_writer(writer: UploadWriter[O, S]) -> ResumableWriter[O, S, object]:
    # Only called for a resumable upload, whose wrapped writer was checked.
    return cast("ResumableWriter[O, S, object]", writer)


class ThreadedWriter(Generic[O, S]):
    """Use a synchronous writer with :class:`AsyncUploader`: each callback runs in a worker thread.

    For writers that block (files, network). Each call is handed to a worker
    thread of a small pool shared by every event loop of the process, and its
    answer awaited: one thread round trip per call. Calls of one upload never
    overlap (the driver awaits each), but may run on different threads.

    A callback already running in its thread is not abandoned on cancellation:
    the task waits for it, its answer counts, and the cancellation is
    delivered at the task's next checkpoint. An exception the callback raises
    (``GeneratorExit`` and ``KeyboardInterrupt`` too) is raised again in the
    awaiting task, where the driver hands it to the reducer (L11).
    """

    __slots__ = ("writer",)

    writer: UploadWriter[O, S]  #: the wrapped synchronous writer

    def __init__(self, writer: UploadWriter[O, S]) -> None:
        check_writer_shape(writer, asynchronous=False, needed_by="ThreadedWriter")
        self.writer = writer

    async def init(self, opts: O) -> Ok[S] | Err[None]:
        """Run the wrapped ``init`` in a worker thread."""
        return await run_in_worker(self.writer.init, opts)

    def meta(self, state: S) -> Mapping[str, object]:
        """Call the wrapped ``meta`` directly."""
        return self.writer.meta(state)

    async def write_chunk(self, data: bytes, state: S) -> Ok[S] | Err[S]:
        """Run the wrapped ``write_chunk`` in a worker thread."""
        return await run_in_worker(self.writer.write_chunk, data, state)

    async def close(self, state: S, reason: CloseReason) -> Ok[S] | Err[S]:
        """Run the wrapped ``close`` in a worker thread."""
        return await run_in_worker(self.writer.close, state, reason)

    @property
    def resumable(self) -> bool:
        """Whether the wrapped writer has ``suspend`` and ``resume`` (L16-L18)."""
        return _resumable(self.writer)

    async def suspend(self, state: S) -> Ok[object] | Err[S]:
        """Run the wrapped ``suspend`` in a worker thread."""
        return await run_in_worker(_resumable_writer(self.writer).suspend, state)

    async def resume(self, saved: object) -> Ok[S] | Err[None]:
        """Run the wrapped ``resume`` in a worker thread."""
        return await run_in_worker(_resumable_writer(self.writer).resume, saved)

    def discard(self, state: S) -> None:
        """Call the wrapped writer's ``discard`` hook, if it has one."""
        discard(self.writer, state)


class InlineWriter(Generic[O, S]):
    """Use a synchronous writer with :class:`AsyncUploader`, calling it directly on the event loop.

    Only for writers whose callbacks never block (memory, hashing): a blocking
    callback stalls every task on the loop. Use :class:`ThreadedWriter` otherwise.
    """

    __slots__ = ("writer",)

    writer: UploadWriter[O, S]  #: the wrapped synchronous writer

    def __init__(self, writer: UploadWriter[O, S]) -> None:
        check_writer_shape(writer, asynchronous=False, needed_by="InlineWriter")
        self.writer = writer

    async def init(self, opts: O) -> Ok[S] | Err[None]:
        """Call the wrapped ``init``."""
        return self.writer.init(opts)

    def meta(self, state: S) -> Mapping[str, object]:
        """Call the wrapped ``meta``."""
        return self.writer.meta(state)

    async def write_chunk(self, data: bytes, state: S) -> Ok[S] | Err[S]:
        """Call the wrapped ``write_chunk``."""
        return self.writer.write_chunk(data, state)

    async def close(self, state: S, reason: CloseReason) -> Ok[S] | Err[S]:
        """Call the wrapped ``close``."""
        return self.writer.close(state, reason)

    @property
    def resumable(self) -> bool:
        """Whether the wrapped writer has ``suspend`` and ``resume`` (L16-L18)."""
        return _resumable(self.writer)

    async def suspend(self, state: S) -> Ok[object] | Err[S]:
        """Call the wrapped ``suspend``."""
        return _resumable_writer(self.writer).suspend(state)

    async def resume(self, saved: object) -> Ok[S] | Err[None]:
        """Call the wrapped ``resume``."""
        return _resumable_writer(self.writer).resume(saved)

    def discard(self, state: S) -> None:
        """Call the wrapped writer's ``discard`` hook, if it has one."""
        discard(self.writer, state)


def as_async_writer(writer: object) -> AsyncUploadWriter[Any, Any]:
    """``writer`` itself if it is async, else wrapped in :class:`ThreadedWriter`.

    What the uploads layer and the web layer do with whatever a writer factory
    gave, to run it under :class:`~uploadwriter.AsyncUploader`.
    """
    if is_async_writer(writer):
        return cast("AsyncUploadWriter[Any, Any]", writer)
    return ThreadedWriter(cast("UploadWriter[Any, Any]", writer))


def writer_and_opts(result: object, factory: str) -> tuple[object, object]:
    """Check what a writer factory returned: a ``(writer, opts)`` tuple.

    Raises:
        TypeError: it is not; the message names ``factory``.
    """
    if not isinstance(result, tuple) or len(result) != 2:
        raise TypeError(f"{factory} must return a (writer, opts) tuple, not {safe_repr(result)}")
    return result[0], result[1]
