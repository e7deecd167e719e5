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

import enum
import json
import math
import re
from collections.abc import Mapping
from typing import Final, TypeAlias

import attrs

from ..uploads import ClientFile, UploadConfig

__all__ = (
    "DEFAULT_WINDOW",
    "PROTOCOL_VERSIONS",
    "TRANSITIONS",
    "CancelEntry",
    "Channel",
    "CloseCode",
    "CloseConnection",
    "EntryState",
    "Input",
    "LocalProtocolError",
    "Output",
    "SelectFiles",
    "Send",
    "StartEntry",
    "WriteChunk",
    "chunk_frame",
)

#: The protocol versions this module speaks, oldest first.
PROTOCOL_VERSIONS: Final = (1,)
#: Chunks a client may have unacknowledged on one connection (see bench/ for the choice).
DEFAULT_WINDOW: Final = 4
#: Longest client ref, in characters (refs are ASCII: ``[A-Za-z0-9_.-]``).
MAX_REF: Final = 64
#: Longest file name a client may announce, in characters.
MAX_NAME: Final = 1024
#: Files one connection may announce over its life.
DEFAULT_MAX_FILES: Final = 10_000
#: Longest text frame, in characters (a longer selection is sent in several ``select``\ s).
MAX_TEXT: Final = 1_000_000

_REF = re.compile(rf"[A-Za-z0-9_.-]{{1,{MAX_REF}}}")


class CloseCode(enum.IntEnum):
    """The close codes of the channel (4xxx mirror the HTTP status of the same meaning)."""

    NORMAL = 1000  #: all done (either side)
    GOING_AWAY = 1001  #: the server is shutting down
    INTERNAL_ERROR = 1011  #: the server failed (a bug, not the client's fault)
    MALFORMED = 4400  #: the client broke the protocol; the ``error`` frame says how
    UNSUPPORTED_VERSION = 4406  #: no protocol version in common
    TIMEOUT = 4408  #: nothing arrived in time (no ``hello``, or an idle connection)


class LocalProtocolError(RuntimeError):
    """Raised when the driver reports something the protocol state does not allow (a driver bug)."""


# --- outputs -------------------------------------------------------------------


@attrs.frozen
class Send:
    """Send this text frame (a JSON control message) to the client."""

    text: str


@attrs.frozen
class CloseConnection:
    """Close the connection with ``code`` (a :class:`CloseCode`) and a short ``reason``."""

    code: int
    reason: str


@attrs.frozen
class SelectFiles:
    """Validate these announced files; answer each with :meth:`Channel.accept` or ``refuse``.

    Every file must be answered before anything else is fed to the channel.
    """

    files: tuple[ClientFile, ...]


@attrs.frozen
class StartEntry:
    """Start the upload of entry ``ref`` (the writer's ``init``; its chunk timeout starts)."""

    ref: str


@attrs.frozen
class WriteChunk:
    """Give ``data`` to entry ``ref``'s writer; report :meth:`Channel.written` once it took it."""

    ref: str
    data: bytes = attrs.field(repr=lambda data: f"<{len(data)} bytes>")


@attrs.frozen
class CancelEntry:
    """Cancel entry ``ref`` (close its writer with ``Cancel()`` if it started, drop it).

    Report :meth:`Channel.cancelled` when that is done (or ``completed`` /
    ``failed`` if the entry ended otherwise first).
    """

    ref: str


Output: TypeAlias = Send | CloseConnection | SelectFiles | StartEntry | WriteChunk | CancelEntry


# --- the entry table -------------------------------------------------------------


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


_CLIENT_INPUTS: Final = frozenset({Input.START, Input.CHUNK, Input.CANCEL, Input.LOST})


class _Do(enum.Enum):
    """The effect of a transition."""

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


_S = EntryState
_I = Input

