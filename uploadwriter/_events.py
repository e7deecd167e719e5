"""Events sent to an upload, and the reasons a writer is closed with.

``Done`` and ``Cancel`` play both roles: sent as events they ask the upload to
finish or stop; passed to ``close`` they say why the writer is being closed.
"""

from __future__ import annotations

from typing import TypeAlias

import attrs

from ._errors import InvalidEvent, safe_repr

__all__ = (
    "Cancel",
    "Chunk",
    "CloseReason",
    "Done",
    "Error",
    "Event",
    "Leave",
    "Suspend",
    "TimedOut",
    "check_event",
)


def _as_bytes(data: bytes | bytearray | memoryview) -> bytes:
    # Exact bytes never come here (Chunk passes them through untouched: the
    # common, fast case). Other bytes-like values are copied through the buffer protocol, so that a
    # caller who reuses its buffer cannot change what was handed to the
    # writer (L14), and a bytes subclass's __bytes__ is never called: what
    # is written is the data the object holds, nothing it computes.
    if isinstance(data, (bytes, bytearray, memoryview)):
        try:
            with memoryview(data) as view:
                return view.tobytes()
        except ValueError as exc:  # a released memoryview
            raise InvalidEvent(f"Chunk data is unusable: {exc}") from None
    raise InvalidEvent(
        f"Chunk data must be bytes, bytearray or memoryview, not {type(data).__name__}"
        + (" (encode text first, e.g. data.encode())" if isinstance(data, str) else "")
    )


_setattr = object.__setattr__


@attrs.frozen(init=False)
class Chunk:
    """Some bytes of the upload, in order.

    Raises:
        InvalidEvent: ``data`` is not bytes-like.
    """

    data: bytes

    # Written by hand rather than generated with a converter: one Chunk is
    # built per chunk received, and this spares two Python-level calls.
    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        _setattr(self, "data", data if type(data) is bytes else _as_bytes(data))

    def __repr__(self) -> str:
        # Never print megabytes of payload into a log or a failure report.
        return f"Chunk(<{len(self.data)} bytes>)"


@attrs.frozen
class Done:
    """The client has sent everything (event); the upload completed (close reason)."""


@attrs.frozen
class Cancel:
    """Stop the upload (event); the upload was cancelled (close reason)."""


@attrs.frozen
class Error:
    """Close reason: ``write_chunk`` failed with ``reason`` (an ``Err`` reason or an exception)."""

    reason: object


@attrs.frozen
class Suspend:
    """Stop here and keep the upload, to resume it later (event; a resumable upload only).

    The writer is not closed: its ``suspend`` saves its state, and the upload
    can be resumed from that state by any process that shares the storage.
    As a step's call, it asks the driver to call the writer's ``suspend``.
    """


@attrs.frozen
class Leave:
    """Driver event: the caller left the driver's block (or its task was cancelled).

    The reducer closes an open upload with ``Cancel()`` (L10), or suspends a
    resumable one (L16).
    """


@attrs.frozen
class TimedOut:
    """Driver event: no chunk arrived within ``seconds``; the upload is to be timed out."""

    seconds: float


Event: TypeAlias = Chunk | Done | Cancel | Suspend
"""What a caller sends to an upload."""

CloseReason: TypeAlias = Done | Cancel | Error
"""What a writer's ``close`` is told."""


def check_event(event: object) -> None:
    """Check that ``event`` is one a caller may send: ``Chunk``, ``Done``, ``Cancel``, ``Suspend``.

    Writers' answers (``Ok``, ``Err``, exceptions) and ``TimedOut`` are fed to the
    reducer by the drivers themselves, never by the caller.

    Raises:
        InvalidEvent: ``event`` is anything else.
    """
    cls = type(event)
    if cls is Chunk or cls is Done or cls is Cancel or cls is Suspend:
        return
    try:
        if isinstance(event, (Chunk, Done, Cancel, Suspend)):
            return
    except Exception:  # noqa: BLE001 - an object whose __class__ lookup fails is no event
        pass
    hint = ""
    if cls in (bytes, bytearray, memoryview):
        hint = " (wrap data in Chunk(...))"
    elif cls.__name__ in ("Ok", "Err") or BaseException in cls.__mro__:
        hint = " (it looks like a writer's answer: the driver feeds those, never the caller)"
    elif cls.__name__ in ("TimedOut", "Leave"):
        hint = " (the driver feeds timeouts and leaving the block itself)"
    raise InvalidEvent(
        f"cannot send {safe_repr(event)} ({cls.__name__}) to an upload: "
        f"send Chunk(data), Done() or Cancel(){hint}; nothing was done"
    )
