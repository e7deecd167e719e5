"""The pure reducer: everything that affects an upload's lifecycle lives in this module.

Theory of operation
-------------------
An upload is an immutable :class:`Upload` value. :func:`reduce` takes it and
one event and returns a :class:`Step`: the next ``Upload``, the writer call to
make next (if any), and the error to give the caller (if any). Events are what
the caller sends (``Chunk``, ``Done``, ``Cancel``, ``Suspend``), what a driver
observes (``TimedOut``, ``Leave``), and the writer's answer to the pending
call: ``Ok``, ``Err``, the exception the callback raised, or whatever else it
returned (a broken writer, treated as a failed call).

Each event falls in one :class:`Kind`, and the table :data:`TRANSITIONS` has a
row for every ``(phase, kind)``: the handler that computes the step and the
phases it may lead to. :func:`reduce` looks the row up in a copy of the table
indexed by numbers, built from it once, so the fast path cannot drift from it.

A step's ``call`` is the writer call to perform with ``step.upload.state``: a
``Chunk`` means ``write_chunk(call.data, state)``; a close reason means
``close(state, call)``; ``Suspend()`` means ``suspend(state)``; ``None`` means
nothing. ``init`` (and, for a resumed upload, ``resume``) is the first call and
is not named by a step: a driver makes it right after :func:`start` (or
:func:`resumed`) and feeds its answer back. A driver is therefore a loop::

    step = reduce(upload, event)
    while step.call is not None:
        answer = perform(step.call, step.upload.state)   # exception -> answer
        step = reduce(step.upload, answer)
    if step.error is not None:
        raise step.error

A driver that lets other tasks send while a call is pending reduces each
answer against its *current* upload: a ``Cancel`` (or a chunk timeout, or the
block being left) is accepted at any moment, remembered while a call is
pending (:attr:`Upload.requested`), and acted on as soon as that call answers.

A *resumable* upload (L16-L18) is suspended rather than cancelled when its
block is left or it times out: the writer's ``suspend`` saves its state, and
the upload, as a :class:`SavedUpload`, can be resumed by any process that
shares the storage. Close is still called exactly once per upload, by
whichever process completes or cancels it.

The reducer does no I/O, reads no clock, and never raises, whatever it is fed.
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
    ResumeError,
    UploadBusy,
    UploadClosed,
    UploadError,
    UploadFailed,
    UploadInProgress,
    WriterFailure,
    safe_repr,
)
from ._events import Cancel, Chunk, CloseReason, Done, Error, Leave, Suspend, TimedOut
from ._options import size_option
from ._results import Err, Ok
from ._values import (
    CANCEL,
    CHUNK,
    CLOSED,
    CLOSING,
    DONE,
    ERR,
    LEAVE,
    MALFORMED,
    OK,
    OPEN,
    PENDING,
    RAISED,
    RESUMING,
    STARTING,
    SUSPEND,
    SUSPENDED,
    SUSPENDING,
    TIMED_OUT,
    WRITING,
    Ending,
    Kind,
    Limits,
    Phase,
    SavedUpload,
    Step,
    Upload,
    kind_of,
)

__all__ = (
    "CLOSED",
    "CLOSING",
    "OPEN",
    "PENDING",
    "RESUMING",
    "STARTING",
    "SUSPENDED",
    "SUSPENDING",
    "TRANSITIONS",
    "WRITING",
    "Ending",
    "Kind",
    "Limits",
    "Phase",
    "SavedUpload",
    "Step",
    "Transition",
    "Upload",
    "kind_of",
    "meta_error",
    "reduce",
    "resumed",
    "saved",
    "start",
)

S = TypeVar("S")

_DONE: Final = Done()
_CANCEL: Final = Cancel()
_SUSPEND: Final = Suspend()


def start(
    *, expected_size: int | None = None, max_size: int | None = None, resumable: bool = False
) -> Upload[Any]:
    """Return a new upload waiting for ``init``'s answer.

    Raises:
        TypeError: a size is not an int (or ``None``), or ``resumable`` not a bool.
        InvalidLimit: a size is negative.
    """
    expected = size_option("expected_size", expected_size)
    maximum = size_option("max_size", max_size)
    if not isinstance(resumable, bool):
        raise TypeError(f"resumable must be True or False, not {safe_repr(resumable)}")
    known = [n for n in (expected, maximum) if n is not None]
    limit = min(known) if known else None
    return Upload(STARTING, None, 0, Limits(expected, maximum, limit, resumable))


def resumed(saved_upload: SavedUpload) -> Upload[Any]:
    """Return a suspended upload, restored from storage, waiting for ``resume``'s answer (L17)."""
    upload = start(
        expected_size=saved_upload.expected_size, max_size=saved_upload.max_size, resumable=True
    )
    return Upload(RESUMING, saved_upload.writer, saved_upload.size, upload._limits)