#: ``(state, input) -> (next state, effect)``: every legal move of an entry.
TRANSITIONS: Final[Mapping[tuple[EntryState, Input], tuple[EntryState, _Do]]] = {
    (_S.ANNOUNCED, _I.ACCEPT): (_S.ACCEPTED, _Do.SEND_ACCEPTED),
    (_S.ANNOUNCED, _I.REFUSE): (_S.REFUSED, _Do.SEND_REFUSED),
    # The server failed before its verdict (close_for_error): nothing started.
    (_S.ANNOUNCED, _I.LOST): (_S.CANCELLED, _Do.NOTHING),
    (_S.ACCEPTED, _I.START): (_S.OPEN, _Do.START),
    (_S.ACCEPTED, _I.CANCEL): (_S.CANCELLING, _Do.CANCEL),
    (_S.ACCEPTED, _I.LOST): (_S.CANCELLING, _Do.CANCEL),
    # The server cancelled it (Phoenix's max_entries=1 replacement).
    (_S.ACCEPTED, _I.CANCELLED): (_S.CANCELLED, _Do.SEND_CANCELLED),
    (_S.OPEN, _I.CHUNK): (_S.OPEN, _Do.WRITE),
    (_S.OPEN, _I.CANCEL): (_S.CANCELLING, _Do.CANCEL),
    (_S.OPEN, _I.LOST): (_S.CANCELLING, _Do.CANCEL),
    (_S.OPEN, _I.WRITTEN): (_S.OPEN, _Do.SEND_ACK),
    (_S.OPEN, _I.COMPLETED): (_S.DONE, _Do.SEND_DONE),
    (_S.OPEN, _I.FAILED): (_S.FAILED, _Do.SEND_ERROR),
    # The server cancelled it (Phoenix's max_entries=1 replacement).
    (_S.OPEN, _I.CANCELLED): (_S.CANCELLED, _Do.SEND_CANCELLED),
    # Chunks sent before the client's cancel are still in flight: dropped.
    (_S.CANCELLING, _I.CHUNK): (_S.CANCELLING, _Do.NOTHING),
    (_S.CANCELLING, _I.CANCEL): (_S.CANCELLING, _Do.NOTHING),
    (_S.CANCELLING, _I.LOST): (_S.CANCELLING, _Do.NOTHING),
    # A write that was under way when the cancel came is still acknowledged,
    # so that both sides count the window alike.
    (_S.CANCELLING, _I.WRITTEN): (_S.CANCELLING, _Do.SEND_ACK),
    # The entry ended otherwise before the cancel took effect: that is its end.
    (_S.CANCELLING, _I.COMPLETED): (_S.DONE, _Do.SEND_DONE),
    (_S.CANCELLING, _I.FAILED): (_S.FAILED, _Do.SEND_ERROR),
    (_S.CANCELLING, _I.CANCELLED): (_S.CANCELLED, _Do.SEND_CANCELLED),
    # Ended entries: a cancel racing the end changes nothing; chunks still in
    # flight when it ended are dropped.
    (_S.REFUSED, _I.CANCEL): (_S.REFUSED, _Do.NOTHING),
    (_S.REFUSED, _I.LOST): (_S.REFUSED, _Do.NOTHING),
    (_S.DONE, _I.CANCEL): (_S.DONE, _Do.NOTHING),
    (_S.DONE, _I.LOST): (_S.DONE, _Do.NOTHING),
    (_S.FAILED, _I.CHUNK): (_S.FAILED, _Do.NOTHING),
    (_S.FAILED, _I.CANCEL): (_S.FAILED, _Do.NOTHING),
    (_S.FAILED, _I.LOST): (_S.FAILED, _Do.NOTHING),
    (_S.CANCELLED, _I.CHUNK): (_S.CANCELLED, _Do.NOTHING),
    (_S.CANCELLED, _I.CANCEL): (_S.CANCELLED, _Do.NOTHING),
    (_S.CANCELLED, _I.LOST): (_S.CANCELLED, _Do.NOTHING),
}

# The message each sending effect sends (its fields come with the input).
_SENT: Final = {
    _Do.SEND_ACCEPTED: "accepted",
    _Do.SEND_REFUSED: "refused",
    _Do.SEND_ACK: "ack",
    _Do.SEND_DONE: "done",
    _Do.SEND_ERROR: "error",
    _Do.SEND_CANCELLED: "cancelled",
}

#: States in which an entry has ended for good.
FINAL: Final = frozenset({_S.REFUSED, _S.DONE, _S.FAILED, _S.CANCELLED})

# Why a client input has no row, for the error message.
_WHY: Final[Mapping[tuple[EntryState, Input], str]] = {
    (_S.ACCEPTED, _I.CHUNK): "a chunk arrived before the entry's start message",
    (_S.OPEN, _I.START): "the entry was started already (each entry is uploaded once)",
    (_S.CANCELLING, _I.START): "the entry was cancelled; it cannot be started",
    (_S.REFUSED, _I.START): "the entry was refused; it cannot be started",
    (_S.REFUSED, _I.CHUNK): "the entry was refused; it takes no chunks",
    (_S.DONE, _I.CHUNK): "the entry has received all its bytes; it takes no more chunks",
}


