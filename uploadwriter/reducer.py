"""The pure reducer: every lifecycle rule of an upload lives in this module.

Theory of operation
-------------------
An upload is an immutable :class:`Upload` value. :func:`reduce` takes it and
one event and returns a :class:`Step`: the next ``Upload``, the writer call to
make next (if any), and the error to give the caller (if any). Events are

* what the caller sends: :class:`~uploadwriter.Chunk`, :class:`~uploadwriter.Done`,
  :class:`~uploadwriter.Cancel`;
* what a driver observes: :class:`~uploadwriter.TimedOut`;
* the writer's answer to the last call: ``Ok``, ``Err``, or the exception the
  callback raised (any ``BaseException`` instance), or whatever else it
  returned (which is a broken writer, and treated as such).

A step's ``call`` is the writer call to perform with ``step.upload.state``:
a ``Chunk`` means ``write_chunk(call.data, state)``; a close reason means
``close(state, call)``; ``None`` means nothing. ``init`` is the first call of
every upload and is not named by a step: a driver calls it once, right after
:func:`start`, and feeds its answer back.

A driver is therefore a loop::

    step = reduce(upload, event)
    while step.call is not None:
        answer = perform(step.call, step.upload.state)   # exception -> answer
        step = reduce(step.upload, answer)
    if step.error is not None:
        raise step.error

The reducer does no I/O, reads no clock, and never raises, whatever it is fed:
an event that does not fit the phase is answered with an error in the step and
an unchanged upload. Transitions are the table :data:`TRANSITIONS`, keyed by
``(phase, type of event)``.

Phases::

    STARTING --Ok--> OPEN --Chunk--> WRITING --Ok--> OPEN (or CLOSING at expected size)
        |             |                 |
        Err           Done/Cancel       Err/raise/timeout
        v             v                 v
      CLOSED <--answer-- CLOSING <-------+
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

import attrs

from ._errors import (
    ChunkTimeout,
    FileTooLarge,
    IncompleteUpload,
    InitError,
    InvalidEvent,
    InvalidLimit,
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

__all__ = ("TRANSITIONS", "Limits", "Phase", "Step", "Upload", "meta_error", "reduce", "start")

S = TypeVar("S")


class Phase(enum.Enum):
    """Where an upload is in its lifecycle."""

    STARTING = "starting"  #: ``init`` was called; its answer is awaited
    OPEN = "open"  #: waiting for the caller's next event
    WRITING = "writing"  #: ``write_chunk`` was called; its answer is awaited
    CLOSING = "closing"  #: ``close`` was called; its answer is awaited
    CLOSED = "closed"  #: final: closed, or never started


STARTING, OPEN, WRITING, CLOSING, CLOSED = Phase


@attrs.frozen
class Limits:
    """Sizes fixed when an upload starts; ``limit`` is the smaller of the two known ones."""

    expected_size: int | None
    max_size: int | None
    limit: int | None


class _Record(tuple[Any, ...]):
    """Record semantics for the reducer's tuples: frozen, equal only to their own class."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and tuple.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return tuple.__hash__(self)

    def __setattr__(self, name: str, value: object) -> None:
        raise attrs.exceptions.FrozenInstanceError

    def __delattr__(self, name: str) -> None:
        raise attrs.exceptions.FrozenInstanceError


class _UploadFields(NamedTuple):
    phase: Phase
    #: The writer's state (``None`` until ``init`` answered ``Ok``).
    state: Any
    #: Bytes accepted by ``write_chunk`` so far.
    size: int
    limits: Limits
    #: Size of the chunk being written (phase ``WRITING``), else 0.
    inflight: int = 0
    #: The reason ``close`` was (or is being) called with; ``None`` before.
    reason: CloseReason | None = None
    #: The error to give the caller once ``close`` has answered (phase ``CLOSING``).
    pending: BaseException | None = None
    #: Why the upload failed or was refused, once ``CLOSED``; ``None`` if it did not fail.
    failure: BaseException | None = None


