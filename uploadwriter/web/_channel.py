"""The WebSocket upload channel's wire protocol, as a sans-IO state machine.

Theory of operation
-------------------
A :class:`Channel` is one connection's protocol state, and everything that
affects it lives in this module and in its bookkeeping,
:mod:`uploadwriter.web._entries` (the entries, the moves of the table, the
window's counts). It does no I/O and reads no clock: a driver
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
client may have that many chunks unacknowledged, over all its entries (the
counting, and what happens to an ended entry's chunks, is described in
:mod:`uploadwriter.web._entries`).

The protocol itself (frames, fields, close codes) is written down in
``docs/reference/websocket-protocol.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from ..uploads import ClientFile, UploadConfig
from ._entries import Entries
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
from ._table import SENT, TRANSITIONS, Effect, EntryState, Input
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
)

__all__ = ("DEFAULT_MAX_FILES", "DEFAULT_WINDOW", "PROTOCOL_VERSIONS", "Channel")

#: The protocol versions this module speaks, oldest first.
PROTOCOL_VERSIONS: Final = (1,)
#: Chunks a client may have unacknowledged on one connection (see bench/ for the choice).
DEFAULT_WINDOW: Final = 8

#: Files one connection may announce over its life.
DEFAULT_MAX_FILES: Final = 10_000


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
        self._entries = Entries(window, max_files)
        self._version: int | None = None
        self._close_code: int | None = None
        self._lost = False

    # --- reading ----------------------------------------------------------------

    @property
    def window(self) -> int:
        """Chunks a client may have unacknowledged on this connection."""
        return self._entries.window

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
        return self._entries.in_flight

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
        return not self._entries.busy

    def state(self, ref: str) -> EntryState | None:
        """Return entry ``ref``'s state, or ``None`` if it was never announced."""
        return self._entries.state(ref)

    def live(self) -> tuple[str, ...]:
        """Refs of the entries that have not ended (announced, accepted, open, cancelling)."""
        return self._entries.live()

    # --- input from the client ----------------------------------------------------

    def receive_text(self, text: str) -> list[Output]:
        """Feed a text frame from the client; return what to do.

        Raises:
            LocalProtocolError: announced files still wait for their verdict.
        """
        self._entries.check_no_pending()
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
        self._entries.check_no_pending()
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
        self._entries.check_no_pending()
        if self.closed:
            return []
        self._lost = True
        return self._lose_all()

    def timed_out(self) -> list[Output]:
        """The driver's deadline passed (no ``hello``, or idle too long): close with 4408.

        Raises:
            LocalProtocolError: announced files still wait for their verdict.
        """
        self._entries.check_no_pending()
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

    # --- input from the driver ----------------------------------------------------

    def accept(self, ref: str) -> list[Output]:
        """The announced file ``ref`` is accepted (it is an entry of the uploads now)."""
        out = self._move(ref, Input.ACCEPT, chunk_size=self.chunk_size)
        self._entries.pending -= 1
        return out

    def refuse(self, ref: str, code: str, message: str) -> list[Output]:
        """The announced file ``ref`` is refused with error ``code`` (explained by ``message``)."""
        out = self._move(ref, Input.REFUSE, error=_error(code, message))
        self._entries.pending -= 1
        return out

    def written(self, ref: str, size: int, progress: int) -> list[Output]:
        """Entry ``ref``'s writer took the oldest unacknowledged chunk: acknowledge it.

        ``size`` is the bytes written so far, ``progress`` the entry's percent.
        """
        entries = self._entries
        entry = entries.by_ref.get(ref)
        if entry is not None and entry.unacked == 0:
            raise LocalProtocolError(f"entry {ref!r} has no unacknowledged chunk")
        if entry is not None and type(size) is int and type(progress) is int:
            # The common case, once per chunk: the move of _move, the ack
            # written as encode() writes it (tests/test_web_channel.py checks).
            state = entry.state
            if TRANSITIONS.get((state, Input.WRITTEN)) == (state, Effect.SEND_ACK):
                entry.unacked -= 1
                entries.in_flight -= 1
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
        return self._effect(ref, self._entries.move(ref, what), fields)

    def _effect(self, ref: str, effect: Effect, fields: Mapping[str, object]) -> list[Output]:
        if effect is Effect.NOTHING:
            return []
        if effect is Effect.START:
            return [StartEntry(ref)]
        if effect is Effect.CANCEL:
            return [CancelEntry(ref)]
        if self.closed:
            return []  # nobody to tell any more
        return [self._send(type=SENT[effect], ref=ref, **fields)]

    @staticmethod
    def _send(**message: object) -> Send:
        return Send(encode(message))

    def _lose_all(self) -> list[Output]:
        self._entries.pending = 0
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
                window=self._entries.window,
                max_entries=config.max_entries,
                max_file_size=config.max_file_size,
                accept=config.accept if config.accept == "any" else list(config.accept),
                chunk_timeout=config.chunk_timeout,
            )
        ]

    def _select(self, files: tuple[ClientFile, ...]) -> list[Output]:
        entries = self._entries
        entries.announce(files)
        out: list[Output] = []
        valid: list[ClientFile] = []
        for file in files:
            assert file.ref is not None
            problem = name_problem(file.name)
            if problem is None:
                valid.append(file)
                continue
            # Refused here: the driver never sees it.
            entries.pending += 1
            out.extend(self.refuse(file.ref, "malformed", problem))
        if valid:
            entries.pending += len(valid)
            out.append(SelectFiles(tuple(valid)))
        return out

    def _chunk(self, data: bytes) -> list[Output]:
        if self._version is None:
            raise ProtocolViolation("the first message must be hello, not a binary frame")
        chunk = parse_binary(data, self.chunk_size)
        ref = chunk.ref
        entries = self._entries
        entry = entries.by_ref.get(ref)
        if entry is not None and entry.state is EntryState.OPEN:
            entries.admit(ref, entry, len(chunk.data))  # the table's (OPEN, CHUNK) move
            return [WriteChunk(ref, chunk.data)]
        return self._move(ref, Input.CHUNK)  # dropped, or a violation
