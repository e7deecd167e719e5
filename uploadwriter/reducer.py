"""The pure reducer: everything that affects an upload's lifecycle lives in this module.

Theory of operation
-------------------
An upload is an immutable :class:`Upload` value. :func:`reduce` takes it and
one event and returns a :class:`Step`: the next ``Upload``, the writer call to
make next (if any), and the error to give the caller (if any). Events are

* what the caller sends: :class:`~uploadwriter.Chunk`, :class:`~uploadwriter.Done`,
  :class:`~uploadwriter.Cancel`;
* what a driver observes: :class:`~uploadwriter.TimedOut` (the chunk timeout);
* the writer's answer to the pending call: ``Ok``, ``Err``, the exception the
  callback raised (any ``BaseException`` instance), or whatever else it
  returned (a broken writer, treated as a failed call).

Each event falls in one :class:`Kind`, and the table :data:`TRANSITIONS` has
a row for every ``(phase, kind)``: the handler that computes the step and the
phases it may lead to. The table is the whole machine; :func:`reduce` looks the
row up in a copy of it indexed by numbers, built from it once (so the fast
path cannot drift from the table), and nothing else decides a transition.

A step's ``call`` is the writer call to perform with ``step.upload.state``:
a ``Chunk`` means ``write_chunk(call.data, state)``; a close reason means
``close(state, call)``; ``None`` means nothing. ``init`` is the first call of
every upload and is not named by a step: a driver calls it once, right after
:func:`start`, and feeds its answer back. A driver is therefore a loop::

    step = reduce(upload, event)
    while step.call is not None:
        answer = perform(step.call, step.upload.state)   # exception -> answer
        step = reduce(step.upload, answer)
    if step.error is not None:
        raise step.error

A driver that lets other tasks send while a call is pending reduces each
answer against its *current* upload, since a ``Cancel`` (or a chunk timeout)
may have been recorded meanwhile: a cancel is accepted at any moment. While a
call is pending it is remembered (:attr:`Upload.requested`), and the writer is
closed with ``Cancel()`` as soon as the pending call answers.

The reducer does no I/O, reads no clock, and never raises, whatever it is fed:
an event that does not fit the phase is answered with an error in the step and
an unchanged upload.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final, TypeVar

import attrs

from ._errors import (
    ChunkTimeout,
    FileTooLarge,
    IncompleteUpload,
    InitError,
    InvalidEvent,
    UploadBusy,
    UploadClosed,
    UploadError,
    UploadFailed,
    UploadInProgress,
    WriterFailure,
    safe_repr,
)
from ._events import Cancel, Chunk, CloseReason, Done, Error, TimedOut
from ._results import Err, Ok
from ._start import start
from ._values import (
    CANCEL,
    CHUNK,
    CLOSED,
    CLOSING,
    DONE,
    ERR,
    MALFORMED,
    OK,
    OPEN,
    PENDING,
    RAISED,
    STARTING,
    TIMED_OUT,
    WRITING,
    Ending,
    Kind,
    Limits,
    Phase,
    Step,
    Upload,
    kind_of,
)

__all__ = (
    "CLOSED",
    "CLOSING",
    "OPEN",
    "PENDING",
    "STARTING",
    "TRANSITIONS",
    "WRITING",
    "Ending",
    "Kind",
    "Limits",
    "Phase",
    "Step",
    "Transition",
    "Upload",
    "kind_of",
    "meta_error",
    "reduce",
    "start",
)

S = TypeVar("S")

_DONE: Final = Done()
_CANCEL: Final = Cancel()


def meta_error(upload: Upload[Any]) -> UploadError | None:
    """Return the error to raise if the writer's meta may not be asked for yet (L12), else None."""
    if upload._phase is not CLOSED:
        return UploadInProgress(
            f"the upload is {upload._phase.label} after {upload._size} bytes; "
            "meta is available once it has closed with Done()"
        )
    failure = upload.failure
    if failure is not None:
        return UploadFailed(f"the upload failed, so it has no meta: {safe_repr(failure)}", failure)
    if upload.close_reason != _DONE:
        return UploadFailed(
            f"the upload was closed with {upload.close_reason!r}, so it has no meta", None
        )
    return None


# --- transitions -----------------------------------------------------------
# Each handler takes the upload and the event and returns the step. They are
# small on purpose: the table below is the state machine.

Handler = Callable[[Upload[Any], Any], Step[Any]]