def saved(upload: Upload[Any]) -> SavedUpload | None:
    """Return what storage keeps of a suspended upload, or ``None`` if it is not suspended."""
    if upload._phase is not SUSPENDED:
        return None
    limits = upload._limits
    return SavedUpload(upload._size, limits.expected_size, limits.max_size, upload._state)


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

_AWAITING: Final = {
    STARTING: "init",
    RESUMING: "resume",
    WRITING: "write_chunk",
    SUSPENDING: "suspend",
    CLOSING: "close",
}


def _interruption(reason: object) -> bool:
    """Whether a raised answer is a cancellation, KeyboardInterrupt...: not a writer failure."""
    return isinstance(reason, BaseException) and not isinstance(reason, Exception)


def _close(
    upload: Upload[Any],
    reason: CloseReason,
    failure: BaseException | None,
    state: object,
    size: int,
) -> Step[Any]:
    closing = Upload(CLOSING, state, size, upload._limits, 0, Ending(None, reason, failure))
    return Step(closing, reason)


def _suspend(
    upload: Upload[Any], failure: BaseException | None, state: object, size: int
) -> Step[Any]:
    suspending = Upload(SUSPENDING, state, size, upload._limits, 0, Ending(failure=failure))
    return Step(suspending, _SUSPEND)


def _let_go(
    upload: Upload[Any], why: Cancel | TimedOut | Leave, state: object, size: int
) -> Step[Any]:
    # A cancel, a timeout or the block left: a resumable upload is suspended
    # unless cancelled explicitly (L16); any other is closed with Cancel().
    failure = ChunkTimeout(why.seconds) if isinstance(why, TimedOut) else None
    if upload._limits.resumable and not isinstance(why, Cancel):
        return _suspend(upload, failure, state, size)
    return _close(upload, _CANCEL, failure, state, size)


def _unchanged(upload: Upload[Any], event: object) -> Step[Any]:
    return Step(upload)


def _request(upload: Upload[Any], event: Cancel | TimedOut | Leave) -> Step[Any]:
    if upload.requested is not None:
        return Step(upload)  # the first request stands
    return Step(upload.evolve(ending=Ending(requested=event)))


def _refused(upload: Upload[Any], error: UploadError) -> Step[Any]:
    return Step(upload, None, error)


def _busy(upload: Upload[Any], event: object) -> Step[Any]:
    return _refused(
        upload,
        UploadBusy(
            f"{safe_repr(event)} was sent while the writer's {_AWAITING[upload._phase]} "
            "has not answered yet (another task is sending); nothing was done"
        ),
    )


def _not_awaited(upload: Upload[Any], event: object) -> Step[Any]:
    return _refused(
        upload,
        InvalidEvent(
            f"{safe_repr(event)} looks like a writer's answer, but no writer call is pending "
            f"(phase {upload._phase.label}); nothing was done"
        ),
    )


def _invalid(upload: Upload[Any], event: object) -> Step[Any]:
    return _refused(
        upload,
        InvalidEvent(
            f"cannot send {safe_repr(event)} ({type(event).__name__}) to an upload: "
            "send Chunk(data), Done() or Cancel(); nothing was done"
        ),
    )


