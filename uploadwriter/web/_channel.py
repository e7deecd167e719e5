"""The WebSocket upload channel's wire protocol, as a sans-IO state machine.

Theory of operation
-------------------
A :class:`Channel` is one connection's protocol state, and everything that
affects it lives in this module. It does no I/O and reads no clock: a driver
feeds it what happens and performs what it answers, like h11's
``Connection``. What happens comes from two sides:

* **the client**: a text frame (:meth:`Channel.receive_text`), a binary frame
  (:meth:`~Channel.receive_bytes`), the connection ending
  (:meth:`~Channel.receive_close`), or the driver's idle deadline passing
  (:meth:`~Channel.timed_out`);
* **the server's own work**, reported back by the driver: the verdict on each
  announced file (:meth:`~Channel.accept`, :meth:`~Channel.refuse`), a chunk
  written (:meth:`~Channel.written`), an entry completed, failed or cancelled
  (:meth:`~Channel.completed`, :meth:`~Channel.failed`, :meth:`~Channel.cancelled`).

Each call returns the outputs to perform, in order: frames to send
(:class:`Send`), work for the uploads layer (:class:`SelectFiles`,
:class:`StartEntry`, :class:`WriteChunk`, :class:`CancelEntry`), and at most
once in a connection's life :class:`CloseConnection`.

Entries move through the states of :class:`EntryState`, and the moves are the
table :data:`TRANSITIONS`, keyed by ``(state, input)``. A client input with no
row is a protocol violation: the client gets an ``error`` frame and the
connection closes with 4400 (the failure is sticky: frames that still arrive
are ignored). A driver input with no row is the driver's bug and raises
:class:`LocalProtocolError`, changing nothing.

Flow control is a window of :attr:`Channel.window` chunks per connection: the
client may have that many chunks unacknowledged, over all its entries; the
server acknowledges each chunk once the writer has taken it. A chunk past the
window is a violation, so the server never holds more than ``window`` chunks
of ``chunk_size`` bytes for a connection, however slow its writers are. When an
entry ends, its unacknowledged chunks are given back on both sides, and its
chunks still in flight are dropped on arrival.

The protocol itself (frames, fields, close codes) is written down in
``docs/reference/websocket-protocol.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import attrs

from ..uploads import ClientFile, UploadConfig
from ._outputs import (
    CancelEntry,
    CloseConnection,
    LocalProtocolError,
    Output,
    SelectFiles,
    Send,
    StartEntry,
    WriteChunk,
)
from ._table import (
    BUSY,
    CLIENT_INPUTS,
    FINAL,
    OPEN_CHUNK_WRITES,
    SENT,
    TRANSITIONS,
    Effect,
    EntryState,
    Input,
    why,
)
from ._wire import (
    CancelMessage,
    CloseCode,
    HelloMessage,
    ProtocolViolation,
    SelectMessage,
    StartMessage,
    ack_text,
    encode,
    name_problem,
    parse_binary,
    parse_text,
    positive_int,
)

__all__ = ("DEFAULT_MAX_FILES", "DEFAULT_WINDOW", "PROTOCOL_VERSIONS", "Channel")

#: The protocol versions this module speaks, oldest first.
PROTOCOL_VERSIONS: Final = (1,)
#: Chunks a client may have unacknowledged on one connection (see bench/ for the choice).
DEFAULT_WINDOW: Final = 8

#: Files one connection may announce over its life.
DEFAULT_MAX_FILES: Final = 10_000


@attrs.define
class _Entry:
    state: EntryState
    size: int
    #: Bytes received in chunks passed on to the driver.
    received: int = 0
    #: Chunks received and not yet acknowledged.
    unacked: int = 0


def _error(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


class Channel:
    """One connection's upload-channel protocol state (sans-IO; see the module docstring).

    ``config`` gives the chunk size and what the ``welcome`` message tells the
    client; validating files against it is the driver's part (it gets
    :class:`SelectFiles`). ``window`` is the number of chunks a client may have
    unacknowledged; ``max_files`` the number of files one connection may
    announce over its life.

    Raises:
        TypeError: ``config`` is not an :class:`~uploadwriter.uploads.UploadConfig`,
            or ``window`` or ``max_files`` is not an int.
        ValueError: ``window`` or ``max_files`` is less than 1.
    """

    def __init__(
        self,
        config: UploadConfig,
        *,
        window: int = DEFAULT_WINDOW,
        max_files: int = DEFAULT_MAX_FILES,
    ) -> None:
        if not isinstance(config, UploadConfig):
            raise TypeError(f"Channel needs an UploadConfig, not {type(config).__name__}")
        self._config = config
        self._window = positive_int("window", window)
        self._max_files = positive_int("max_files", max_files)
        self._entries: dict[str, _Entry] = {}
        self._in_flight = 0
        self._version: int | None = None
        self._close_code: int | None = None
        self._lost = False
        self._pending = 0  # announced files still waiting for the driver's verdict
        self._busy = 0  # entries in a state of BUSY (the connection is idle at 0)

    # --- reading ----------------------------------------------------------------

    @property
    def window(self) -> int:
        """Chunks a client may have unacknowledged on this connection."""
        return self._window

    @property
    def chunk_size(self) -> int:
        """The largest chunk a binary frame may carry (the config's ``chunk_size``)."""
        return self._config.chunk_size

    @property
    def version(self) -> int | None:
        """The protocol version agreed in ``hello`` (``None`` before)."""
        return self._version

    @property
    def in_flight(self) -> int:
        """Chunks received and not acknowledged yet (never more than :attr:`window`)."""
        return self._in_flight

    @property
    def close_code(self) -> int | None:
        """The code the server closed with (``None`` while open, or if the client closed)."""
        return self._close_code

    @property
    def closed(self) -> bool:
        """The connection has ended: the server closed it, or the client went away."""
        return self._close_code is not None or self._lost

    @property
    def idle(self) -> bool:
        """No entry is started and not ended: the driver's idle deadline applies."""
        return not self._busy

    def state(self, ref: str) -> EntryState | None:
        """Return entry ``ref``'s state, or ``None`` if it was never announced."""
        entry = self._entries.get(ref)
        return None if entry is None else entry.state

    def live(self) -> tuple[str, ...]:
        """Refs of the entries that have not ended (announced, accepted, open, cancelling)."""
        return tuple(ref for ref, e in self._entries.items() if e.state not in FINAL)

    # --- input from the client ----------------------------------------------------

    def receive_text(self, text: str) -> list[Output]:
        """Feed a text frame from the client; return what to do.

        Raises:
            LocalProtocolError: announced files still wait for their verdict.
        """
        self._check_no_pending()
        if self.closed:
            return []
        try:
            return self._text(text)
        except ProtocolViolation as violation:
            return self._violate(str(violation))

    def receive_bytes(self, data: bytes) -> list[Output]:
        """Feed a binary frame (a chunk) from the client; return what to do.

        Raises:
            LocalProtocolError: announced files still wait for their verdict.
        """
        self._check_no_pending()
        if self.closed:
            return []
        try:
            return self._chunk(data)
        except ProtocolViolation as violation:
            return self._violate(str(violation))

    def receive_close(self) -> list[Output]:
        """The connection ended (the client closed it, or it broke): cancel what is live.

        Raises:
            LocalProtocolError: announced files still wait for their verdict.
        """
        self._check_no_pending()
        if self.closed:
            return []
        self._lost = True
        return self._lose_all()

    def timed_out(self) -> list[Output]:
        """The driver's deadline passed (no ``hello``, or idle too long): close with 4408.

        Raises:
            LocalProtocolError: announced files still wait for their verdict.
        """
        self._check_no_pending()
        if self.closed:
            return []
        waited = "no hello message" if self._version is None else "the connection was idle"
        timeout = self._config.chunk_timeout
        message = f"{waited} for {timeout:g} seconds; closing" if timeout else f"{waited}; closing"
        return self._close(CloseCode.TIMEOUT, "chunk_timeout", message, "timeout")

    def close_for_error(self, message: str) -> list[Output]:
        """The server failed (a bug): tell the client, cancel what is live, close with 1011."""
        if self.closed:
            return []
        return self._close(CloseCode.INTERNAL_ERROR, "server_error", message, "server error")

    def _check_no_pending(self) -> None:
        if self._pending:
            raise LocalProtocolError(
                f"{self._pending} announced file(s) wait for a verdict: answer every file of "
                "SelectFiles with accept() or refuse() before feeding more input"
            )

    # --- input from the driver ----------------------------------------------------

    def accept(self, ref: str) -> list[Output]:
        """The announced file ``ref`` is accepted (it is an entry of the uploads now)."""
        out = self._move(ref, Input.ACCEPT, chunk_size=self.chunk_size)
        self._pending -= 1
        return out

    def refuse(self, ref: str, code: str, message: str) -> list[Output]:
        """The announced file ``ref`` is refused with error ``code`` (explained by ``message``)."""
        out = self._move(ref, Input.REFUSE, error=_error(code, message))
        self._pending -= 1
        return out

    def written(self, ref: str, size: int, progress: int) -> list[Output]:
        """Entry ``ref``'s writer took the oldest unacknowledged chunk: acknowledge it.

        ``size`` is the bytes written so far, ``progress`` the entry's percent.
        """
        entry = self._entries.get(ref)
        if entry is not None and entry.unacked == 0:
            raise LocalProtocolError(f"entry {ref!r} has no unacknowledged chunk")
        if entry is not None and type(size) is int and type(progress) is int:
            # The common case, once per chunk: the move of _move, the ack
            # written as encode() writes it (tests/test_web_channel.py checks).
            state = entry.state
            if TRANSITIONS.get((state, Input.WRITTEN)) == (state, Effect.SEND_ACK):
                entry.unacked -= 1
                self._in_flight -= 1
                if self.closed:
                    return []
                return [Send(ack_text(ref, size, progress))]
        return self._move(ref, Input.WRITTEN, size=size, progress=progress)

    def completed(self, ref: str, result: object) -> list[Output]:
        """Entry ``ref`` completed and was consumed; ``result`` (JSON) goes to the client.

        Raises:
            TypeError: ``result`` cannot be encoded as JSON (nothing changed).
        """
        try:
            encode({"result": result})
        except (TypeError, ValueError) as exc:
            raise TypeError(f"the result of entry {ref!r} is not JSON: {exc}") from None
        return self._move(ref, Input.COMPLETED, result=result)

    def failed(self, ref: str, code: str, message: str) -> list[Output]:
        """Entry ``ref`` failed with error ``code`` (its writer is closed, nothing kept)."""
        return self._move(ref, Input.FAILED, error=_error(code, message))

    def cancelled(self, ref: str) -> list[Output]:
        """Entry ``ref`` is cancelled: its writer is closed and nothing of it is kept."""
        return self._move(ref, Input.CANCELLED)

    # --- the moves ------------------------------------------------------------------

    def _move(self, ref: str, what: Input, **fields: object) -> list[Output]:
        entry = self._entries.get(ref)
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
            self._busy += (entry.state in BUSY) - (old in BUSY)
        if what is Input.WRITTEN:
            entry.unacked -= 1
            self._in_flight -= 1
        elif entry.state in FINAL:
            # Its unacknowledged chunks are given back: the client does the same
            # when it reads the entry's final message.
            self._in_flight -= entry.unacked
            entry.unacked = 0
        return self._effect(ref, entry, effect, fields)

    def _effect(
        self, ref: str, entry: _Entry, effect: Effect, fields: Mapping[str, object]
    ) -> list[Output]:
        if effect is Effect.WRITE:
            data = fields["data"]
            assert isinstance(data, bytes)
            return self._write(ref, entry, data)
        if effect is Effect.NOTHING:
            return []
        if effect is Effect.START:
            return [StartEntry(ref)]
        if effect is Effect.CANCEL:
            return [CancelEntry(ref)]
        if self.closed:
            return []  # nobody to tell any more
        return [self._send(type=SENT[effect], ref=ref, **fields)]

    def _write(self, ref: str, entry: _Entry, data: bytes) -> list[Output]:
        entry.unacked += 1
        entry.received += len(data)
        self._in_flight += 1
        return [WriteChunk(ref, data)]

    @staticmethod
    def _send(**message: object) -> Send:
        return Send(encode(message))

    def _lose_all(self) -> list[Output]:
        self._pending = 0
        out: list[Output] = []
        for ref in self.live():
            out.extend(self._move(ref, Input.LOST))
        return out

    def _close(self, code: CloseCode, error: str, message: str, reason: str) -> list[Output]:
        out: list[Output] = [self._send(type="error", error=_error(error, message))]
        self._close_code = int(code)
        out.extend(self._lose_all())
        out.append(CloseConnection(int(code), reason))
        return out

    def _violate(self, message: str) -> list[Output]:
        return self._close(CloseCode.MALFORMED, "malformed", message, "protocol violation")

    # --- what the client sent ----------------------------------------------------------

    def _text(self, text: str) -> list[Output]:
        message = parse_text(text)
        if self._version is None:
            if not isinstance(message, HelloMessage):
                kind = type(message).__name__.removesuffix("Message").lower()
                raise ProtocolViolation(f"the first message must be hello, not {kind}")
            return self._hello(message.versions)
        if isinstance(message, SelectMessage):
            return self._select(message.files)
        if isinstance(message, StartMessage):
            return self._move(message.ref, Input.START)
        if isinstance(message, CancelMessage):
            return self._move(message.ref, Input.CANCEL)
        raise ProtocolViolation("hello was sent twice")

    def _hello(self, offered: tuple[int, ...]) -> list[Output]:
        common = set(offered).intersection(PROTOCOL_VERSIONS)
        if not common:
            return self._close(
                CloseCode.UNSUPPORTED_VERSION,
                "malformed",
                f"this server speaks protocol versions {list(PROTOCOL_VERSIONS)}; "
                f"the client offered {list(offered)}",
                "no common version",
            )
        self._version = max(common)
        config = self._config
        return [
            self._send(
                type="welcome",
                version=self._version,
                upload=config.name,
                chunk_size=config.chunk_size,
                window=self._window,
                max_entries=config.max_entries,
                max_file_size=config.max_file_size,
                accept=config.accept if config.accept == "any" else list(config.accept),
                chunk_timeout=config.chunk_timeout,
            )
        ]

    def _select(self, files: tuple[ClientFile, ...]) -> list[Output]:
        if len(self._entries) + len(files) > self._max_files:
            raise ProtocolViolation(
                f"a connection may announce at most {self._max_files} files; open a new one"
            )
        refs: set[str] = set()
        for file in files:
            ref = file.ref
            assert ref is not None  # parse_text requires one
            if ref in self._entries or ref in refs:
                raise ProtocolViolation(
                    f"ref {ref!r} was announced before; every file needs its own"
                )
            refs.add(ref)
        out: list[Output] = []
        valid: list[ClientFile] = []
        for file in files:
            assert file.ref is not None
            self._entries[file.ref] = _Entry(EntryState.ANNOUNCED, file.size)
            self._busy += 1  # announced: busy
            problem = name_problem(file.name)
            if problem is None:
                valid.append(file)
                continue
            # Refused here: the driver never sees it.
            self._pending += 1
            out.extend(self.refuse(file.ref, "malformed", problem))
        if valid:
            self._pending += len(valid)
            out.append(SelectFiles(tuple(valid)))
        return out

    def _chunk(self, data: bytes) -> list[Output]:
        if self._version is None:
            raise ProtocolViolation("the first message must be hello, not a binary frame")
        chunk = parse_binary(data, self.chunk_size)
        ref = chunk.ref
        entry = self._entries.get(ref)
        if entry is not None and entry.state is EntryState.OPEN:
            if entry.received >= entry.size:
                # Bytes that cross the size go to the writer (too_large); bytes
                # after it are a violation, whether or not the entry is done yet.
                raise ProtocolViolation(
                    f"entry {ref!r} has received all its {entry.size} bytes; "
                    "it takes no more chunks"
                )
            if self._in_flight >= self._window:
                raise ProtocolViolation(
                    f"more than {self._window} chunks unacknowledged; wait for an ack before "
                    "sending the next chunk"
                )
            if OPEN_CHUNK_WRITES:
                return self._write(ref, entry, chunk.data)  # _move's move, the common case
        return self._move(ref, Input.CHUNK, data=chunk.data)