def _interruption(reason: object) -> bool:
    """Whether a raised answer is a cancellation, KeyboardInterrupt...: not a writer failure."""
    return isinstance(reason, BaseException) and not isinstance(reason, Exception)


def _close(
    upload: Upload[Any],
    reason: CloseReason,
    failure: BaseException | None,
    state: object,
    size: int | None = None,
) -> Step[Any]:
    ending = Ending(None, reason, failure)
    closing = Upload(
        CLOSING, state, upload._size if size is None else size, upload._limits, 0, ending
    )
    return Step(closing, reason)


def _close_as_requested(
    upload: Upload[Any], requested: Cancel | TimedOut, state: object, size: int
) -> Step[Any]:
    # The cancel (or chunk timeout) that arrived while the call was pending.
    failure = ChunkTimeout(requested.seconds) if isinstance(requested, TimedOut) else None
    return _close(upload, _CANCEL, failure, state, size)


def _unchanged(upload: Upload[Any], event: object) -> Step[Any]:
    return Step(upload)


def _request(upload: Upload[Any], event: Cancel | TimedOut) -> Step[Any]:
    if upload.requested is not None:
        return Step(upload)  # the first request stands
    return Step(upload.evolve(ending=Ending(requested=event)))


def _busy(upload: Upload[Any], event: object) -> Step[Any]:
    return Step(
        upload,
        None,
        UploadBusy(
            f"{safe_repr(event)} was sent while the writer's {_AWAITING[upload._phase]} "
            "has not answered yet (another task is sending); nothing was done"
        ),
    )


def _not_awaited(upload: Upload[Any], event: object) -> Step[Any]:
    return Step(
        upload,
        None,
        InvalidEvent(
            f"{safe_repr(event)} looks like a writer's answer, but no writer call is pending "
            f"(phase {upload._phase.label}); nothing was done"
        ),
    )


def _invalid(upload: Upload[Any], event: object) -> Step[Any]:
    return Step(
        upload,
        None,
        InvalidEvent(
            f"cannot send {safe_repr(event)} ({type(event).__name__}) to an upload: "
            "send Chunk(data), Done() or Cancel(); nothing was done"
        ),
    )


def _malformed(upload: Upload[Any], answer: object) -> InvalidEvent:
    return InvalidEvent(
        f"the writer's {_AWAITING[upload._phase]} returned {safe_repr(answer)}; "
        "a writer callback must return Ok(state) or Err(reason, state)"
    )


# STARTING


def _started(upload: Upload[Any], answer: Ok[Any]) -> Step[Any]:
    requested = upload.requested
    if requested is not None:
        return _close_as_requested(upload, requested, answer.state, 0)
    if upload._limits.expected_size == 0:
        # A zero-byte upload has reached its expected size already (L3).
        return _close(upload, _DONE, None, answer.state)
    return Step(Upload(OPEN, answer.state, 0, upload._limits))


def _never_started(upload: Upload[Any], error: BaseException) -> Step[Any]:
    closed = Upload(CLOSED, None, 0, upload._limits, 0, Ending(failure=error))
    return Step(closed, None, error)


def _init_err(upload: Upload[Any], answer: Err[Any]) -> Step[Any]:
    return _never_started(upload, InitError(answer.reason))


def _init_raised(upload: Upload[Any], exc: BaseException) -> Step[Any]:
    if not isinstance(exc, Exception):
        requested = upload.requested
        if isinstance(requested, TimedOut):
            # The chunk timeout cut init short: the upload never started.
            return _never_started(upload, ChunkTimeout(requested.seconds))
        return _never_started(upload, exc)  # cancellation, Ctrl-C...: it goes on
    return _never_started(upload, InitError(exc))


def _init_malformed(upload: Upload[Any], answer: object) -> Step[Any]:
    return _never_started(upload, InitError(_malformed(upload, answer)))


# OPEN


def _chunk(upload: Upload[Any], event: Chunk) -> Step[Any]:
    n = len(event.data)
    limits = upload._limits
    limit = limits.limit
    if limit is not None and upload._size + n > limit:
        return _close(upload, _CANCEL, FileTooLarge(limit, upload._size, n), upload._state)
    return Step(Upload(WRITING, upload._state, upload._size, limits, n), event)