def _refuse_chunk(upload: Upload[Any], event: Chunk) -> Step[Any]:
    return _refused(upload, UploadClosed(upload._size, len(event.data), upload._phase.label))


def _malformed(upload: Upload[Any], answer: object) -> InvalidEvent:
    return InvalidEvent(
        f"the writer's {_AWAITING[upload._phase]} returned {safe_repr(answer)}; "
        "a writer callback must return Ok(state) or Err(reason, state)"
    )


# STARTING and RESUMING: the first call, init or resume, answers.


def _started(upload: Upload[Any], answer: Ok[Any]) -> Step[Any]:
    requested = upload.requested
    size = upload._size  # 0, or where a resumed upload was suspended
    if requested is not None:
        return _let_go(upload, requested, answer.state, size)
    if size == upload._limits.expected_size:
        # A zero-byte upload has reached its expected size already (L3).
        return _close(upload, _DONE, None, answer.state, size)
    return Step(Upload(OPEN, answer.state, size, upload._limits))


def _never_started(upload: Upload[Any], reason: object) -> Step[Any]:
    requested = upload.requested
    error: BaseException
    if _interruption(reason):
        assert isinstance(reason, BaseException)
        # Cut short: by the chunk timeout (the upload never started), or by a
        # cancellation or Ctrl-C, which goes on.
        error = ChunkTimeout(requested.seconds) if isinstance(requested, TimedOut) else reason
    elif upload._phase is RESUMING:
        error = ResumeError(reason)
    else:
        error = InitError(reason)
    closed = Upload(CLOSED, None, upload._size, upload._limits, 0, Ending(failure=error))
    return Step(closed, None, error)


def _first_err(upload: Upload[Any], answer: Err[Any]) -> Step[Any]:
    return _never_started(upload, answer.reason)


def _first_malformed(upload: Upload[Any], answer: object) -> Step[Any]:
    return _never_started(upload, _malformed(upload, answer))


# OPEN


def _chunk(upload: Upload[Any], event: Chunk) -> Step[Any]:
    n = len(event.data)
    limits = upload._limits
    limit = limits.limit
    size = upload._size
    if limit is not None and size + n > limit:
        return _close(upload, _CANCEL, FileTooLarge(limit, size, n), upload._state, size)
    return Step(Upload(WRITING, upload._state, size, limits, n), event)


def _done(upload: Upload[Any], event: Done) -> Step[Any]:
    expected = upload._limits.expected_size
    size = upload._size
    if expected is not None and size < expected:
        return _close(upload, _CANCEL, IncompleteUpload(expected, size), upload._state, size)
    return _close(upload, _DONE, None, upload._state, size)


def _cancel(upload: Upload[Any], event: Cancel | TimedOut | Leave) -> Step[Any]:
    return _let_go(upload, event, upload._state, upload._size)


def _suspend_open(upload: Upload[Any], event: Suspend) -> Step[Any]:
    if not upload._limits.resumable:
        return _refused(
            upload,
            InvalidEvent(
                "Suspend() was sent to an upload that is not resumable (start it with "
                "resumable=True, with a writer that has suspend and resume); nothing was done"
            ),
        )
    return _suspend(upload, None, upload._state, upload._size)


# WRITING and SUSPENDING: a call that may fail answers.


def _written(upload: Upload[Any], answer: Ok[Any]) -> Step[Any]:
    size = upload._size + upload._inflight
    limits = upload._limits
    ending = upload._ending
    if ending is not None and ending.requested is not None:
        return _let_go(upload, ending.requested, answer.state, size)
    if size == limits.expected_size:
        return _close(upload, _DONE, None, answer.state, size)
    return Step(Upload(OPEN, answer.state, size, limits))


