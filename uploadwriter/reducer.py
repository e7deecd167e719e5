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

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final, TypeVar

import attrs

from . import _transitions as t
from ._errors import (
    UploadError,
    UploadFailed,
    UploadInProgress,
    safe_repr,
)
from ._events import Chunk, Done
from ._results import Ok
from ._start import start
from ._transitions import Handler
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
    "completed",
    "kind_of",
    "meta_error",
    "reduce",
    "resumed",
    "saved",
    "start",
)

S = TypeVar("S")

_DONE: Final = Done()


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


def completed(upload: Upload[Any]) -> bool:
    """Whether the upload closed with ``Done()`` and did not fail: its meta may be read (L12)."""
    return upload._phase is CLOSED and upload.failure is None and upload.close_reason == _DONE


def meta_error(upload: Upload[Any]) -> UploadError | None:
    """Return the error to raise if the writer's meta may not be asked for yet (L12), else None."""
    if completed(upload):
        return None
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
    refused = _row(t.busy, "refused: busy", phase)
    if phase in (CLOSING, SUSPENDING):
        already = _row(t.unchanged, "nothing: the upload is ending already", phase)
        chunk = (
            _row(t.refuse_chunk, "refused: UploadClosed", phase) if phase is CLOSING else refused
        )
        return {CHUNK: chunk, DONE: already, SUSPEND: already, CANCEL: already,
                TIMED_OUT: already, LEAVE: already, **answers}  # fmt: skip
    recorded = _row(t.request, "recorded: acted on once the call answers", phase)
    return {CHUNK: refused, DONE: refused, SUSPEND: refused, CANCEL: recorded,
            TIMED_OUT: recorded, LEAVE: recorded, **answers}  # fmt: skip


def _at_rest(phase: Phase, events: dict[Kind, Transition]) -> dict[Kind, Transition]:
    """The rows of a phase in which no call is pending: the caller's events, and the rest."""
    stray = _row(t.not_awaited, "refused: no call is pending", phase)
    return {OK: stray, ERR: stray, RAISED: stray,
            MALFORMED: _row(t.invalid, "refused: not an event", phase), **events}  # fmt: skip


def _ended(phase: Phase) -> dict[Kind, Transition]:
    nothing = _row(t.unchanged, "nothing: the upload has ended here", phase)
    return _at_rest(
        phase,
        {CHUNK: _row(t.refuse_chunk, "refused: UploadClosed", phase), DONE: nothing,
         CANCEL: nothing, TIMED_OUT: nothing, SUSPEND: nothing, LEAVE: nothing},
    )  # fmt: skip


def _first_call(phase: Phase, ok_summary: str) -> dict[Kind, Transition]:
    failed = f"failed: {'ResumeError' if phase is RESUMING else 'InitError'}, never closed"
    return _while_pending(
        phase,
        {
            OK: _row(t.started, ok_summary, OPEN, CLOSING, SUSPENDING),
            ERR: _row(t.first_err, failed, CLOSED),
            RAISED: _row(t.never_started, failed, CLOSED),
            MALFORMED: _row(t.first_malformed, failed, CLOSED),
        },
    )


_CALL_FAILED = "close with Error (interrupted: Cancel)"

_BY_PHASE: dict[Phase, dict[Kind, Transition]] = {
    STARTING: _first_call(STARTING, "started"),
    RESUMING: _first_call(RESUMING, "resumed where it was suspended"),
    OPEN: _at_rest(
        OPEN,
        {
            CHUNK: _row(t.chunk, "write it (too large: close with Cancel)", WRITING, CLOSING),
            DONE: _row(t.done, "close with Done (incomplete: Cancel)", CLOSING),
            CANCEL: _row(t.cancel, "close with Cancel", CLOSING),
            TIMED_OUT: _row(t.cancel, "chunk timeout: Cancel, or suspend", CLOSING, SUSPENDING),
            LEAVE: _row(t.cancel, "block left: Cancel, or suspend", CLOSING, SUSPENDING),
            SUSPEND: _row(t.suspend_open, "suspend (resumable only)", SUSPENDING, OPEN),
        },
    ),
    WRITING: _while_pending(
        WRITING,
        {
            OK: _row(
                t.written, "written (expected size: close with Done)", OPEN, CLOSING, SUSPENDING
            ),
            ERR: _row(t.call_err, _CALL_FAILED, CLOSING),
            RAISED: _row(t.call_raised, _CALL_FAILED, CLOSING),
            MALFORMED: _row(t.call_malformed, _CALL_FAILED, CLOSING),
        },
    ),
    SUSPENDING: _while_pending(
        SUSPENDING,
        {
            OK: _row(t.suspended, "suspended", SUSPENDED),
            ERR: _row(t.call_err, _CALL_FAILED, CLOSING),
            RAISED: _row(t.call_raised, _CALL_FAILED, CLOSING),
            MALFORMED: _row(t.call_malformed, _CALL_FAILED, CLOSING),
        },
    ),
    CLOSING: _while_pending(
        CLOSING,
        {
            OK: _row(t.closed_ok, "closed", CLOSED),
            ERR: _row(t.closed_err, "closed: failed", CLOSED),
            RAISED: _row(t.close_raised, "closed: failed", CLOSED),
            MALFORMED: _row(t.close_malformed, "closed: failed", CLOSED),
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
