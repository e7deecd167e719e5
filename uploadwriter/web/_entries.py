"""One connection's entries and its window of chunks: the channel's bookkeeping.

An :class:`Entries` keeps, for the :class:`~uploadwriter.web.Channel` that
owns it, every file announced on the connection (by ref, in its
:class:`~uploadwriter.web._table.EntryState`) and the counts the protocol
depends on: chunks unacknowledged, entries busy, files waiting for a verdict.
It makes the moves of the table (:data:`~uploadwriter.web._table.TRANSITIONS`)
and says which are not allowed; turning a move into outputs is the channel's
part. It knows nothing of frames, outputs or the connection's end, and does
not import the channel.

Flow control is a window of :attr:`Entries.window` chunks per connection: the
client may have that many chunks unacknowledged, over all its entries; the
server acknowledges each chunk once the writer has taken it. A chunk past the
window is a violation, so the server never holds more than ``window`` chunks
of ``chunk_size`` bytes for a connection, however slow its writers are. When an
entry ends, its unacknowledged chunks are given back on both sides, and its
chunks still in flight are dropped on arrival.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from .._options import count_option
from ..uploads import ClientFile
from ._outputs import LocalProtocolError
from ._table import (
    BUSY,
    CLIENT_INPUTS,
    FINAL,
    TRANSITIONS,
    Effect,
    EntryState,
    Input,
    why,
)
from ._wire import ProtocolViolation

__all__ = ("Entries", "Entry")


@attrs.define
class Entry:
    """One announced file, as the channel counts it."""

    state: EntryState
    size: int
    #: Bytes received in chunks passed on to the driver.
    received: int = 0
    #: Chunks received and not yet acknowledged.
    unacked: int = 0


class Entries:
    """The files one connection announced, by ref, and the counts over them.

    ``window`` is the number of chunks a client may have unacknowledged;
    ``max_files`` the number of files it may announce over the connection's
    life. The counts are plain attributes: the channel's common cases (a chunk,
    its ack) update them directly, without a call.

    Raises:
        TypeError: ``window`` or ``max_files`` is not an int.
        ValueError: ``window`` or ``max_files`` is less than 1.
    """

    def __init__(self, window: int, max_files: int) -> None:
        self.window = count_option("window", window)
        self.max_files = count_option("max_files", max_files)
        self.by_ref: dict[str, Entry] = {}
        #: Chunks received and not acknowledged, over all entries.
        self.in_flight = 0
        #: Announced files still waiting for the driver's verdict.
        self.pending = 0
        #: Entries in a state of BUSY (the connection is idle at 0).
        self.busy = 0

    def state(self, ref: str) -> EntryState | None:
        """Return entry ``ref``'s state, or ``None`` if it was never announced."""
        entry = self.by_ref.get(ref)
        return None if entry is None else entry.state

    def live(self) -> tuple[str, ...]:
        """Refs of the entries that have not ended (announced, accepted, open, cancelling)."""
        return tuple(ref for ref, e in self.by_ref.items() if e.state not in FINAL)

    def check_no_pending(self) -> None:
        """Raise :class:`LocalProtocolError` if announced files wait for their verdict."""
        if self.pending:
            raise LocalProtocolError(
                f"{self.pending} announced file(s) wait for a verdict: answer every file of "
                "SelectFiles with accept() or refuse() before feeding more input"
            )

    def announce(self, files: Sequence[ClientFile]) -> None:
        """Add ``files`` (each with a ref) as announced entries, all or none.

        Raises:
            ProtocolViolation: the connection would pass ``max_files``, or a ref
                was announced before (or twice in ``files``).
        """
        if len(self.by_ref) + len(files) > self.max_files:
            raise ProtocolViolation(
                f"a connection may announce at most {self.max_files} files; open a new one"
            )
        new: dict[str, Entry] = {}
        for file in files:
            ref = file.ref
            assert ref is not None  # parse_text requires one
            if ref in self.by_ref or ref in new:
                raise ProtocolViolation(
                    f"ref {ref!r} was announced before; every file needs its own"
                )
            new[ref] = Entry(EntryState.ANNOUNCED, file.size)
        self.by_ref.update(new)
        self.busy += len(new)  # announced: busy

    def move(self, ref: str, what: Input) -> Effect:
        """Make entry ``ref``'s move on ``what`` (a chunk for an open entry is :meth:`admit`'s).

        Returns the move's effect, for the channel to perform.

        Raises:
            ProtocolViolation: a client input with no move (or for no entry).
            LocalProtocolError: a driver input with no move (or for no entry).
        """
        entry = self.by_ref.get(ref)
        if entry is None:
            if what in CLIENT_INPUTS:
                raise ProtocolViolation(
                    f"no file with ref {ref!r} was announced on this connection"
                )
            raise LocalProtocolError(f"no file with ref {ref!r} was announced")
        old = entry.state
        row = TRANSITIONS.get((old, what))
        if row is None:
            if what in CLIENT_INPUTS:
                raise ProtocolViolation(f"entry {ref!r}: {why(old, what)}")
            raise LocalProtocolError(f"entry {ref!r} is {old.value}: {what.value} is not allowed")
        entry.state, effect = row
        if entry.state is not old:
            self.busy += (entry.state in BUSY) - (old in BUSY)
        if what is Input.WRITTEN:
            entry.unacked -= 1
            self.in_flight -= 1
        elif entry.state in FINAL:
            # Its unacknowledged chunks are given back: the client does the same
            # when it reads the entry's final message.
            self.in_flight -= entry.unacked
            entry.unacked = 0
        return effect

    def admit(self, ref: str, entry: Entry, size: int) -> None:
        """Check a chunk of ``size`` bytes for ``ref``, an open ``entry``, and count it.

        The table's one ``WRITE`` move, ``(OPEN, CHUNK)``, made here directly:
        once per chunk, it is the common case.

        Raises:
            ProtocolViolation: the entry has all its bytes, or the window is full.
        """
        if entry.received >= entry.size:
            # Bytes that cross the size go to the writer (too_large); bytes
            # after it are a violation, whether or not the entry is done yet.
            raise ProtocolViolation(
                f"entry {ref!r} has received all its {entry.size} bytes; it takes no more chunks"
            )
        if self.in_flight >= self.window:
            raise ProtocolViolation(
                f"more than {self.window} chunks unacknowledged; wait for an ack before "
                "sending the next chunk"
            )
        entry.unacked += 1
        entry.received += size
        self.in_flight += 1