def _call_failed(upload: Upload[Any], reason: object, state: object) -> Step[Any]:
    size = upload._size
    during = _AWAITING[upload._phase]
    if _interruption(reason):
        assert isinstance(reason, BaseException)
        requested = upload.requested
        if isinstance(requested, TimedOut):
            # The chunk timeout cut the call short: the write counts as not written.
            return _close(upload, _CANCEL, ChunkTimeout(requested.seconds), state, size)
        # Cancellation, KeyboardInterrupt...: cancel the writer, then let it go on.
        return _close(upload, _CANCEL, reason, state, size)
    failure = upload.failure if upload._phase is SUSPENDING else None
    if failure is not None:
        # A suspension after a chunk timeout failed too: the first failure
        # stands, the suspend's own travels with it (L11).
        closing = Upload(
            CLOSING, state, size, upload._limits, 0, Ending(None, Error(reason), failure, reason)
        )
        return Step(closing, Error(reason))
    return _close(upload, Error(reason), WriterFailure(reason, during=during), state, size)


def _call_err(upload: Upload[Any], answer: Err[Any]) -> Step[Any]:
    return _call_failed(upload, answer.reason, answer.state)


def _call_raised(upload: Upload[Any], exc: BaseException) -> Step[Any]:
    return _call_failed(upload, exc, upload._state)


def _call_malformed(upload: Upload[Any], answer: object) -> Step[Any]:
    return _call_failed(upload, _malformed(upload, answer), upload._state)


def _suspended(upload: Upload[Any], answer: Ok[Any]) -> Step[Any]:
    ending = upload._ending or Ending()
    suspended = Upload(SUSPENDED, answer.state, upload._size, upload._limits, 0, ending)
    return Step(suspended, None, ending.failure)


# CLOSING


def _close_answered(upload: Upload[Any], state: object, reason: object, ok: bool) -> Step[Any]:
    # Set by _close, the only way into CLOSING (an upload built by hand may lack it).
    ending = upload._ending or Ending()
    failure = ending.failure
    error = failure
    later: object = ending.later_failure
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
            later = reason
    ending = Ending(None, ending.close_reason, failure, later)
    return Step(Upload(CLOSED, state, upload._size, upload._limits, 0, ending), None, error)


def _closed_ok(upload: Upload[Any], answer: Ok[Any]) -> Step[Any]:
    return _close_answered(upload, answer.state, None, ok=True)


def _closed_err(upload: Upload[Any], answer: Err[Any]) -> Step[Any]:
    return _close_answered(upload, answer.state, answer.reason, ok=False)


def _close_raised(upload: Upload[Any], exc: BaseException) -> Step[Any]:
    return _close_answered(upload, upload._state, exc, ok=False)


def _close_malformed(upload: Upload[Any], answer: object) -> Step[Any]:
    return _close_answered(upload, upload._state, _malformed(upload, answer), ok=False)


# --- the table ---------------------------------------------------------------


@attrs.frozen
class Transition:
    """One row of the state machine: the handler, the phases it may lead to, what it does."""

    handler: Handler
    to: frozenset[Phase]
    summary: str


def _row(handler: Handler, summary: str, *to: Phase) -> Transition:
    return Transition(handler, frozenset(to), summary)


def _while_pending(phase: Phase, answers: dict[Kind, Transition]) -> dict[Kind, Transition]:
    """The rows of a phase in which a writer call is pending: its answers, and the rest."""
    refused = _row(_busy, "refused: busy", phase)
    if phase in (CLOSING, SUSPENDING):
        already = _row(_unchanged, "nothing: the upload is ending already", phase)
        chunk = _row(_refuse_chunk, "refused: UploadClosed", phase) if phase is CLOSING else refused
        return {CHUNK: chunk, DONE: already, SUSPEND: already, CANCEL: already,
                TIMED_OUT: already, LEAVE: already, **answers}  # fmt: skip
    recorded = _row(_request, "recorded: acted on once the call answers", phase)
    return {CHUNK: refused, DONE: refused, SUSPEND: refused, CANCEL: recorded,
            TIMED_OUT: recorded, LEAVE: recorded, **answers}  # fmt: skip