def _done(upload: Upload[Any], event: Done) -> Step[Any]:
    expected = upload._limits.expected_size
    if expected is not None and upload._size < expected:
        return _close(upload, _CANCEL, IncompleteUpload(expected, upload._size), upload._state)
    return _close(upload, _DONE, None, upload._state)


def _cancel(upload: Upload[Any], event: Cancel) -> Step[Any]:
    return _close(upload, _CANCEL, None, upload._state)


def _timed_out(upload: Upload[Any], event: TimedOut) -> Step[Any]:
    return _close(upload, _CANCEL, ChunkTimeout(event.seconds), upload._state)


# WRITING


def _written(upload: Upload[Any], answer: Ok[Any]) -> Step[Any]:
    size = upload._size + upload._inflight
    limits = upload._limits
    ending = upload._ending
    if ending is not None and ending.requested is not None:
        return _close_as_requested(upload, ending.requested, answer.state, size)
    if size == limits.expected_size:
        return _close(upload, _DONE, None, answer.state, size)
    return Step(Upload(OPEN, answer.state, size, limits))


def _write_failed(upload: Upload[Any], reason: object, state: object) -> Step[Any]:
    if _interruption(reason):
        assert isinstance(reason, BaseException)
        requested = upload.requested
        if isinstance(requested, TimedOut):
            # The chunk timeout cut the write short: it counts as not written.
            return _close(upload, _CANCEL, ChunkTimeout(requested.seconds), state)
        # Cancellation, KeyboardInterrupt...: cancel the writer, then let it go on.
        return _close(upload, _CANCEL, reason, state)
    return _close(upload, Error(reason), WriterFailure(reason, during="write_chunk"), state)


def _write_err(upload: Upload[Any], answer: Err[Any]) -> Step[Any]:
    return _write_failed(upload, answer.reason, answer.state)


def _write_raised(upload: Upload[Any], exc: BaseException) -> Step[Any]:
    return _write_failed(upload, exc, upload._state)


def _write_malformed(upload: Upload[Any], answer: object) -> Step[Any]:
    return _write_failed(upload, _malformed(upload, answer), upload._state)


# CLOSING


def _close_answered(upload: Upload[Any], state: object, reason: object, ok: bool) -> Step[Any]:
    # Set by _close, the only way into CLOSING (an upload built by hand may lack it).
    ending = upload._ending or Ending()
    failure = ending.failure
    error = failure
    close_failure: object = None
    if not ok:
        if _interruption(reason):
            assert isinstance(reason, BaseException)
            error = reason  # an interrupted close: the interruption goes on (L11)
            failure = failure if failure is not None else reason
        elif failure is None:
            error = failure = WriterFailure(reason, during="close")
        else:
            # The first failure is what the caller gets; the close's own
            # failure travels with it (the driver adds it as a note, L11).
            close_failure = reason
    closed = Upload(
        CLOSED,
        state,
        upload._size,
        upload._limits,
        0,
        Ending(None, ending.close_reason, failure, close_failure),
    )
    return Step(closed, None, error)


def _closed_ok(upload: Upload[Any], answer: Ok[Any]) -> Step[Any]:
    return _close_answered(upload, answer.state, None, ok=True)


def _closed_err(upload: Upload[Any], answer: Err[Any]) -> Step[Any]:
    return _close_answered(upload, answer.state, answer.reason, ok=False)


def _close_raised(upload: Upload[Any], exc: BaseException) -> Step[Any]:
    return _close_answered(upload, upload._state, exc, ok=False)


def _close_malformed(upload: Upload[Any], answer: object) -> Step[Any]:
    return _close_answered(upload, upload._state, _malformed(upload, answer), ok=False)


def _refuse_chunk(upload: Upload[Any], event: Chunk) -> Step[Any]:
    return Step(upload, None, UploadClosed(upload._size, len(event.data), upload._phase.label))


_AWAITING: Final = {STARTING: "init", WRITING: "write_chunk", CLOSING: "close"}


@attrs.frozen
class Transition:
    """One row of the state machine: the handler, and the phases it may lead to."""

    handler: Handler
    to: frozenset[Phase]
    #: What the row does, in a few words (the docs' state diagram prints it).
    summary: str


def _row(handler: Handler, summary: str, *to: Phase) -> Transition:
    return Transition(handler, frozenset(to), summary)


_STAY = "refused, nothing done"

