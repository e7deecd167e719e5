"""What each transition of the reducer computes: one small pure function per row.

:mod:`uploadwriter.reducer` holds the table that says which handler answers
which ``(phase, kind of event)``; each handler here takes the upload and the
event and returns the :class:`Step`. They read the upload's slots directly
(they and :mod:`._values` are the reducer's own room).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

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
    WriterFailure,
    safe_repr,
)
from ._events import Cancel, Chunk, CloseReason, Done, Error, Leave, Suspend, TimedOut
from ._results import Err, Ok
from ._values import (
    CLOSED,
    CLOSING,
    OPEN,
    RESUMING,
    STARTING,
    SUSPENDED,
    SUSPENDING,
    WRITING,
    Ending,
    Step,
    Upload,
)

_DONE: Final = Done()
_CANCEL: Final = Cancel()
_SUSPEND: Final = Suspend()

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


def cut_by_timeout(requested: object, reason: BaseException) -> bool:
    """Whether the chunk timeout (recorded while the call was pending) cut the call short.

    A cancellation then is the deadline's own; Ctrl-C or ``SystemExit`` never
    is, and goes on as itself.
    """
    return isinstance(requested, TimedOut) and not isinstance(
        reason, (KeyboardInterrupt, SystemExit)
    )


def timed_out(requested: TimedOut, cut: BaseException) -> ChunkTimeout:
    """The chunk timeout that cut a call short, with the cancellation it caused as its cause."""
    error = ChunkTimeout(requested.seconds)
    error.__cause__ = cut
    return error


def interruption(reason: object) -> bool:
    """Whether a raised answer is a cancellation, KeyboardInterrupt...: not a writer failure."""
    return isinstance(reason, BaseException) and not isinstance(reason, Exception)


def close(
    upload: Upload[Any],
    reason: CloseReason,
    failure: BaseException | None,
    state: object,
    size: int,
) -> Step[Any]:
    closing = Upload(CLOSING, state, size, upload._limits, 0, Ending(None, reason, failure))
    return Step(closing, reason)


def suspend(
    upload: Upload[Any], failure: BaseException | None, state: object, size: int
) -> Step[Any]:
    suspending = Upload(SUSPENDING, state, size, upload._limits, 0, Ending(failure=failure))
    return Step(suspending, _SUSPEND)


def let_go(
    upload: Upload[Any], why: Cancel | TimedOut | Leave, state: object, size: int
) -> Step[Any]:
    # A cancel, a timeout or the block left: a resumable upload is suspended
    # unless cancelled explicitly (L16); any other is closed with Cancel().
    failure = ChunkTimeout(why.seconds) if isinstance(why, TimedOut) else None
    if upload._limits.resumable and not isinstance(why, Cancel):
        return suspend(upload, failure, state, size)
    return close(upload, _CANCEL, failure, state, size)


def unchanged(upload: Upload[Any], event: object) -> Step[Any]:
    return Step(upload)


def request(upload: Upload[Any], event: Cancel | TimedOut | Leave) -> Step[Any]:
    if upload.requested is not None:
        return Step(upload)  # the first request stands
    return Step(upload.evolve(ending=Ending(requested=event)))


def refused(upload: Upload[Any], error: UploadError) -> Step[Any]:
    return Step(upload, None, error)


def busy(upload: Upload[Any], event: object) -> Step[Any]:
    return refused(
        upload,
        UploadBusy(
            f"{safe_repr(event)} was sent while the writer's {_AWAITING[upload._phase]} "
            "has not answered yet (another task is sending); nothing was done"
        ),
    )


def not_awaited(upload: Upload[Any], event: object) -> Step[Any]:
    return refused(
        upload,
        InvalidEvent(
            f"{safe_repr(event)} looks like a writer's answer, but no writer call is pending "
            f"(phase {upload._phase.label}); nothing was done"
        ),
    )


def invalid(upload: Upload[Any], event: object) -> Step[Any]:
    return refused(
        upload,
        InvalidEvent(
            f"cannot send {safe_repr(event)} ({type(event).__name__}) to an upload: "
            "send Chunk(data), Done() or Cancel(); nothing was done"
        ),
    )


def refuse_chunk(upload: Upload[Any], event: Chunk) -> Step[Any]:
    return refused(upload, UploadClosed(upload._size, len(event.data), upload._phase.label))


def malformed(upload: Upload[Any], answer: object) -> InvalidEvent:
    return InvalidEvent(
        f"the writer's {_AWAITING[upload._phase]} returned {safe_repr(answer)}; "
        "a writer callback must return Ok(state) or Err(reason, state)"
    )


# STARTING and RESUMING: the first call, init or resume, answers.


def started(upload: Upload[Any], answer: Ok[Any]) -> Step[Any]:
    requested = upload.requested
    size = upload._size  # 0, or where a resumed upload was suspended
    if requested is not None:
        return let_go(upload, requested, answer.state, size)
    if size == upload._limits.expected_size:
        # A zero-byte upload has reached its expected size already (L3).
        return close(upload, _DONE, None, answer.state, size)
    return Step(Upload(OPEN, answer.state, size, upload._limits))


def never_started(upload: Upload[Any], reason: object) -> Step[Any]:
    requested = upload.requested
    error: BaseException
    if interruption(reason):
        assert isinstance(reason, BaseException)
        # Cut short: by the chunk timeout (the upload never started), or by a
        # cancellation or Ctrl-C, which goes on.
        error = (
            timed_out(requested, reason)
            if isinstance(requested, TimedOut) and cut_by_timeout(requested, reason)
            else reason
        )
    elif upload._phase is RESUMING:
        error = ResumeError(reason)
    else:
        error = InitError(reason)
    closed = Upload(CLOSED, None, upload._size, upload._limits, 0, Ending(failure=error))
    return Step(closed, None, error)


def first_err(upload: Upload[Any], answer: Err[Any]) -> Step[Any]:
    return never_started(upload, answer.reason)


def first_malformed(upload: Upload[Any], answer: object) -> Step[Any]:
    return never_started(upload, malformed(upload, answer))


# OPEN


def chunk(upload: Upload[Any], event: Chunk) -> Step[Any]:
    n = len(event.data)
    limits = upload._limits
    limit = limits.limit
    size = upload._size
    if limit is not None and size + n > limit:
        return close(upload, _CANCEL, FileTooLarge(limit, size, n), upload._state, size)
    return Step(Upload(WRITING, upload._state, size, limits, n), event)


def done(upload: Upload[Any], event: Done) -> Step[Any]:
    expected = upload._limits.expected_size
    size = upload._size
    if expected is not None and size < expected:
        return close(upload, _CANCEL, IncompleteUpload(expected, size), upload._state, size)
    return close(upload, _DONE, None, upload._state, size)


def cancel(upload: Upload[Any], event: Cancel | TimedOut | Leave) -> Step[Any]:
    return let_go(upload, event, upload._state, upload._size)


def suspend_open(upload: Upload[Any], event: Suspend) -> Step[Any]:
    if not upload._limits.resumable:
        return refused(
            upload,
            InvalidEvent(
                "Suspend() was sent to an upload that is not resumable (start it with "
                "resumable=True, with a writer that has suspend and resume); nothing was done"
            ),
        )
    return suspend(upload, None, upload._state, upload._size)


# WRITING and SUSPENDING: a call that may fail answers.


def written(upload: Upload[Any], answer: Ok[Any]) -> Step[Any]:
    size = upload._size + upload._inflight
    limits = upload._limits
    ending = upload._ending
    if ending is not None and ending.requested is not None:
        return let_go(upload, ending.requested, answer.state, size)
    if size == limits.expected_size:
        return close(upload, _DONE, None, answer.state, size)
    return Step(Upload(OPEN, answer.state, size, limits))


def call_failed(upload: Upload[Any], reason: object, state: object) -> Step[Any]:
    size = upload._size
    during = _AWAITING[upload._phase]
    if interruption(reason):
        assert isinstance(reason, BaseException)
        requested = upload.requested
        if isinstance(requested, TimedOut) and cut_by_timeout(requested, reason):
            # The chunk timeout cut the call short: the write counts as not written.
            return close(upload, _CANCEL, timed_out(requested, reason), state, size)
        # Cancellation, KeyboardInterrupt...: cancel the writer, then let it go on.
        return close(upload, _CANCEL, reason, state, size)
    failure = upload.failure if upload._phase is SUSPENDING else None
    if failure is not None:
        # A suspension after a chunk timeout failed too: the first failure
        # stands, the suspend's own travels with it (L11).
        closing = Upload(
            CLOSING, state, size, upload._limits, 0, Ending(None, Error(reason), failure, reason)
        )
        return Step(closing, Error(reason))
    return close(upload, Error(reason), WriterFailure(reason, during=during), state, size)


def call_err(upload: Upload[Any], answer: Err[Any]) -> Step[Any]:
    return call_failed(upload, answer.reason, answer.state)


def call_raised(upload: Upload[Any], exc: BaseException) -> Step[Any]:
    return call_failed(upload, exc, upload._state)


def call_malformed(upload: Upload[Any], answer: object) -> Step[Any]:
    return call_failed(upload, malformed(upload, answer), upload._state)


def suspended(upload: Upload[Any], answer: Ok[Any]) -> Step[Any]:
    ending = upload._ending or Ending()
    suspended = Upload(SUSPENDED, answer.state, upload._size, upload._limits, 0, ending)
    return Step(suspended, None, ending.failure)


# CLOSING


def close_answered(upload: Upload[Any], state: object, reason: object, ok: bool) -> Step[Any]:
    # Set by close, the only way into CLOSING (an upload built by hand may lack it).
    ending = upload._ending or Ending()
    failure = ending.failure
    error = failure
    later: object = ending.later_failure
    if not ok:
        if interruption(reason):
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


def closed_ok(upload: Upload[Any], answer: Ok[Any]) -> Step[Any]:
    return close_answered(upload, answer.state, None, ok=True)


def closed_err(upload: Upload[Any], answer: Err[Any]) -> Step[Any]:
    return close_answered(upload, answer.state, answer.reason, ok=False)


def close_raised(upload: Upload[Any], exc: BaseException) -> Step[Any]:
    return close_answered(upload, upload._state, exc, ok=False)


def close_malformed(upload: Upload[Any], answer: object) -> Step[Any]:
    return close_answered(upload, upload._state, malformed(upload, answer), ok=False)
