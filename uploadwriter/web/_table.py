"""The entry states of the upload channel and their moves: the table, as data.

:data:`TRANSITIONS` maps ``(state, input)`` to ``(next state, effect)``. A
pair that is not in it is not allowed: from the client that is a protocol
violation, from the driver a bug (:mod:`uploadwriter.web._entries` says
which). The reference page ``docs/reference/websocket-protocol.md`` lists the
same rows, and a test keeps the two equal.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import ClassVar, Final

__all__ = ("CLIENT_INPUTS", "FINAL", "SENT", "TRANSITIONS", "Effect", "EntryState", "Input", "why")


class EntryState(enum.Enum):
    """Where one announced file is, as the channel sees it."""

    ANNOUNCED = "announced"  #: announced; the driver's verdict is awaited
    ACCEPTED = "accepted"  #: accepted, not started
    OPEN = "open"  #: started: chunks flow
    CANCELLING = "cancelling"  #: a cancel was asked for; the driver's report is awaited
    REFUSED = "refused"  #: refused at selection (final)
    DONE = "done"  #: completed and consumed (final)
    FAILED = "failed"  #: failed after it started (final)
    CANCELLED = "cancelled"  #: cancelled (final)

    # Members are singletons compared by identity: hash them by identity too
    # (Enum hashes the name, a Python-level call on every table lookup).
    __hash__: ClassVar[Callable[[object], int]] = object.__hash__


class Input(enum.Enum):
    """What can happen to an entry: the client's frames, and the driver's reports."""

    # from the client
    START = "start"
    CHUNK = "chunk"
    CANCEL = "cancel"
    LOST = "lost"  #: the connection ended (closed, violation, timeout)
    # from the driver
    ACCEPT = "accept"
    REFUSE = "refuse"
    WRITTEN = "written"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    # Members are singletons compared by identity: hash them by identity too
    # (Enum hashes the name, a Python-level call on every table lookup).
    __hash__: ClassVar[Callable[[object], int]] = object.__hash__


CLIENT_INPUTS: Final = frozenset({Input.START, Input.CHUNK, Input.CANCEL, Input.LOST})


class Effect(enum.Enum):
    """What a move does besides changing the state."""

    NOTHING = "nothing"  # e.g. a chunk still in flight for an entry that ended
    START = "start"
    WRITE = "write"
    CANCEL = "cancel"
    SEND_ACCEPTED = "send accepted"
    SEND_REFUSED = "send refused"
    SEND_ACK = "send ack"
    SEND_DONE = "send done"
    SEND_ERROR = "send error"
    SEND_CANCELLED = "send cancelled"

    __hash__: ClassVar[Callable[[object], int]] = object.__hash__  # as EntryState's


_S = EntryState
_I = Input


#: ``(state, input) -> (next state, effect)``: every legal move of an entry.
TRANSITIONS: Final[Mapping[tuple[EntryState, Input], tuple[EntryState, Effect]]] = {
    (_S.ANNOUNCED, _I.ACCEPT): (_S.ACCEPTED, Effect.SEND_ACCEPTED),
    (_S.ANNOUNCED, _I.REFUSE): (_S.REFUSED, Effect.SEND_REFUSED),
    # The server failed before its verdict (close_for_error): nothing started.
    (_S.ANNOUNCED, _I.LOST): (_S.CANCELLED, Effect.NOTHING),
    (_S.ACCEPTED, _I.START): (_S.OPEN, Effect.START),
    (_S.ACCEPTED, _I.CANCEL): (_S.CANCELLING, Effect.CANCEL),
    (_S.ACCEPTED, _I.LOST): (_S.CANCELLING, Effect.CANCEL),
    # The server cancelled it (Phoenix's max_entries=1 replacement).
    (_S.ACCEPTED, _I.CANCELLED): (_S.CANCELLED, Effect.SEND_CANCELLED),
    (_S.OPEN, _I.CHUNK): (_S.OPEN, Effect.WRITE),
    (_S.OPEN, _I.CANCEL): (_S.CANCELLING, Effect.CANCEL),
    (_S.OPEN, _I.LOST): (_S.CANCELLING, Effect.CANCEL),
    (_S.OPEN, _I.WRITTEN): (_S.OPEN, Effect.SEND_ACK),
    (_S.OPEN, _I.COMPLETED): (_S.DONE, Effect.SEND_DONE),
    (_S.OPEN, _I.FAILED): (_S.FAILED, Effect.SEND_ERROR),
    # The server cancelled it (Phoenix's max_entries=1 replacement).
    (_S.OPEN, _I.CANCELLED): (_S.CANCELLED, Effect.SEND_CANCELLED),
    # Chunks sent before the client's cancel are still in flight: dropped.
    (_S.CANCELLING, _I.CHUNK): (_S.CANCELLING, Effect.NOTHING),
    (_S.CANCELLING, _I.CANCEL): (_S.CANCELLING, Effect.NOTHING),
    (_S.CANCELLING, _I.LOST): (_S.CANCELLING, Effect.NOTHING),
    # A write that was under way when the cancel came is still acknowledged,
    # so that both sides count the window alike.
    (_S.CANCELLING, _I.WRITTEN): (_S.CANCELLING, Effect.SEND_ACK),
    # The entry ended otherwise before the cancel took effect: that is its end.
    (_S.CANCELLING, _I.COMPLETED): (_S.DONE, Effect.SEND_DONE),
    (_S.CANCELLING, _I.FAILED): (_S.FAILED, Effect.SEND_ERROR),
    (_S.CANCELLING, _I.CANCELLED): (_S.CANCELLED, Effect.SEND_CANCELLED),
    # Ended entries: a cancel racing the end changes nothing; chunks still in
    # flight when it ended are dropped.
    (_S.REFUSED, _I.CANCEL): (_S.REFUSED, Effect.NOTHING),
    (_S.REFUSED, _I.LOST): (_S.REFUSED, Effect.NOTHING),
    (_S.DONE, _I.CANCEL): (_S.DONE, Effect.NOTHING),
    (_S.DONE, _I.LOST): (_S.DONE, Effect.NOTHING),
    (_S.FAILED, _I.CHUNK): (_S.FAILED, Effect.NOTHING),
    (_S.FAILED, _I.CANCEL): (_S.FAILED, Effect.NOTHING),
    (_S.FAILED, _I.LOST): (_S.FAILED, Effect.NOTHING),
    (_S.CANCELLED, _I.CHUNK): (_S.CANCELLED, Effect.NOTHING),
    (_S.CANCELLED, _I.CANCEL): (_S.CANCELLED, Effect.NOTHING),
    (_S.CANCELLED, _I.LOST): (_S.CANCELLED, Effect.NOTHING),
}

# The message each sending effect sends (its fields come with the input).
SENT: Final = {
    Effect.SEND_ACCEPTED: "accepted",
    Effect.SEND_REFUSED: "refused",
    Effect.SEND_ACK: "ack",
    Effect.SEND_DONE: "done",
    Effect.SEND_ERROR: "error",
    Effect.SEND_CANCELLED: "cancelled",
}

#: States in which an entry has ended for good.
FINAL: Final = frozenset({_S.REFUSED, _S.DONE, _S.FAILED, _S.CANCELLED})

#: States of an entry that keep its connection from being idle.
BUSY: Final = frozenset({_S.ANNOUNCED, _S.OPEN, _S.CANCELLING})

# Why a client input has no row, for the error message.
_WHY: Final[Mapping[tuple[EntryState, Input], str]] = {
    (_S.ACCEPTED, _I.CHUNK): "a chunk arrived before the entry's start message",
    (_S.OPEN, _I.START): "the entry was started already (each entry is uploaded once)",
    (_S.CANCELLING, _I.START): "the entry was cancelled; it cannot be started",
    (_S.REFUSED, _I.START): "the entry was refused; it cannot be started",
    (_S.REFUSED, _I.CHUNK): "the entry was refused; it takes no chunks",
    (_S.DONE, _I.CHUNK): "the entry has received all its bytes; it takes no more chunks",
}


def why(state: EntryState, what: Input) -> str:
    if (state, what) in _WHY:
        return _WHY[state, what]
    if what is _I.START and state in FINAL:
        return f"the entry has ended ({state.value}); each entry is uploaded once"
    return f"{what.value} is not allowed while the entry is {state.value}"  # pragma: no cover
