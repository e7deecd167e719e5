"""What the upload channel asks of its driver: frames to send, work for the uploads layer."""

from __future__ import annotations

from typing import TypeAlias

import attrs

from ..uploads import ClientFile

__all__ = (
    "CancelEntry",
    "CloseConnection",
    "LocalProtocolError",
    "Output",
    "SelectFiles",
    "Send",
    "StartEntry",
    "WriteChunk",
)


class LocalProtocolError(RuntimeError):
    """Raised when the driver reports something the protocol state does not allow (a driver bug)."""


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


#: Anything a :class:`~uploadwriter.web.Channel` call may return, in its list.
Output: TypeAlias = Send | CloseConnection | SelectFiles | StartEntry | WriteChunk | CancelEntry
