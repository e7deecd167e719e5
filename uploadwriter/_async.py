"""The async driver (anyio: asyncio and trio), and adapters for synchronous writers."""

from __future__ import annotations

import asyncio
import contextlib
import math
import sys
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Generic, TypeVar

import anyio
import anyio.to_thread

from ._base import DriverBase, note_exit_failure
from ._errors import InvalidLimit, UploadBusy
from ._events import Cancel, Chunk, CloseReason, Event, TimedOut
from ._protocols import AsyncUploadWriter, UploadWriter, check_writer_shape, discard
from ._results import Err, Ok
from .reducer import CLOSED, Upload, reduce, start

__all__ = ("AsyncUploader", "InlineWriter", "ThreadedWriter")

O = TypeVar("O")  # noqa: E741 - the writer's opts type, as in the protocol
S = TypeVar("S")

_CANCEL = Cancel()

# The chunk timeout fires between ``chunk_timeout`` and this many times it
# after the last chunk, so the deadline need not be moved on every chunk.
_SLACK = 1.05


def _loop_clock() -> Callable[[], float]:
    """Return the running loop's clock: the one ``anyio.current_time()`` reads.

    ``anyio.current_time()`` looks up the running backend on every call (about
    half a microsecond, twice per chunk); this looks it up once per upload.
    Each candidate is checked against anyio's own reading, so whatever loop
    runs (a mock clock, trio-asyncio), the deadlines are in anyio's time.
    """
    candidates: list[Callable[[], float]] = []
    with contextlib.suppress(RuntimeError):  # no asyncio loop runs here
        candidates.append(asyncio.get_running_loop().time)
    trio = sys.modules.get("trio")
    if trio is not None:
        candidates.append(trio.current_time)
    for clock in candidates:
        try:
            before = anyio.current_time()
            now = clock()
            after = anyio.current_time()
        except RuntimeError:  # that loop is not the one running here
            continue
        if before <= now <= after:
            return clock
    return anyio.current_time


