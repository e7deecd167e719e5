"""The reducer's values: phases, kinds of events, and the immutable ``Upload`` and ``Step``.

:mod:`uploadwriter.reducer` computes them; this module only defines them.
``Upload``, ``Step``, ``Limits`` and ``Ending`` are plain classes with slots
and read-only properties: one reduction builds an ``Upload`` and a ``Step`` per
event, and the reducer (the only code that builds them) reads their slots
directly.

This module, :mod:`uploadwriter._transitions` and :mod:`uploadwriter.reducer`
are compiled with mypyc when the package is built as a wheel (the ``.py``
files are the fallback: ``docs/explanation/performance-core.md``). So: class
attributes are ``Final`` (``__match_args__`` included: a plain one becomes an
instance field), names read on every event are ``Final``, and there is no
attrs class here (mypyc leaves those uncompiled, and fails at import on one
with a field typed ``object``: ``SavedUpload`` lives in :mod:`._saved`).
"""

from __future__ import annotations

import enum
from typing import Any, Final, Generic, TypeVar

from ._errors import safe_repr
from ._events import Cancel, Chunk, CloseReason, Done, Leave, Suspend, TimedOut
from ._results import Err, Ok
from ._saved import SavedUpload

__all__ = (
    "CANCEL",
    "CHUNK",
    "CLOSED",
    "CLOSING",
    "DONE",
    "ERR",
    "LEAVE",
    "MALFORMED",
    "OK",
    "OPEN",
    "PENDING",
    "RAISED",
    "RESUMING",
    "STARTING",
    "SUSPEND",
    "SUSPENDED",
    "SUSPENDING",
    "TIMED_OUT",
    "WRITING",
    "Ending",
    "Kind",
    "Limits",
    "Phase",
    "SavedUpload",
    "Step",
    "Upload",
    "kind_of",
)

S = TypeVar("S")


class Phase(enum.IntEnum):
    """Where an upload is in its lifecycle."""

    STARTING = 0  #: ``init`` was called; its answer is awaited
    OPEN = 1  #: waiting for the caller's next event
    WRITING = 2  #: ``write_chunk`` was called; its answer is awaited
    CLOSING = 3  #: ``close`` was called; its answer is awaited
    CLOSED = 4  #: final: closed, or never started
    RESUMING = 5  #: a resumable writer's ``resume`` was called; its answer is awaited
    SUSPENDING = 6  #: a resumable writer's ``suspend`` was called; its answer is awaited
    SUSPENDED = 7  #: final here: saved, to be resumed by any process sharing the storage

    @property
    def label(self) -> str:
        """The phase's name in lower case, as messages print it (``"open"``)."""
        return self.name.lower()


STARTING: Final = Phase.STARTING
OPEN: Final = Phase.OPEN
WRITING: Final = Phase.WRITING
CLOSING: Final = Phase.CLOSING
CLOSED: Final = Phase.CLOSED
RESUMING: Final = Phase.RESUMING
SUSPENDING: Final = Phase.SUSPENDING
SUSPENDED: Final = Phase.SUSPENDED
#: The phases in which a writer call is pending (some task is performing it).
PENDING: Final = frozenset({STARTING, WRITING, CLOSING, RESUMING, SUSPENDING})


class Kind(enum.IntEnum):
    """What kind of event :func:`reduce` is given (see :func:`kind_of`)."""

    CHUNK = 0  #: ``Chunk(data)``
    DONE = 1  #: ``Done()``
    CANCEL = 2  #: ``Cancel()``
    TIMED_OUT = 3  #: ``TimedOut(seconds)``, from a driver
    OK = 4  #: the pending call answered ``Ok(state)``
    ERR = 5  #: the pending call answered ``Err(reason, state)``
    RAISED = 6  #: the pending call raised this exception
    MALFORMED = 7  #: anything else: a broken answer, or not an event at all
    SUSPEND = 8  #: ``Suspend()``
    LEAVE = 9  #: ``Leave()``, from a driver: its block was left


CHUNK: Final = Kind.CHUNK
DONE: Final = Kind.DONE
CANCEL: Final = Kind.CANCEL
TIMED_OUT: Final = Kind.TIMED_OUT
OK: Final = Kind.OK
ERR: Final = Kind.ERR
RAISED: Final = Kind.RAISED
MALFORMED: Final = Kind.MALFORMED
SUSPEND: Final = Kind.SUSPEND
LEAVE: Final = Kind.LEAVE

