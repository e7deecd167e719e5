"""``PipelinedWriter``: a synchronous writer behind a bounded queue, written by a worker thread."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from typing import Any, Final, Generic, TypeVar, cast

from ._errors import InitError, WriterFailure
from ._events import Cancel, Chunk, CloseReason, Done
from ._handoff import Answer, Job, Raised, answer_here, run_in_worker, submit
from ._options import count_option
from ._protocols import UploadWriter, check_writer_shape, discard
from ._results import Err, Ok
from ._sync import Uploader

__all__ = ("MAX_QUEUED", "Pipeline", "PipelinedWriter")

O = TypeVar("O")  # noqa: E741 - the writer's opts type, as in the protocol
S = TypeVar("S")

#: The default bound of a pipeline's queue, in bytes (four 64 000-byte chunks).
MAX_QUEUED: Final = 256 * 1024

_DONE: Final = Done()
_CANCEL: Final = Cancel()


class _Close:
    """The last event of a pipeline: close the wrapped writer's upload, then answer."""

    __slots__ = ("answer", "reason")

    def __init__(self, reason: CloseReason, answer: Answer) -> None:
        self.reason = reason
        self.answer = answer


class Pipeline(Job, Generic[S]):
    """One upload behind a :class:`PipelinedWriter`: its queue, and the wrapped writer's upload.

    The state that ``PipelinedWriter``'s callbacks pass around: the same
    object for the whole upload (like an open file a state refers to). The
    wrapped writer runs in an :class:`~uploadwriter.Uploader` of its own, fed
    by a worker thread from the queue, so the reducer decides every call made
    to it too.
    """

    __slots__ = (
        "_draining",
        "_events",
        "_failure",
        "_limit",
        "_lock",
        "_need",
        "_queued",
        "_reported",
        "_room",
        "_upload",
        "_writer",
        "_written",
        "ok",
    )

    def __init__(self, writer: UploadWriter[Any, S], limit: int) -> None:
        self._writer = writer
        self._limit = limit
        self._upload: Uploader[Any, S] | None = None
        self._lock = threading.Lock()
        #: Chunks' bytes, then a _Close; appended on the loop, taken by the worker.
        self._events: deque[bytes | _Close] = deque()
        self._draining = False  # a worker is taking events (guarded by _lock)
        self._queued = 0  # bytes queued so far (written by the loop's thread only)
        self._written = 0  # bytes taken off the queue so far (guarded by _lock)
        self._room: Answer | None = None  # a sender waiting for room (guarded by _lock)
        self._need = 0  # the size of its chunk
        #: Why the wrapped upload failed (set by the worker), and whether a caller heard of it.
        self._failure: BaseException | None = None
        self._reported = False
        #: The answer to every write accepted into the queue (the state never changes).
        self.ok: Final[Ok[Pipeline[S]]] = Ok(self)

    @property
    def state(self) -> S | None:
        """The wrapped writer's state, as of its last answer (``None`` before ``init``)."""
        return None if self._upload is None else self._upload.state

    @property
    def failure(self) -> BaseException | None:
        """Why the wrapped writer's upload failed, once the worker has seen it; else ``None``."""
        return self._failure

    def __repr__(self) -> str:
        return (
            f"<Pipeline of {type(self._writer).__name__}: {self._queued - self._written} bytes "
            f"queued, {self._written} taken{', failed' if self._failure else ''}>"
        )

    # --- in a worker thread ---------------------------------------------------------------------

    def start(self, opts: object) -> Ok[Pipeline[S]] | Err[None]:
        """Run the wrapped writer's ``init`` (in a worker thread)."""
        upload = Uploader(self._writer, opts)
        try:
            upload.__enter__()
        except InitError as exc:
            return Err(exc.reason, None)
        self._upload = upload
        return self.ok

    def work(self) -> None:
        """Take every event queued, in order, until the queue is empty (in a worker thread)."""
        events = self._events
        while True:
            try:
                event = events.popleft()
            except IndexError:
                with self._lock:
                    if events:
                        continue
                    self._draining = False
                    return
            if type(event) is bytes:
                self._write(event)
            else:
                assert isinstance(event, _Close)
                self._close(event)

    def _write(self, data: bytes) -> None:
        upload = self._upload
        assert upload is not None
        if self._failure is None:
            try:
                upload.send(Chunk(data))
            except BaseException as exc:  # noqa: BLE001 - kept, and reported to the next caller
                # The wrapped upload is closed already: its reducer closed the
                # writer with Error(reason) (or Cancel() after an interruption).
                self._failure = exc
        # (Once it failed, the chunks queued after the failure are not written.)
        with self._lock:
            self._written += len(data)
            room = self._room
            if room is not None and (self._has_room(self._need) or self._failure is not None):
                self._room = None
                room.set(None)

    def _close(self, event: _Close) -> None:
        upload = self._upload
        assert upload is not None
        answer: object = self.ok
        failure = self._failure
        if failure is None:
            try:
                upload.send(_DONE if isinstance(event.reason, Done) else _CANCEL)
            except WriterFailure as exc:
                answer = Err(exc.reason, self)
            except BaseException as exc:  # noqa: BLE001 - raised again in the closing task
                answer = Raised(exc)
        elif not self._reported:
            # A queued write failed and no caller has heard of it: the close says so.
            answer = _failed(failure, self)
        else:
            ending = upload.upload.ending
            if ending is not None and ending.later_failure is not None:
                answer = Err(ending.later_failure, self)
        event.answer.set(answer)

    # --- on the event loop ------------------------------------------------------------------------

    def _has_room(self, size: int) -> bool:
        # Wait until half the queue is free (or all of it, for a large chunk), not
        # just enough for one chunk: a sender then wakes once per batch of writes.
        queued = self._queued - self._written
        return queued == 0 or (queued + size <= self._limit and queued <= self._limit // 2)

    def _push(self, event: bytes | _Close) -> None:
        self._events.append(event)
        with self._lock:
            if self._draining:
                return
            self._draining = True
        submit(self)

    async def write(self, data: bytes) -> Ok[Pipeline[S]] | Err[Pipeline[S]]:
        """Queue ``data``, once there is room; report a failure of a write queued before."""
        if self._failure is not None:
            return self._report()
        size = len(data)
        queued = self._queued - self._written
        if queued and queued + size > self._limit:
            await self._wait_for_room(size)
            if self._failed():  # while it waited
                return self._report()
        self._queued += size
        self._push(data)
        return self.ok

    async def _wait_for_room(self, size: int) -> None:
        answer = answer_here()
        assert answer is not None  # init checked the loop
        with self._lock:
            if self._has_room(size):  # pragma: no cover - the worker emptied it just now
                return
            self._room = answer
            self._need = size
        try:
            # Cancellable: a chunk still waiting here is not queued, nor written.
            await answer.wait_or_cancel()
        finally:
            with self._lock:
                if self._room is answer:
                    self._room = None

    def _failed(self) -> bool:
        return self._failure is not None

    def _report(self) -> Err[Pipeline[S]]:
        failure = self._failure
        assert failure is not None
        self._reported = True
        answer = _failed(failure, self)
        if type(answer) is Raised:
            raise answer.exc
        return cast("Err[Pipeline[S]]", answer)

    async def close(self, reason: CloseReason) -> Ok[Pipeline[S]] | Err[Pipeline[S]]:
        """Queue the end of the upload; return once the wrapped writer is closed."""
        answer = answer_here()
        assert answer is not None  # init checked the loop
        self._push(_Close(reason, answer))
        value = await answer.wait()
        if type(value) is Raised:
            raise value.exc
        return cast("Ok[Pipeline[S]] | Err[Pipeline[S]]", value)


def _failed(failure: BaseException, pipeline: Pipeline[Any]) -> Err[Pipeline[Any]] | Raised:
    """How a failure of the wrapped upload is told: the ``Err`` of the failed callback, as the
    wrapped writer answered it; an interruption (``KeyboardInterrupt``...) raised again."""
    if isinstance(failure, WriterFailure):
        return Err(failure.reason, pipeline)
    return Raised(failure)


class PipelinedWriter(Generic[O, S]):
    """Use a synchronous writer with :class:`AsyncUploader`, its writes queued for a worker thread.

    ``send(Chunk(...))`` returns as soon as the chunk is queued; a worker
    thread writes every chunk queued since it last woke, in order, while the
    task goes on receiving. The queue holds at most ``max_queued`` bytes (a
    larger chunk is queued alone): a sender that finds it full waits until
    it is half empty (back-pressure). So a thread round trip is paid once per
    batch rather than once per chunk, when chunks arrive faster than they are
    written. The wrapped writer runs in an :class:`Uploader` of its own,
    driven by the same reducer: every call made to it follows the lifecycle
    rules.

    What changes, because a write now answers before it has happened:

    * ``send`` counts a chunk (``size``) when it is queued, not written.
    * A write that fails is reported to the next call the upload makes: the
      next ``send(Chunk(...))`` raises ``WriterFailure`` carrying the
      writer's reason (``during="write_chunk"``), and nothing more is written;
      if the next call is the close (``Done()``, ``Cancel()``, leaving the
      block), that close raises ``WriterFailure`` (``during="close"``): an
      upload whose write failed never completes, and its failure is never
      lost. The wrapped writer was closed at once, with ``Error(reason)``
      (L4), by its own upload; chunks queued behind the failed one are
      dropped, never written.
    * A ``KeyboardInterrupt`` or ``GeneratorExit`` raised by a write crosses
      back as a value and is raised again, in the same way, by the next call.
    * ``close`` waits until every queued chunk is written: it never overlaps
      a write. A cancelled task (or a chunk timeout) that waits for room
      leaves its chunk unqueued; the close that follows still waits for the
      chunks already queued, then closes the wrapped writer with ``Cancel()``.
    * The upload's state is the :class:`Pipeline` (``state.state`` is the
      wrapped writer's); ``meta`` and ``discard`` read it.

    ``init`` and ``close`` are awaited like :class:`ThreadedWriter`'s: a
    cancellation waits for the running callback, whose answer counts. Needs
    asyncio or trio (what anyio runs on).

    Raises:
        TypeError: ``writer`` is not a synchronous writer, or ``max_queued`` not an int.
        InvalidLimit: ``max_queued`` is less than 1.
    """

    __slots__ = ("max_queued", "writer")

    writer: UploadWriter[O, S]  #: the wrapped synchronous writer
    max_queued: int  #: the queue's bound in bytes

    def __init__(self, writer: UploadWriter[O, S], *, max_queued: int = MAX_QUEUED) -> None:
        check_writer_shape(writer, asynchronous=False, needed_by="PipelinedWriter")
        self.writer = writer
        self.max_queued = count_option("max_queued", max_queued, "1 byte or more")

    async def init(self, opts: O) -> Ok[Pipeline[S]] | Err[None]:
        """Start the pipeline: the wrapped ``init`` runs in a worker thread.

        Raises:
            RuntimeError: the event loop is neither asyncio nor trio.
        """
        if answer_here() is None:
            raise RuntimeError("PipelinedWriter needs asyncio or trio")
        return await run_in_worker(Pipeline(self.writer, self.max_queued).start, opts)

    def meta(self, state: Pipeline[S]) -> Mapping[str, object]:
        """The wrapped writer's meta of the completed upload."""
        return self.writer.meta(cast("S", state.state))

    async def write_chunk(
        self, data: bytes, state: Pipeline[S]
    ) -> Ok[Pipeline[S]] | Err[Pipeline[S]]:
        """Queue ``data`` for the worker thread (waiting for room if the queue is full)."""
        return await state.write(data)

    async def close(
        self, state: Pipeline[S], reason: CloseReason
    ) -> Ok[Pipeline[S]] | Err[Pipeline[S]]:
        """Wait until every queued chunk is written, then close the wrapped writer's upload."""
        return await state.close(reason)

    def discard(self, state: Pipeline[S]) -> None:
        """Call the wrapped writer's ``discard`` hook, if it has one."""
        discard(self.writer, state.state)