def _why(state: EntryState, what: Input) -> str:
    if (state, what) in _WHY:
        return _WHY[state, what]
    if what is _I.START and state in FINAL:
        return f"the entry has ended ({state.value}); each entry is uploaded once"
    return f"{what.value} is not allowed while the entry is {state.value}"  # pragma: no cover


@attrs.define
class _Entry:
    state: EntryState
    size: int
    #: Bytes received in chunks passed on to the driver.
    received: int = 0
    #: Chunks received and not yet acknowledged.
    unacked: int = 0


class _Violation(Exception):
    """The client broke the protocol (internal: becomes an error frame and close 4400)."""


def _dumps(message: Mapping[str, object]) -> str:
    # ASCII-only output: a client's name with a lone surrogate still encodes.
    return json.dumps(message, separators=(",", ":"), allow_nan=False)


def _reject_constant(name: str) -> object:
    raise _Violation(f"JSON has no {name}; numbers must be finite")


def _error(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


def _ref(value: object, where: str) -> str:
    if not isinstance(value, str) or _REF.fullmatch(value) is None:
        raise _Violation(
            f"{where} must be a string of 1 to {MAX_REF} characters among A-Z a-z 0-9 _ . -, "
            f"not {_short(value)}"
        )
    return value


def _short(value: object) -> str:
    """A JSON value from the client, cut to fit in a message."""
    text = json.dumps(value)  # whatever json.loads built encodes again
    return text if len(text) <= 40 else text[:37] + "..."


def _int(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _Violation(f"{where} must be a whole number of bytes, 0 or more, not {_short(value)}")
    return value


def positive_int(option: str, value: object) -> int:
    """Return ``value`` if it is an int of 1 or more; raise naming ``option`` otherwise.

    Raises:
        TypeError: it is not an int.
        ValueError: it is less than 1.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{option} must be an int, 1 or more, not {value!r}")
    if value < 1:
        raise ValueError(f"{option} must be 1 or more, not {value!r}")
    return value


def chunk_frame(ref: str, data: bytes) -> bytes:
    """Return the binary frame carrying ``data`` for entry ``ref`` (what a client sends).

    Raises:
        ValueError: ``ref`` is not a valid ref.
    """
    if _REF.fullmatch(ref) is None:
        raise ValueError(
            f"ref must have 1 to {MAX_REF} characters among A-Z a-z 0-9 _ . -, not {ref!r}"
        )
    return bytes([len(ref)]) + ref.encode("ascii") + data


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
        return not any(
            e.state in (_S.OPEN, _S.CANCELLING, _S.ANNOUNCED) for e in self._entries.values()
        )

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
        except _Violation as violation:
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
        except _Violation as violation:
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
        message = f"{waited} for {self._config.chunk_timeout:g} seconds; closing"
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
        out = self._move(ref, _I.ACCEPT, chunk_size=self.chunk_size)
        self._pending -= 1
        return out

    def refuse(self, ref: str, code: str, message: str) -> list[Output]:
        """The announced file ``ref`` is refused with error ``code`` (explained by ``message``)."""
        out = self._move(ref, _I.REFUSE, error=_error(code, message))
        self._pending -= 1
        return out

    def written(self, ref: str, size: int, progress: int) -> list[Output]:
        """Entry ``ref``'s writer took the oldest unacknowledged chunk: acknowledge it.

        ``size`` is the bytes written so far, ``progress`` the entry's percent.
        """
        entry = self._entries.get(ref)
        if entry is not None and entry.unacked == 0:
            raise LocalProtocolError(f"entry {ref!r} has no unacknowledged chunk")
        return self._move(ref, _I.WRITTEN, size=size, progress=progress)

    def completed(self, ref: str, result: object) -> list[Output]:
        """Entry ``ref`` completed and was consumed; ``result`` (JSON) goes to the client.

        Raises:
            TypeError: ``result`` cannot be encoded as JSON (nothing changed).
        """
        try:
            _dumps({"result": result})
        except (TypeError, ValueError) as exc:
            raise TypeError(f"the result of entry {ref!r} is not JSON: {exc}") from None
        return self._move(ref, _I.COMPLETED, result=result)

    def failed(self, ref: str, code: str, message: str) -> list[Output]:
        """Entry ``ref`` failed with error ``code`` (its writer is closed, nothing kept)."""
        return self._move(ref, _I.FAILED, error=_error(code, message))

    def cancelled(self, ref: str) -> list[Output]:
        """Entry ``ref`` is cancelled: its writer is closed and nothing of it is kept."""
        return self._move(ref, _I.CANCELLED)

    # --- the moves ------------------------------------------------------------------

    def _move(self, ref: str, what: Input, **fields: object) -> list[Output]:
        entry = self._entries.get(ref)
        client = what in _CLIENT_INPUTS
        if entry is None:
            if client:
                raise _Violation(f"no file with ref {ref!r} was announced on this connection")
            raise LocalProtocolError(f"no file with ref {ref!r} was announced")
        row = TRANSITIONS.get((entry.state, what))
        if row is None:
            if client:
                raise _Violation(f"entry {ref!r}: {_why(entry.state, what)}")
            raise LocalProtocolError(
                f"entry {ref!r} is {entry.state.value}: {what.value} is not allowed"
            )
        entry.state, effect = row
        if what is _I.WRITTEN:
            entry.unacked -= 1
            self._in_flight -= 1
        elif entry.state in FINAL:
            # Its unacknowledged chunks are given back: the client does the same
            # when it reads the entry's final message.
            self._in_flight -= entry.unacked
            entry.unacked = 0
        return self._effect(ref, effect, fields)

    def _effect(self, ref: str, effect: _Do, fields: Mapping[str, object]) -> list[Output]:
        if effect is _Do.NOTHING:
            return []
        if effect is _Do.START:
            return [StartEntry(ref)]
        if effect is _Do.WRITE:
            data = fields["data"]
            assert isinstance(data, bytes)
            entry = self._entries[ref]
            entry.unacked += 1
            entry.received += len(data)
            self._in_flight += 1
            return [WriteChunk(ref, data)]
        if effect is _Do.CANCEL:
            return [CancelEntry(ref)]
        if self.closed:
            return []  # nobody to tell any more
        return [self._send(type=_SENT[effect], ref=ref, **fields)]

    @staticmethod
    def _send(**message: object) -> Send:
        return Send(_dumps(message))

    def _lose_all(self) -> list[Output]:
        self._pending = 0
        out: list[Output] = []
        for ref in self.live():
            out.extend(self._move(ref, _I.LOST))
        return out

    def _close(self, code: CloseCode, error: str, message: str, reason: str) -> list[Output]:
        out: list[Output] = [self._send(type="error", error=_error(error, message))]
        self._close_code = int(code)
        out.extend(self._lose_all())
        out.append(CloseConnection(int(code), reason))
        return out

    def _violate(self, message: str) -> list[Output]:
        return self._close(CloseCode.MALFORMED, "malformed", message, "protocol violation")

    # --- parsing ----------------------------------------------------------------------

    def _text(self, text: str) -> list[Output]:
        if len(text) > MAX_TEXT:
            raise _Violation(
                f"a text frame has at most {MAX_TEXT} characters, not {len(text)}; "
                "announce many files in several select messages"
            )
        try:
            message = json.loads(text, parse_constant=_reject_constant)
        except _Violation:
            raise
        except ValueError as exc:  # JSONDecodeError, or an int of too many digits
            raise _Violation(f"a text frame must be one JSON object: {exc}") from None
        if not isinstance(message, dict):
            raise _Violation(f"a text frame must be one JSON object, not {_short(message)}")
        kind = message.get("type")
        if self._version is None:
            if kind != "hello":
                raise _Violation(f"the first message must be hello, not {_short(kind)}")
            return self._hello(message)
        if kind == "select":
            return self._select(message)
        if kind == "start":
            return self._move(_ref(message.get("ref"), "start's ref"), _I.START)
        if kind == "cancel":
            return self._move(_ref(message.get("ref"), "cancel's ref"), _I.CANCEL)
        if kind == "hello":
            raise _Violation("hello was sent twice")
        raise _Violation(
            f"unknown message type {_short(kind)}; the client may send select, start and cancel"
        )

    def _hello(self, message: Mapping[str, object]) -> list[Output]:
        offered = message.get("versions")
        if not isinstance(offered, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in offered
        ):
            raise _Violation(
                f"hello's versions must be an array of integers, not {_short(offered)}"
            )
        common = set(offered).intersection(PROTOCOL_VERSIONS)
        if not common:
            return self._close(
                CloseCode.UNSUPPORTED_VERSION,
                "malformed",
                f"this server speaks protocol versions {list(PROTOCOL_VERSIONS)}; "
                f"the client offered {_short(offered)}",
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

    def _select(self, message: Mapping[str, object]) -> list[Output]:
        files = message.get("files")
        if not isinstance(files, list) or not files:
            raise _Violation(f"select's files must be a non-empty array, not {_short(files)}")
        if len(self._entries) + len(files) > self._max_files:
            raise _Violation(
                f"a connection may announce at most {self._max_files} files; open a new one"
            )
        parsed: list[ClientFile] = []
        refs: set[str] = set()
        for index, item in enumerate(files):
            file = self._file(item, f"select's files[{index}]")
            ref = file.ref
            assert ref is not None
            if ref in self._entries or ref in refs:
                raise _Violation(f"ref {ref!r} was announced before; every file needs its own")
            refs.add(ref)
            parsed.append(file)
        out: list[Output] = []
        valid: list[ClientFile] = []
        for file in parsed:
            assert file.ref is not None
            self._entries[file.ref] = _Entry(_S.ANNOUNCED, file.size)
            problem = _name_problem(file.name)
            if problem is None:
                valid.append(file)
                continue
            # Refused here, the driver never sees it.
            self._pending += 1
            out.extend(self.refuse(file.ref, "malformed", problem))
        if valid:
            self._pending += len(valid)
            out.append(SelectFiles(tuple(valid)))
        return out

    @staticmethod
    def _file(item: object, where: str) -> ClientFile:
        if not isinstance(item, dict):
            raise _Violation(f"{where} must be an object, not {_short(item)}")
        ref = _ref(item.get("ref"), f"{where}.ref")
        name = item.get("name")
        if not isinstance(name, str):
            raise _Violation(f"{where}.name must be a string, not {_short(name)}")
        size = _int(item.get("size"), f"{where}.size")
        kind = item.get("type", "")
        if not isinstance(kind, str) or len(kind) > MAX_NAME:
            raise _Violation(
                f"{where}.type must be a MIME type string of at most {MAX_NAME} characters"
            )
        modified = item.get("last_modified")
        if modified is not None and (
            isinstance(modified, bool) or not isinstance(modified, (int, float))
        ):
            raise _Violation(f"{where}.last_modified must be a number or null")
        if isinstance(modified, float):
            modified = int(modified) if math.isfinite(modified) else None
        return ClientFile(name, size, kind, modified, ref)

    def _chunk(self, data: bytes) -> list[Output]:
        if self._version is None:
            raise _Violation("the first message must be hello, not a binary frame")
        length = data[0] if data else 0
        ref_bytes = data[1 : 1 + length]
        if not 1 <= length <= MAX_REF or len(ref_bytes) < length:
            raise _Violation(
                f"a binary frame starts with the ref's length (1 to {MAX_REF}) and the ref"
            )
        ref = _ref(ref_bytes.decode("latin-1"), "a binary frame's ref")
        payload = data[1 + length :]
        if not 1 <= len(payload) <= self.chunk_size:
            raise _Violation(
                f"a binary frame carries 1 to {self.chunk_size} bytes after its ref, "
                f"not {len(payload)}"
            )
        entry = self._entries.get(ref)
        if entry is not None and entry.state is _S.OPEN:
            if entry.received >= entry.size:
                # Bytes that cross the size go to the writer (too_large); bytes
                # after it are a violation, whether or not the entry is done yet.
                raise _Violation(
                    f"entry {ref!r} has received all its {entry.size} bytes; "
                    "it takes no more chunks"
                )
            if self._in_flight >= self._window:
                raise _Violation(
                    f"more than {self._window} chunks unacknowledged; wait for an ack before "
                    "sending the next chunk"
                )
        return self._move(ref, _I.CHUNK, data=payload)


def _name_problem(name: str) -> str | None:
    if not name:
        return "the file has no name"
    if len(name) > MAX_NAME:
        return f"the file name has {len(name)} characters; at most {MAX_NAME} are allowed"
    if "\x00" in name:
        return "the file name contains a NUL character"
    return None