TRANSITIONS: Mapping[tuple[Phase, Kind], Transition] = MappingProxyType(
    {
        (STARTING, CHUNK): _row(_busy, _STAY, STARTING),
        (STARTING, DONE): _row(_busy, _STAY, STARTING),
        (STARTING, CANCEL): _row(_request, "recorded: close once init answers", STARTING),
        (STARTING, TIMED_OUT): _row(_request, "recorded: time out once init answers", STARTING),
        (STARTING, OK): _row(_started, "started", OPEN, CLOSING),
        (STARTING, ERR): _row(_init_err, "refused: InitError", CLOSED),
        (STARTING, RAISED): _row(_init_raised, "refused: InitError", CLOSED),
        (STARTING, MALFORMED): _row(_init_malformed, "refused: InitError", CLOSED),
        (OPEN, CHUNK): _row(_chunk, "write it (or too large: cancel)", WRITING, CLOSING),
        (OPEN, DONE): _row(_done, "close with Done (or incomplete: cancel)", CLOSING),
        (OPEN, CANCEL): _row(_cancel, "close with Cancel", CLOSING),
        (OPEN, TIMED_OUT): _row(_timed_out, "chunk timeout: close with Cancel", CLOSING),
        (OPEN, OK): _row(_not_awaited, _STAY, OPEN),
        (OPEN, ERR): _row(_not_awaited, _STAY, OPEN),
        (OPEN, RAISED): _row(_not_awaited, _STAY, OPEN),
        (OPEN, MALFORMED): _row(_invalid, _STAY, OPEN),
        (WRITING, CHUNK): _row(_busy, _STAY, WRITING),
        (WRITING, DONE): _row(_busy, _STAY, WRITING),
        (WRITING, CANCEL): _row(_request, "recorded: close once the write answers", WRITING),
        (WRITING, TIMED_OUT): _row(_request, "recorded: time out once it answers", WRITING),
        (WRITING, OK): _row(_written, "written (expected size: close with Done)", OPEN, CLOSING),
        (WRITING, ERR): _row(_write_err, "close with Error", CLOSING),
        (WRITING, RAISED): _row(_write_raised, "close with Error (interrupted: Cancel)", CLOSING),
        (WRITING, MALFORMED): _row(_write_malformed, "close with Error", CLOSING),
        (CLOSING, CHUNK): _row(_refuse_chunk, "refused: UploadClosed", CLOSING),
        (CLOSING, DONE): _row(_unchanged, "nothing: closing already", CLOSING),
        (CLOSING, CANCEL): _row(_unchanged, "nothing: closing already", CLOSING),
        (CLOSING, TIMED_OUT): _row(_unchanged, "nothing: closing already", CLOSING),
        (CLOSING, OK): _row(_closed_ok, "closed", CLOSED),
        (CLOSING, ERR): _row(_closed_err, "closed: failed", CLOSED),
        (CLOSING, RAISED): _row(_close_raised, "closed: failed", CLOSED),
        (CLOSING, MALFORMED): _row(_close_malformed, "closed: failed", CLOSED),
        (CLOSED, CHUNK): _row(_refuse_chunk, "refused: UploadClosed", CLOSED),
        (CLOSED, DONE): _row(_unchanged, "nothing", CLOSED),
        (CLOSED, CANCEL): _row(_unchanged, "nothing", CLOSED),
        (CLOSED, TIMED_OUT): _row(_unchanged, "nothing", CLOSED),
        (CLOSED, OK): _row(_not_awaited, _STAY, CLOSED),
        (CLOSED, ERR): _row(_not_awaited, _STAY, CLOSED),
        (CLOSED, RAISED): _row(_not_awaited, _STAY, CLOSED),
        (CLOSED, MALFORMED): _row(_invalid, _STAY, CLOSED),
    }
)
"""The state machine, read-only: ``(phase, kind of event) -> Transition``, every pair present."""

# The same table as nested tuples indexed by the (integer) phase and kind:
# what reduce looks up. Built from TRANSITIONS, so it cannot say otherwise.
_ROWS: Final[tuple[tuple[Handler, ...], ...]] = tuple(
    tuple(TRANSITIONS[phase, kind].handler for kind in Kind) for phase in Phase
)


def reduce(upload: Upload[S], event: object) -> Step[S]:
    """Return the step that follows ``upload`` on ``event``. Never raises."""
    cls = type(event)
    # The two kinds every chunk brings, classified without a call.
    kind = CHUNK if cls is Chunk else OK if cls is Ok else kind_of(event)
    return _ROWS[upload._phase][kind](upload, event)