_EXACT: Final[tuple[tuple[type, Kind], ...]] = (
    (Done, DONE),
    (Cancel, CANCEL),
    (Err, ERR),
    (TimedOut, TIMED_OUT),
    (Leave, LEAVE),
    (Suspend, SUSPEND),
)
_BASES: Final[tuple[tuple[type, Kind], ...]] = ((Chunk, CHUNK), (Ok, OK), *_EXACT)


def kind_of(event: object) -> Kind:  # noqa: PLR0911 - one exit per kind
    """Return the :class:`Kind` of ``event``; subclasses count as their base. Never raises.

    The class is compared by identity, never hashed, so an event of any class
    (even one whose metaclass cannot hash) is classified.
    """
    cls = type(event)
    if cls is Chunk:
        return CHUNK
    if cls is Ok:
        return OK
    for exact, kind in _EXACT:
        if cls is exact:
            return kind
    try:
        if isinstance(event, BaseException):
            return RAISED
        for base, kind in _BASES:
            if isinstance(event, base):
                return kind
    except Exception:  # noqa: BLE001 - an object whose __class__ lookup fails is no event
        return MALFORMED
    return MALFORMED


class _Record:
    """What the reducer's records share: equal by class and fields, hashable, shown field by field.

    Each record lists its fields in ``__match_args__`` and returns their values
    from ``_fields()``; nothing here is on the per-event path.
    """

    __slots__ = ()

    def _fields(self) -> tuple[object, ...]:
        raise NotImplementedError  # pragma: no cover - every record defines it

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, _Record)
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        names: tuple[str, ...] = getattr(type(self), "__match_args__")  # noqa: B009 - per record
        shown = ", ".join(
            f"{name}={value.label if isinstance(value, Phase) else safe_repr(value)}"
            for name, value in zip(names, self._fields(), strict=True)
        )
        return f"{type(self).__name__}({shown})"


class Limits(_Record):
    """What is fixed when an upload starts: its sizes, and whether it is resumable.

    ``limit`` is the smaller of the two known sizes. A ``resumable`` upload is
    suspended, not cancelled, when its block is left or its chunk timeout
    passes (L16). Immutable, like :class:`Upload`.
    """

    __slots__ = ("_expected_size", "_limit", "_max_size", "_resumable")
    __match_args__: Final = ("expected_size", "max_size", "limit", "resumable")

    def __init__(
        self,
        expected_size: int | None,
        max_size: int | None,
        limit: int | None,
        resumable: bool = False,
    ) -> None:
        self._expected_size: Final = expected_size
        self._max_size: Final = max_size
        self._limit: Final = limit
        self._resumable: Final = resumable

    @property
    def expected_size(self) -> int | None:
        """The size the client announced, if it did."""
        return self._expected_size

    @property
    def max_size(self) -> int | None:
        """The most bytes the upload may have, if there is a maximum."""
        return self._max_size

    @property
    def limit(self) -> int | None:
        """The smaller of the two known sizes: a chunk that would pass it is refused (L2)."""
        return self._limit

    @property
    def resumable(self) -> bool:
        """Whether the upload is suspended, not cancelled, when it is left (L16)."""
        return self._resumable

    def _fields(self) -> tuple[object, ...]:
        return (self._expected_size, self._max_size, self._limit, self._resumable)


class Ending(_Record):
    """How an upload is ending, once a close (or a suspension) is decided or a cancel asked for.

    ``requested``: the ``Cancel()``, ``TimedOut`` or ``Leave()`` that arrived
    while a writer call was pending (acted on once it answers).
    ``close_reason``: what ``close`` was (or is being) called with.
    ``failure``: why the upload failed or was refused; the caller is told it
    when the pending ``close`` (or ``suspend``) answers. ``later_failure``: a
    ``close``'s or ``suspend``'s own failure when another failure came first
    (the driver attaches it to that one as a note, so it is never lost).
    Immutable, like :class:`Upload`.
    """

    __slots__ = ("_close_reason", "_failure", "_later_failure", "_requested")
    __match_args__: Final = ("requested", "close_reason", "failure", "later_failure")

    def __init__(
        self,
        requested: Cancel | TimedOut | Leave | None = None,
        close_reason: CloseReason | None = None,
        failure: BaseException | None = None,
        later_failure: object = None,
    ) -> None:
        self._requested: Final = requested
        self._close_reason: Final = close_reason
        self._failure: Final = failure
        self._later_failure: Final = later_failure

    @property
    def requested(self) -> Cancel | TimedOut | Leave | None:
        """A cancel, timeout or leave that arrived while a writer call was pending."""
        return self._requested

    @property
    def close_reason(self) -> CloseReason | None:
        """What ``close`` was (or is being) called with."""
        return self._close_reason

    @property
    def failure(self) -> BaseException | None:
        """Why the upload failed or was refused."""
        return self._failure

    @property
    def later_failure(self) -> object:
        """A ``close``'s or ``suspend``'s own failure, when another failure came first."""
        return self._later_failure

    def _fields(self) -> tuple[object, ...]:
        return (self._requested, self._close_reason, self._failure, self._later_failure)