def _at_rest(phase: Phase, events: dict[Kind, Transition]) -> dict[Kind, Transition]:
    """The rows of a phase in which no call is pending: the caller's events, and the rest."""
    stray = _row(_not_awaited, "refused: no call is pending", phase)
    return {OK: stray, ERR: stray, RAISED: stray,
            MALFORMED: _row(_invalid, "refused: not an event", phase), **events}  # fmt: skip


def _ended(phase: Phase) -> dict[Kind, Transition]:
    nothing = _row(_unchanged, "nothing: the upload has ended here", phase)
    return _at_rest(
        phase,
        {CHUNK: _row(_refuse_chunk, "refused: UploadClosed", phase), DONE: nothing,
         CANCEL: nothing, TIMED_OUT: nothing, SUSPEND: nothing, LEAVE: nothing},
    )  # fmt: skip


def _first_call(phase: Phase, ok_summary: str) -> dict[Kind, Transition]:
    failed = f"failed: {'ResumeError' if phase is RESUMING else 'InitError'}, never closed"
    return _while_pending(
        phase,
        {
            OK: _row(_started, ok_summary, OPEN, CLOSING, SUSPENDING),
            ERR: _row(_first_err, failed, CLOSED),
            RAISED: _row(_never_started, failed, CLOSED),
            MALFORMED: _row(_first_malformed, failed, CLOSED),
        },
    )


_CALL_FAILED = "close with Error (interrupted: Cancel)"

_BY_PHASE: dict[Phase, dict[Kind, Transition]] = {
    STARTING: _first_call(STARTING, "started"),
    RESUMING: _first_call(RESUMING, "resumed where it was suspended"),
    OPEN: _at_rest(
        OPEN,
        {
            CHUNK: _row(_chunk, "write it (too large: close with Cancel)", WRITING, CLOSING),
            DONE: _row(_done, "close with Done (incomplete: Cancel)", CLOSING),
            CANCEL: _row(_cancel, "close with Cancel", CLOSING),
            TIMED_OUT: _row(_cancel, "chunk timeout: Cancel, or suspend", CLOSING, SUSPENDING),
            LEAVE: _row(_cancel, "block left: Cancel, or suspend", CLOSING, SUSPENDING),
            SUSPEND: _row(_suspend_open, "suspend (resumable only)", SUSPENDING, OPEN),
        },
    ),
    WRITING: _while_pending(
        WRITING,
        {
            OK: _row(
                _written, "written (expected size: close with Done)", OPEN, CLOSING, SUSPENDING
            ),
            ERR: _row(_call_err, _CALL_FAILED, CLOSING),
            RAISED: _row(_call_raised, _CALL_FAILED, CLOSING),
            MALFORMED: _row(_call_malformed, _CALL_FAILED, CLOSING),
        },
    ),
    SUSPENDING: _while_pending(
        SUSPENDING,
        {
            OK: _row(_suspended, "suspended", SUSPENDED),
            ERR: _row(_call_err, _CALL_FAILED, CLOSING),
            RAISED: _row(_call_raised, _CALL_FAILED, CLOSING),
            MALFORMED: _row(_call_malformed, _CALL_FAILED, CLOSING),
        },
    ),
    CLOSING: _while_pending(
        CLOSING,
        {
            OK: _row(_closed_ok, "closed", CLOSED),
            ERR: _row(_closed_err, "closed: failed", CLOSED),
            RAISED: _row(_close_raised, "closed: failed", CLOSED),
            MALFORMED: _row(_close_malformed, "closed: failed", CLOSED),
        },
    ),
    CLOSED: _ended(CLOSED),
    SUSPENDED: _ended(SUSPENDED),
}

TRANSITIONS: Mapping[tuple[Phase, Kind], Transition] = MappingProxyType(
    {(phase, kind): rows[kind] for phase, rows in _BY_PHASE.items() for kind in Kind}
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