class Upload(_Record, _UploadFields, Generic[S]):
    """One upload's whole lifecycle state. Immutable: :func:`reduce` returns a new one.

    Fields: ``phase``, ``state`` (the writer's), ``size`` (bytes accepted so
    far), ``limits``, ``inflight`` (the chunk being written), ``reason`` (what
    ``close`` was called with), ``pending`` (the error due once ``close``
    answers), ``failure`` (why it failed, once closed). ``_replace(**changes)``
    returns a copy with some fields changed.
    """

    # A tuple, not an attrs class: one reduction builds two of these per chunk,
    # and a tuple is built several times faster than a frozen attrs instance
    # (see bench/ and the README's Performance section).
    __slots__ = ()

    if TYPE_CHECKING:
        # What the type checker sees: the generic constructor and field (at
        # run time, the NamedTuple's own).
        def __new__(  # noqa: PLR0917 - the fields, positional as in the NamedTuple
            cls,
            phase: Phase,
            state: S,
            size: int,
            limits: Limits,
            inflight: int = 0,
            reason: CloseReason | None = None,
            pending: BaseException | None = None,
            failure: BaseException | None = None,
        ) -> Upload[S]: ...

        @property
        def state(self) -> S: ...


class _StepFields(NamedTuple):
    upload: Upload[Any]
    call: Chunk | CloseReason | None = None
    error: BaseException | None = None


class Step(_Record, _StepFields, Generic[S]):
    """What :func:`reduce` decided: the next ``upload``, the writer ``call`` to make, the ``error``
    to raise. Immutable, like :class:`Upload`."""

    __slots__ = ()

    if TYPE_CHECKING:

        def __new__(
            cls,
            upload: Upload[S],
            call: Chunk | CloseReason | None = None,
            error: BaseException | None = None,
        ) -> Step[S]: ...

        @property
        def upload(self) -> Upload[S]: ...


_DONE = Done()
_CANCEL = Cancel()