class Upload(_Record, Generic[S]):
    """One upload's whole lifecycle state. Immutable: :func:`reduce` returns a new one.

    ``phase``, ``state`` (the writer's), ``size`` (bytes accepted so far),
    ``limits``, ``inflight`` (the size of the chunk being written, in phase
    ``WRITING``), and ``ending`` (``None`` until a close is decided or a cancel
    asked for). ``close_reason``, ``failure`` and ``requested`` read ``ending``.
    """

    # A plain class with slots and read-only properties rather than an attrs
    # class: one reduction builds one of these per event, and the reducer reads
    # the slots directly (this module is the only writer of them).
    __slots__ = ("_ending", "_inflight", "_limits", "_phase", "_size", "_state")
    __match_args__: Final = ("phase", "state", "size", "limits", "inflight", "ending")

    def __init__(  # noqa: PLR0917 - the fields, in __match_args__ order
        self,
        phase: Phase,
        state: S,
        size: int,
        limits: Limits,
        inflight: int = 0,
        ending: Ending | None = None,
    ) -> None:
        self._phase: Final = phase
        self._state: Final = state
        self._size: Final = size
        self._limits: Final = limits
        self._inflight: Final = inflight
        self._ending: Final = ending

    @property
    def phase(self) -> Phase:
        """Where the upload is in its lifecycle."""
        return self._phase

    @property
    def state(self) -> S:
        """The writer's state (``None`` until ``init`` answered ``Ok``)."""
        return self._state

    @property
    def size(self) -> int:
        """Bytes accepted by ``write_chunk`` so far."""
        return self._size

    @property
    def limits(self) -> Limits:
        """The sizes fixed when the upload started."""
        return self._limits

    @property
    def inflight(self) -> int:
        """The size of the chunk being written (phase ``WRITING``), else 0."""
        return self._inflight

    @property
    def ending(self) -> Ending | None:
        """How the upload is ending; ``None`` while nothing ends it."""
        return self._ending

    @property
    def close_reason(self) -> CloseReason | None:
        """What ``close`` was (or is being) called with; ``None`` before."""
        ending = self._ending
        return None if ending is None else ending.close_reason

    @property
    def failure(self) -> BaseException | None:
        """Why the upload failed or was refused; ``None`` if it has not."""
        ending = self._ending
        return None if ending is None else ending.failure

    @property
    def requested(self) -> Cancel | TimedOut | Leave | None:
        """A cancel or timeout that arrived while a writer call was pending."""
        ending = self._ending
        return None if ending is None else ending.requested

    def evolve(self, **changes: Any) -> Upload[S]:
        """Return a copy with the fields named in ``changes`` replaced."""
        fields = {name: getattr(self, name) for name in self.__match_args__}
        fields.update(changes)
        return Upload(**fields)

    def _fields(self) -> tuple[object, ...]:
        return (self._phase, self._state, self._size, self._limits, self._inflight, self._ending)


class Step(_Record, Generic[S]):
    """What :func:`reduce` decided: the next ``upload``, the writer ``call`` to make, the ``error``
    to give the caller. Immutable, like :class:`Upload`."""

    __slots__ = ("_call", "_error", "_upload")
    __match_args__: Final = ("upload", "call", "error")

    def __init__(
        self,
        upload: Upload[S],
        call: Chunk | CloseReason | Suspend | None = None,
        error: BaseException | None = None,
    ) -> None:
        self._upload: Final = upload
        self._call: Final = call
        self._error: Final = error

    @property
    def upload(self) -> Upload[S]:
        """The upload after the event."""
        return self._upload

    @property
    def call(self) -> Chunk | CloseReason | Suspend | None:
        """The writer call to make next with ``upload.state``, or ``None``."""
        return self._call

    @property
    def error(self) -> BaseException | None:
        """The error to give the caller (once ``call`` is ``None``), or ``None``."""
        return self._error

    def _fields(self) -> tuple[object, ...]:
        return (self._upload, self._call, self._error)
