"""The async driver, `AsyncUploader` (anyio: asyncio and trio)."""

from __future__ import annotations

from collections.abc import Coroutine
from types import TracebackType
from typing import Any, Generic, TypeVar, cast

import anyio

from ._adapters import InlineWriter
from ._base import DriverBase, note_exit_failure, raise_error
from ._deadline import ChunkDeadline
from ._errors import ChunkTimeout, UploadBusy
from ._events import Cancel, Chunk, CloseReason, Event, Leave, Suspend, TimedOut, check_event
from ._options import timeout_option
from ._protocols import (
    AsyncResumableWriter,
    AsyncUploadWriter,
    UploadWriter,
    check_writer_shape,
)
from .reducer import CLOSED, PENDING, SavedUpload, Step, resumed, start

__all__ = ("AsyncUploader",)

O = TypeVar("O")  # noqa: E741 - the writer's opts type, as in the protocol
S = TypeVar("S")

_LEAVE = Leave()


class AsyncUploader(DriverBase[S], Generic[O, S]):
    """Run one upload through an async writer, under asyncio or trio.

    ``init`` is awaited on entering the ``async with`` block. Leaving the block
    while the upload is open (normally, by an exception, because the task was
    cancelled, or from another task) closes the writer with ``Cancel()``; every
    ``close`` is shielded from cancellation and runs to completion.

    Several tasks may share one upload: ``send(Cancel())`` (or leaving the
    block) while another task's write is pending is recorded, and the writer
    is closed with ``Cancel()`` as soon as that write answers; it returns once
    the writer is closed. A chunk or ``Done()`` sent meanwhile is refused
    (``UploadBusy``), as is any ``send`` while an earlier ``send`` has not
    run yet (a ``send`` that was not awaited would otherwise lose its chunk).

    If no chunk arrives for ``chunk_timeout`` seconds — counted from entering
    the block, so an ``init`` that hangs or a client that never sends is timed
    out too — the block's body is cancelled, the writer is closed with
    ``Cancel()`` and ``ChunkTimeout`` is raised from the ``async with``, like
    ``anyio.fail_after``. A write the timeout cuts short counts as not
    written; a write that completes after the deadline passed (a worker
    thread cannot be interrupted) is kept, and the upload still times out.
    ``close`` is never timed out. The timeout fires at most 5% late.

    With ``resumable=True`` (a writer with ``suspend`` and ``resume``), leaving
    the block or a chunk timeout suspends the upload instead of cancelling it
    (L16): :meth:`saved` gives what storage keeps, and :meth:`resume` takes it
    up again, in any process. ``suspend`` runs shielded, like ``close``.

    Raises:
        TypeError: ``writer`` lacks a callback or has a sync one (wrap a sync
            writer in :class:`ThreadedWriter` or :class:`InlineWriter`); a
            size or ``chunk_timeout`` has the wrong type.
        InvalidLimit: a size is negative, or ``chunk_timeout`` is not a
            finite number of seconds above 0.
    """

    __slots__ = (
        "_deadline",
        "_inline",
        "_interrupted",
        "_opts",
        "_saved",
        "_settled",
        "_timed_out",
        "_timeout",
        "_unstarted",
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
        resumable: bool = False,
    ) -> None:
        check_writer_shape(writer, asynchronous=True, resumable=resumable)
        self._writer = writer
        self._meta = writer.meta
        self._opts = opts
        self._upload = start(expected_size=expected_size, max_size=max_size, resumable=resumable)
        self._saved: SavedUpload | None = None
        self._timeout = timeout_option("chunk_timeout", chunk_timeout)
        self._entered = False
        self._deadline: ChunkDeadline | None = None
        # InlineWriter only calls a synchronous writer: its write never
        # suspends, so it is called here directly, without a coroutine.
        inline: object = writer
        self._inline: UploadWriter[Any, S] | None = (
            inline.writer if type(inline) is InlineWriter else None
        )
        #: send() calls made whose coroutine has not started yet.
        self._unstarted = 0
        #: Set once the task performing writer calls is done with them.
        self._settled: anyio.Event | None = None
        # A call cut short by our own deadline: its cancellation, re-raised
        # once the writer is closed to unwind the body; and the ChunkTimeout
        # that __aexit__ then raises.
        self._interrupted: BaseException | None = None
        self._timed_out: BaseException | None = None

    @classmethod
    def resume(
        cls,
        writer: AsyncResumableWriter[Any, S, Any],
        saved: SavedUpload,
        *,
        chunk_timeout: float | None = 10.0,
    ) -> AsyncUploader[Any, S]:
        """Return an uploader that takes a suspended upload up again (L17).

        Entering it awaits the writer's ``resume`` with what ``suspend`` saved;
        the upload goes on at ``saved.size`` bytes, with its limits.

        Raises:
            TypeError: ``writer`` is not a resumable async writer, or ``saved``
                not a :class:`~uploadwriter.reducer.SavedUpload`.
        """
        if not isinstance(saved, SavedUpload):
            raise TypeError(f"AsyncUploader.resume needs a SavedUpload, not {saved!r}")
        uploader: AsyncUploader[Any, S] = AsyncUploader(
            writer, None, chunk_timeout=chunk_timeout, resumable=True
        )
        uploader._upload = resumed(saved)
        uploader._saved = saved
        return uploader

    async def __aenter__(self) -> AsyncUploader[O, S]:
        """Start the chunk timeout and await the writer's ``init``.

        Raises:
            InitError: ``init`` returned ``Err`` or raised.
            ChunkTimeout: ``init`` did not answer within ``chunk_timeout``.
            UploadBusy: this uploader was entered before (one upload each).
        """
        if self._entered:
            raise UploadBusy("an AsyncUploader runs a single upload; create a new one for the next")
        self._entered = True
        deadline = None
        if self._timeout is not None:
            deadline = self._deadline = ChunkDeadline(self._timeout)
            deadline.enter()
        try:
            try:
                if self._saved is None:
                    answer: object = await self._writer.init(self._opts)
                else:
                    answer = await self._resumable().resume(self._saved.writer)
            except BaseException as exc:  # noqa: BLE001 - fed to the reducer (L11), which re-raises
                answer = self._cut_short(exc)
            await self._run(self._answer(answer))
        except BaseException as error:
            if deadline is not None:
                self._deadline = None
                if deadline.exit(type(error), error, error.__traceback__):
                    # Our deadline cut init short: the upload never started.
                    raise self._timed_out or ChunkTimeout(deadline.seconds) from None
            raise
        if deadline is not None:
            self._after_call(deadline)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        deadline = self._deadline
        self._deadline = None
        swallowed = False
        try:
            if deadline is not None:
                swallowed = deadline.exit(exc_type, exc, tb)
        finally:
            # L10, whatever happened above (even a scope exited from another
            # task): the reducer closes the writer with Cancel() if the upload
            # is still open (or suspends a resumable one). If our deadline
            # cancelled the body, that is the chunk timeout (L13).
            timed_out = swallowed and deadline is not None and deadline.fired
            event: Leave | TimedOut = _LEAVE
            if timed_out and self._timeout is not None:
                event = TimedOut(self._timeout)
            await self._leave(event, None if swallowed else exc)
        if swallowed:
            # Never a silent skip of the body: the timeout it was cut short by.
            raise self._timed_out or ChunkTimeout(deadline.seconds if deadline else 0.0)
        return False

    async def _leave(self, event: Leave | TimedOut, propagating: BaseException | None) -> None:
        with anyio.CancelScope(shield=True):
            try:
                step = self._reduce(event)
                if step.call is None and self._upload.phase in PENDING:
                    # Another task's call is pending: it closes the writer as
                    # soon as that call answers; wait for that.
                    await self._wait_settled()
                else:
                    await self._run(step)
            except BaseException as error:
                if propagating is None:
                    raise
                note_exit_failure(propagating, error)

    def send(self, event: Event) -> Coroutine[Any, Any, None]:
        """Send ``Chunk(data)``, ``Done()``, ``Cancel()`` or ``Suspend()``; perform what follows.

        Await it: the writer calls it asks for are made when it runs.

        Raises:
            FileTooLarge: the chunk would pass the limit; the writer was cancelled.
            WriterFailure: the writer returned ``Err`` or raised; it was closed.
            IncompleteUpload: ``Done()`` came before ``expected_size`` bytes.
            UploadClosed: a chunk was sent after the upload closed (or while it closes).
            UploadBusy: the block was not entered; another task's write is
                pending (a chunk or ``Done()``); an earlier ``send`` was not awaited.
            ChunkTimeout: the write completed after the chunk timeout passed.
            InvalidEvent: ``event`` is not one of the caller's events (raised at once,
                by ``send`` itself), or ``Suspend()`` for an upload that is not
                resumable (raised when awaited).
        """
        check_event(event)
        self._unstarted += 1
        return self._send(event)

    async def _send(self, event: Event) -> None:
        self._unstarted -= 1
        if not self._entered:
            raise UploadBusy(
                f"{event!r} was sent before the upload started: enter the `async with "
                "AsyncUploader(...) as up:` block first (entering it awaits the writer's init)"
            )
        if self._unstarted and not isinstance(event, Cancel):
            raise UploadBusy(
                f"{event!r} was refused: {self._unstarted} earlier send() call(s) have not "
                "run yet (was an `await` forgotten?); sending this first would write out of "
                "order or lose a chunk. Await every send(); nothing was done"
            )
        deadline = self._deadline
        if deadline is not None:
            deadline.refresh()
        step = self._reduce(event)
        if step.call is None and step.error is None and self._upload.phase in PENDING:
            # A Cancel() recorded while another task's call is pending: return
            # once that task has closed the writer.
            await self._wait_settled()
            return
        try:
            await self._run(step)
        finally:
            if deadline is not None:
                self._after_call(deadline)

    def _after_call(self, deadline: ChunkDeadline) -> None:
        if self._upload.phase is CLOSED:
            # Closed: nothing left to time out; the rest of the block is the caller's.
            deadline.disarm()
        else:
            deadline.refresh()

    async def _run(self, step: Step[S]) -> None:
        """Perform the writer calls ``step`` asks for, then raise its error, if any."""
        try:
            while (call := step.call) is not None:
                if isinstance(call, Chunk):
                    answer = await self._write(call.data, step.upload.state)
                else:
                    answer = await self._end(step.upload.state, call)
                step = self._answer(answer)
        finally:
            settled = self._settled
            if settled is not None:
                self._settled = None
                settled.set()
        if step.error is not None:
            interrupted = self._interrupted
            if interrupted is not None:
                # Our deadline cut a call short, and the reducer closed the
                # writer: unwind the body with the cancellation, as any
                # timeout scope does; __aexit__ raises the ChunkTimeout.
                self._interrupted = None
                self._timed_out = step.error
                raise interrupted
            if isinstance(step.error, ChunkTimeout):
                self._timed_out = step.error
            raise_error(step)

    def _answer(self, answer: object) -> Step[S]:
        # Reduced against the current upload: another task may have recorded
        # a Cancel() meanwhile. If our deadline passed while the call was
        # pending, the reducer hears of it first (it closes the writer once
        # this answer is in, whatever the answer).
        deadline = self._deadline
        if deadline is not None and deadline.fired and self._timeout is not None:
            self._reduce(TimedOut(self._timeout))
        return self._reduce(answer)

    def _cut_short(self, exc: BaseException) -> BaseException:
        """Note a cancellation of our own deadline, to re-raise once the writer is closed."""
        deadline = self._deadline
        if (
            deadline is not None
            and deadline.fired
            and isinstance(exc, anyio.get_cancelled_exc_class())
        ):
            self._interrupted = exc
        return exc

    async def _wait_settled(self) -> None:
        while self._upload.phase in PENDING:
            settled = self._settled
            if settled is None:
                settled = self._settled = anyio.Event()
            await settled.wait()

    async def _write(self, data: bytes, state: S) -> object:
        """Await ``write_chunk``; return its answer or the exception it raised."""
        inline = self._inline
        if inline is not None:
            try:
                return inline.write_chunk(data, state)
            except BaseException as exc:  # noqa: BLE001 - fed to the reducer (L11)
                return exc
        try:
            return await self._writer.write_chunk(data, state)
        except BaseException as exc:  # noqa: BLE001 - fed to the reducer (L11)
            return self._cut_short(exc)

    async def _end(self, state: S, call: CloseReason | Suspend) -> object:
        """Await ``close`` (or ``suspend``), shielded; return its answer or what it raised."""
        deadline = self._deadline
        if deadline is not None:
            deadline.disarm()  # a close or a suspension is never timed out
        answer: object
        with anyio.CancelScope(shield=True):
            try:
                if isinstance(call, Suspend):
                    answer = await self._resumable().suspend(state)
                else:
                    answer = await self._writer.close(state, call)
            except BaseException as exc:  # noqa: BLE001 - fed to the reducer (L11)
                answer = exc
        return answer

    def _resumable(self) -> AsyncResumableWriter[Any, S, Any]:
        # Only called for a resumable upload: check_writer_shape made sure of it.
        return cast("AsyncResumableWriter[Any, S, Any]", self._writer)