def _check_size(name: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidLimit(f"{name} must be a whole number of bytes or None, not {value!r}")
    if value < 0:
        raise InvalidLimit(f"{name} must be 0 or more bytes, not {value}")
    return value


def start(*, expected_size: int | None = None, max_size: int | None = None) -> Upload[Any]:
    """Return a new upload waiting for ``init``'s answer.

    Raises:
        InvalidLimit: a size is negative or not an integer.
    """
    expected = _check_size("expected_size", expected_size)
    maximum = _check_size("max_size", max_size)
    known = [n for n in (expected, maximum) if n is not None]
    limit = min(known) if known else None
    return Upload(STARTING, None, 0, Limits(expected, maximum, limit))


def meta_error(upload: Upload[Any]) -> UploadError | None:
    """Return the error to raise if the writer's meta may not be asked for yet (L12), else None."""
    if upload.phase is not CLOSED:
        return UploadInProgress(
            f"the upload is {upload.phase.value} after {upload.size} bytes; "
            "meta is available once it has closed with Done()"
        )
    if upload.failure is not None:
        return UploadFailed(
            f"the upload failed, so it has no meta: {safe_repr(upload.failure)}", upload.failure
        )
    if upload.reason != _DONE:
        return UploadFailed(
            f"the upload was closed with {upload.reason!r}, so it has no meta", None
        )
    return None


# --- transitions -----------------------------------------------------------
# Each handler takes the upload and the event and returns the step. They are
# small on purpose: the table below is the state machine.

Handler = Callable[[Upload[Any], Any], Step[Any]]


def _close(
    upload: Upload[Any], reason: CloseReason, pending: BaseException | None, state: object
) -> Step[Any]:
    closing = Upload(CLOSING, state, upload.size, upload.limits, 0, reason, pending, None)
    return Step(closing, reason)


def _unchanged(upload: Upload[Any], event: object) -> Step[Any]:
    return Step(upload)


def _started(upload: Upload[Any], answer: Ok[Any]) -> Step[Any]:
    if upload.limits.expected_size == 0:
        # A zero-byte upload has reached its expected size already (L3).
        return _close(upload, _DONE, None, answer.state)
    return Step(Upload(OPEN, answer.state, 0, upload.limits))


def _init_failed(upload: Upload[Any], reason: object) -> Step[Any]:
    error: BaseException = (
        reason
        if isinstance(reason, BaseException) and not isinstance(reason, Exception)
        else InitError(reason)
    )
    return Step(Upload(CLOSED, None, 0, upload.limits, failure=error), None, error)


def _init_err(upload: Upload[Any], answer: Err[Any]) -> Step[Any]:
    return _init_failed(upload, answer.reason)


# The two handlers on every chunk's path build their values with tuple.__new__
# directly: the same values as Upload(...)/Step(...), without a Python-level
# __new__ call for the defaults.
_new = tuple.__new__


def _chunk(upload: Upload[Any], event: Chunk) -> Step[Any]:
    n = len(event.data)
    limits = upload.limits
    limit = limits.limit
    if limit is not None and upload.size + n > limit:
        return _close(upload, _CANCEL, FileTooLarge(limit, upload.size, n), upload.state)
    writing = _new(Upload, (WRITING, upload.state, upload.size, limits, n, None, None, None))
    return _new(Step, (writing, event, None))


def _done(upload: Upload[Any], event: Done) -> Step[Any]:
    expected = upload.limits.expected_size
    if expected is not None and upload.size < expected:
        return _close(upload, _CANCEL, IncompleteUpload(expected, upload.size), upload.state)
    return _close(upload, _DONE, None, upload.state)


def _cancel(upload: Upload[Any], event: Cancel) -> Step[Any]:
    return _close(upload, _CANCEL, None, upload.state)


def _timed_out(upload: Upload[Any], event: TimedOut) -> Step[Any]:
    return _close(upload, _CANCEL, ChunkTimeout(event.seconds), upload.state)


def _written(upload: Upload[Any], answer: Ok[Any]) -> Step[Any]:
    size = upload.size + upload.inflight
    limits = upload.limits
    if size == limits.expected_size:
        closing = Upload(CLOSING, answer.state, size, limits, 0, _DONE)
        return Step(closing, _DONE)
    return _new(
        Step, (_new(Upload, (OPEN, answer.state, size, limits, 0, None, None, None)), None, None)
    )


def _write_failed(upload: Upload[Any], reason: object, state: object) -> Step[Any]:
    if isinstance(reason, BaseException) and not isinstance(reason, Exception):
        # Cancellation, KeyboardInterrupt...: cancel the writer, then let it go on.
        return _close(upload, _CANCEL, reason, state)
    return _close(upload, Error(reason), WriterFailure(reason, during="write_chunk"), state)


def _write_err(upload: Upload[Any], answer: Err[Any]) -> Step[Any]:
    return _write_failed(upload, answer.reason, answer.state)


def _note(error: BaseException, note: str) -> None:
    # Once only, so that feeding the same answer again does not repeat it.
    add_note = getattr(error, "add_note", None)  # Python 3.11+
    if add_note is not None and note not in getattr(error, "__notes__", ()):
        add_note(note)


def _close_answered(upload: Upload[Any], reason: object, state: object, ok: bool) -> Step[Any]:
    error = upload.pending
    if not ok:
        if isinstance(reason, BaseException) and not isinstance(reason, Exception):
            error = reason  # an interrupted close: the interruption goes on (L11)
        elif error is None:
            error = WriterFailure(reason, during="close")
        else:
            # The first failure is what the caller gets; the close's own failure
            # travels with it as a note, never swallowed (L11).
            _note(error, f"uploadwriter: the writer's close also failed: {safe_repr(reason)}")
    failure = upload.pending if upload.pending is not None else error
    closed = Upload(CLOSED, state, upload.size, upload.limits, 0, upload.reason, None, failure)
    return Step(closed, None, error)


def _closed_ok(upload: Upload[Any], answer: Ok[Any]) -> Step[Any]:
    return _close_answered(upload, None, answer.state, ok=True)


def _closed_err(upload: Upload[Any], answer: Err[Any]) -> Step[Any]:
    return _close_answered(upload, answer.reason, answer.state, ok=False)


def _refuse_chunk(upload: Upload[Any], event: Chunk) -> Step[Any]:
    return Step(upload, None, UploadClosed(upload.size, len(event.data)))


def _busy(upload: Upload[Any], event: object) -> Step[Any]:
    what = (
        "the writer's init has not answered yet"
        if upload.phase is STARTING
        else (f"the writer is still answering its last call (phase {upload.phase.value})")
    )
    return Step(
        upload, None, UploadBusy(f"{safe_repr(event)} was sent while {what}; nothing was done")
    )


def _not_awaited(upload: Upload[Any], event: object) -> Step[Any]:
    return Step(
        upload,
        None,
        InvalidEvent(
            f"{safe_repr(event)} looks like a writer's answer, but no writer call is pending "
            f"(phase {upload.phase.value}); nothing was done"
        ),
    )


TRANSITIONS: dict[tuple[Phase, type], Handler] = {
    (STARTING, Ok): _started,
    (STARTING, Err): _init_err,
    (OPEN, Chunk): _chunk,
    (OPEN, Done): _done,
    (OPEN, Cancel): _cancel,
    (OPEN, TimedOut): _timed_out,
    (WRITING, Ok): _written,
    (WRITING, Err): _write_err,
    # A write interrupted by the chunk timeout (the async driver's deadline).
    (WRITING, TimedOut): _timed_out,
    (CLOSING, Ok): _closed_ok,
    (CLOSING, Err): _closed_err,
    (CLOSED, Chunk): _refuse_chunk,
    (CLOSED, Done): _unchanged,
    (CLOSED, Cancel): _unchanged,
    (CLOSED, TimedOut): _unchanged,
}
"""The state machine: ``(phase, event type) -> handler``. Rows not here fall back
to :func:`_fallback` (errors, exceptions raised by callbacks, malformed answers)."""

_USER_EVENTS = (Chunk, Done, Cancel, TimedOut)
_AWAITING = {STARTING: "init", WRITING: "write_chunk", CLOSING: "close"}


def _fallback(upload: Upload[Any], event: object) -> Step[Any]:  # noqa: PLR0911 - one exit per row
    phase = upload.phase
    # Subclasses of the event and result classes behave as their base.
    for base in (*_USER_EVENTS, Ok, Err):
        if isinstance(event, base):
            handler = TRANSITIONS.get((phase, base))
            if handler is not None:
                return handler(upload, event)
            if base in _USER_EVENTS:
                return _busy(upload, event) if phase in _AWAITING else _invalid(upload, event)
            return _not_awaited(upload, event)
    callback = _AWAITING.get(phase)
    if callback is None:
        if isinstance(event, BaseException):
            return _not_awaited(upload, event)
        return _invalid(upload, event)
    # A writer call is pending and this is its answer: either the exception it
    # raised (L11), or something that is not Ok/Err (a broken writer).
    reason: object = event
    if not isinstance(event, BaseException):
        reason = InvalidEvent(
            f"the writer's {callback} returned {safe_repr(event)}; "
            "a writer callback must return Ok(state) or Err(reason, state)"
        )
    if phase is STARTING:
        return _init_failed(upload, reason)
    if phase is WRITING:
        return _write_failed(upload, reason, upload.state)
    return _close_answered(upload, reason, upload.state, ok=False)


def _invalid(upload: Upload[Any], event: object) -> Step[Any]:
    return Step(
        upload,
        None,
        InvalidEvent(
            f"cannot send {safe_repr(event)} ({type(event).__name__}) to an upload: "
            "send Chunk(data), Done() or Cancel(); nothing was done"
        ),
    )


def reduce(upload: Upload[S], event: object) -> Step[S]:
    """Return the step that follows ``upload`` on ``event``. Never raises."""
    phase = upload.phase
    # The two rows every chunk goes through, looked up without building a key.
    # They call the very handlers the table names, so behaviour is the table's.
    if phase is OPEN:
        if type(event) is Chunk:
            return _chunk(upload, event)
    elif phase is WRITING and type(event) is Ok:
        return _written(upload, event)
    handler = TRANSITIONS.get((phase, type(event)))
    if handler is None:
        return _fallback(upload, event)
    return handler(upload, event)