def _check_timeout(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise InvalidLimit(f"chunk_timeout must be a number of seconds or None, not {value!r}")
    if value <= 0:
        raise InvalidLimit(f"chunk_timeout must be more than 0 seconds, not {value!r}")
    return float(value)


class AsyncUploader(DriverBase[S], Generic[O, S]):
    """Run one upload through an async writer, under asyncio or trio.

    ``init`` is awaited on entering the ``async with`` block. Leaving the block
    while the upload is open (normally, by an exception, or because the task
    was cancelled) closes the writer with ``Cancel()``; every ``close`` is
    shielded from cancellation and runs to completion.

    If no chunk arrives for ``chunk_timeout`` seconds (counted from entering
    the block, so a client that never sends is timed out too), the block's body
    is cancelled, the writer is closed with ``Cancel()`` and ``ChunkTimeout``
    is raised from the ``async with`` — like ``anyio.fail_after``, whether the
    body was waiting for the client or a write was in progress (a write cut
    short that way counts as not written). The timeout fires at most 5% late.

    Raises:
        TypeError: ``writer`` lacks a callback or has a sync one (wrap a sync
            writer in :class:`ThreadedWriter` or :class:`InlineWriter`).
        InvalidLimit: a size is negative, or ``chunk_timeout`` is not positive.
    """

    __slots__ = (
        "_clock",
        "_entered",
        "_interrupted",
        "_opts",
        "_refreshed",
        "_scope",
        "_timed_out",
        "_timeout",
        "_writer",
    )

    def __init__(
        self,
        writer: AsyncUploadWriter[O, S],
        opts: O,
        *,
        expected_size: int | None = None,
        max_size: int | None = None,
        chunk_timeout: float | None = 10.0,
    ) -> None:
        check_writer_shape(writer, asynchronous=True)
        self._writer = writer
        self._meta = writer.meta
        self._opts = opts
        self._upload: Upload[S] = start(expected_size=expected_size, max_size=max_size)
        self._timeout = _check_timeout(chunk_timeout)
        self._scope: anyio.CancelScope | None = None
        self._refreshed = -math.inf
        self._clock: Callable[[], float] = anyio.current_time
        self._entered = False
        # A write cut short by our own deadline: its cancellation, re-raised
        # to unwind the body, and the ChunkTimeout __aexit__ then raises.
        self._interrupted: BaseException | None = None
        self._timed_out: BaseException | None = None

    async def __aenter__(self) -> AsyncUploader[O, S]:
        """Await the writer's ``init`` and start the chunk timeout.

        Raises:
            InitError: ``init`` returned ``Err`` or raised.
            UploadBusy: this uploader was entered before (one upload each).
        """
        if self._entered:
            raise UploadBusy("an AsyncUploader runs a single upload; create a new one for the next")
        self._entered = True
        try:
            answer: object = await self._writer.init(self._opts)
        except BaseException as exc:  # noqa: BLE001 - fed to the reducer (L11), which re-raises
            answer = exc
        await self._feed(answer)
        if self._timeout is not None:
            self._clock = _loop_clock()
            self._scope = anyio.CancelScope()
            self._scope.__enter__()
            self._refresh()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        event: Cancel | TimedOut = _CANCEL
        swallowed = False
        scope = self._scope
        if scope is not None:
            self._scope = None
            if scope.__exit__(exc_type, exc, tb) and scope.cancel_called:
                # Our own deadline cancelled the body: that is the chunk
                # timeout, which the reducer turns into ChunkTimeout (L13).
                swallowed = True
                exc = None
                if self._timed_out is not None:
                    # It cut a write short: the writer is closed already.
                    raise self._timed_out
                assert self._timeout is not None
                event = TimedOut(self._timeout)
        try:
            await self._feed(event)
        except BaseException as error:
            if exc is None:
                raise
            note_exit_failure(exc, error)
        # Suppress only the cancellation our own scope caught.
        return swallowed

    def _refresh(self) -> None:
        scope = self._scope
        if scope is None:
            return
        if self._upload.phase is CLOSED:
            # Closed: nothing left to time out; the rest of the block is the caller's.
            scope.deadline = math.inf
            return
        now = self._clock()
        timeout = self._timeout
        assert timeout is not None
        if now - self._refreshed >= timeout * (_SLACK - 1):
            self._refreshed = now
            scope.deadline = now + timeout * _SLACK

    async def send(self, event: Event) -> None:
        """Send ``Chunk(data)``, ``Done()`` or ``Cancel()`` and perform what follows.

        Raises:
            FileTooLarge: the chunk would pass the limit; the writer was cancelled.
            WriterFailure: the writer returned ``Err`` or raised; it was closed.
            IncompleteUpload: ``Done()`` came before ``expected_size`` bytes.
            UploadClosed: a chunk was sent after the upload closed.
            InvalidEvent: ``event`` is not one of the three events.
        """
        self._refresh()
        try:
            await self._feed(event)
        finally:
            self._refresh()

    async def _feed(self, event: object) -> None:
        step = reduce(self._upload, event)
        self._upload = upload = step.upload
        call = step.call
        while call is not None:
            writer = self._writer
            if isinstance(call, Chunk):
                answer: object = await self._write(call.data, upload.state)
            else:
                with anyio.CancelScope(shield=True):
                    try:
                        answer = await writer.close(upload.state, call)
                    except BaseException as exc:  # noqa: BLE001 - fed to the reducer (L11)
                        answer = exc
            step = reduce(upload, answer)
            self._upload = upload = step.upload
            call = step.call
        if step.error is not None:
            interrupted = self._interrupted
            if interrupted is not None:
                # Our deadline cut the write short, and the reducer closed the
                # writer: unwind the body with the cancellation, as any
                # timeout scope does; __aexit__ raises the ChunkTimeout.
                self._interrupted = None
                self._timed_out = step.error
                raise interrupted
            raise step.error

    async def _write(self, data: bytes, state: S) -> object:
        """Await ``write_chunk``; return its answer, the exception it raised, or ``TimedOut``."""
        inline: object = self._writer
        if type(inline) is InlineWriter:
            # InlineWriter only calls a synchronous writer: its write never
            # suspends, so no deadline can pass during it, and awaiting a
            # coroutine that would only call it costs more than the call:
            # call it here. (A subclass that suspends is awaited as usual.)
            try:
                return inline.writer.write_chunk(data, state)
            except BaseException as exc:  # noqa: BLE001 - fed to the reducer (L11)
                return exc
        try:
            return await self._writer.write_chunk(data, state)
        except BaseException as exc:  # noqa: BLE001 - fed to the reducer (L11)
            scope = self._scope
            if (
                scope is not None
                and scope.cancel_called
                and isinstance(exc, anyio.get_cancelled_exc_class())
            ):
                # Cut short by our own chunk timeout: the reducer closes the
                # writer with Cancel(), then _feed re-raises this cancellation.
                assert self._timeout is not None
                self._interrupted = exc
                return TimedOut(self._timeout)
            return exc


class ThreadedWriter(Generic[O, S]):
    """Use a synchronous writer with :class:`AsyncUploader`: each callback runs in a worker thread.

    For writers that block (files, network). A callback already running in its
    thread is not abandoned on cancellation: it finishes, and its answer counts.
    """

    __slots__ = ("writer",)

    writer: UploadWriter[O, S]  #: the wrapped synchronous writer

    def __init__(self, writer: UploadWriter[O, S]) -> None:
        check_writer_shape(writer, asynchronous=False, needed_by="ThreadedWriter")
        self.writer = writer

    async def init(self, opts: O) -> Ok[S] | Err[None]:
        """Run the wrapped ``init`` in a worker thread."""
        return await anyio.to_thread.run_sync(self.writer.init, opts)

    def meta(self, state: S) -> Mapping[str, object]:
        """Call the wrapped ``meta`` directly."""
        return self.writer.meta(state)

    async def write_chunk(self, data: bytes, state: S) -> Ok[S] | Err[S]:
        """Run the wrapped ``write_chunk`` in a worker thread."""
        return await anyio.to_thread.run_sync(self.writer.write_chunk, data, state)

    async def close(self, state: S, reason: CloseReason) -> Ok[S] | Err[S]:
        """Run the wrapped ``close`` in a worker thread."""
        return await anyio.to_thread.run_sync(self.writer.close, state, reason)

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

    def discard(self, state: S) -> None:
        """Call the wrapped writer's ``discard`` hook, if it has one."""
        discard(self.writer, state)
