"""Events and close reasons: small frozen classes that accept only what they can carry."""

from __future__ import annotations

from typing_extensions import assert_never, assert_type

from uploadwriter import Cancel, Chunk, CloseReason, Done, Error, Event, Uploader
from uploadwriter.writers import EchoOpts, EchoWriter

# --- accepted ---------------------------------------------------------------


def close_reason_is_exhaustive(reason: CloseReason) -> str:
    match reason:
        case Done():
            return "done"
        case Cancel():
            return "cancel"
        case Error(why):
            assert_type(why, object)
            return repr(why)
        case unreachable:
            assert_never(unreachable)


def bytes_like_chunks() -> None:
    assert_type(Chunk(b"abc").data, bytes)
    assert_type(Chunk(bytearray(b"abc")).data, bytes)
    assert_type(Chunk(memoryview(b"abc")).data, bytes)
    events: list[Event] = [Chunk(b"a"), Done(), Cancel()]
    reasons: list[CloseReason] = [Done(), Cancel(), Error(OSError("disk full"))]


# --- rejected ---------------------------------------------------------------


def misuse() -> None:
    Chunk("text")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    Chunk(42)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    Chunk()  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
    Chunk(b"a").data = b"b"  # type: ignore[misc]  # pyright: ignore[reportAttributeAccessIssue]
    Error()  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
    not_an_event: Event = Error("x")  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]
    with Uploader(EchoWriter(), EchoOpts(level="info")) as up:
        up.send(b"raw bytes")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
        up.send(Error("x"))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
