"""The upload channel's frames: client frames parsed into messages, server messages encoded.

Nothing here has state: :mod:`uploadwriter.web._channel` decides what a
message means now. A frame that cannot be parsed raises
:class:`ProtocolViolation`, whose text is what the client is told.
"""

from __future__ import annotations

import enum
import json
import math
import re
from collections.abc import Mapping
from json.encoder import encode_basestring_ascii
from typing import Final, TypeAlias

import attrs

from ..uploads import ClientFile

__all__ = (
    "MAX_NAME",
    "MAX_REF",
    "MAX_TEXT",
    "CancelMessage",
    "ChunkMessage",
    "ClientMessage",
    "CloseCode",
    "HelloMessage",
    "ProtocolViolation",
    "SelectMessage",
    "StartMessage",
    "chunk_frame",
    "encode",
    "name_problem",
    "parse_binary",
    "parse_text",
    "short",
)

#: Longest client ref, in characters (refs are ASCII: ``[A-Za-z0-9_.-]``).
MAX_REF: Final = 64
#: Longest file name (and MIME type) a client may announce, in characters.
MAX_NAME: Final = 1024
#: Longest text frame, in characters (a longer selection is sent in several ``select`` s).
MAX_TEXT: Final = 1_000_000

_REF = re.compile(rf"[A-Za-z0-9_.-]{{1,{MAX_REF}}}")
_REF_RULE = f"1 to {MAX_REF} characters among A-Z a-z 0-9 _ . -"


class CloseCode(enum.IntEnum):
    """The close codes of the channel (4xxx mirror the HTTP status of the same meaning)."""

    NORMAL = 1000  #: all done (either side)
    GOING_AWAY = 1001  #: the server is shutting down
    INTERNAL_ERROR = 1011  #: the server failed (a bug, not the client's fault)
    MALFORMED = 4400  #: the client broke the protocol; the ``error`` frame says how
    UNSUPPORTED_VERSION = 4406  #: no protocol version in common
    TIMEOUT = 4408  #: nothing arrived in time (no ``hello``, or an idle connection)


class ProtocolViolation(Exception):
    """Raised when a client's frame breaks the protocol; the message says how."""


@attrs.frozen
class HelloMessage:
    """``{"type": "hello", "versions": [1]}``: the first message, offering versions."""

    versions: tuple[int, ...]


@attrs.frozen
class SelectMessage:
    """``{"type": "select", "files": [...]}``: files announced (each with its client ref)."""

    files: tuple[ClientFile, ...]


@attrs.frozen
class StartMessage:
    """``{"type": "start", "ref": ...}``: upload this accepted entry now."""

    ref: str


@attrs.frozen
class CancelMessage:
    """``{"type": "cancel", "ref": ...}``: cancel this entry."""

    ref: str


@attrs.frozen
class ChunkMessage:
    """A binary frame: ``data`` for entry ``ref``."""

    ref: str
    data: bytes = attrs.field(repr=lambda data: f"<{len(data)} bytes>")


ClientMessage: TypeAlias = HelloMessage | SelectMessage | StartMessage | CancelMessage


def encode(message: Mapping[str, object]) -> str:
    """Return the text frame of a server message.

    Raises:
        TypeError, ValueError: ``message`` holds something JSON cannot carry.
    """
    # ASCII-only output: a client's name with a lone surrogate still encodes.
    return _ENCODER.encode(message)


# What json.dumps(message, separators=(",", ":"), allow_nan=False) builds on each
# call, built once.
_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def ack_text(ref: str, size: int, progress: int) -> str:
    """The ``ack`` message's text frame, exactly as :func:`encode` writes it (ints only).

    Sent once per chunk: written directly rather than through the encoder.
    """
    quoted = encode_basestring_ascii(ref)
    return f'{{"type":"ack","ref":{quoted},"size":{size},"progress":{progress}}}'


def short(value: object) -> str:
    """A JSON value from the client, cut to fit in a message."""
    text = json.dumps(value)  # whatever json.loads built encodes again
    return text if len(text) <= 40 else text[:37] + "..."


def chunk_frame(ref: str, data: bytes) -> bytes:
    """Return the binary frame carrying ``data`` for entry ``ref`` (what a client sends).

    Raises:
        ValueError: ``ref`` is not a valid ref.
    """
    if _REF.fullmatch(ref) is None:
        raise ValueError(f"ref must have {_REF_RULE}, not {ref!r}")
    return bytes([len(ref)]) + ref.encode("ascii") + data


def name_problem(name: str) -> str | None:
    """Why a client's file name is refused (``None``: it is fine as a name; never a path)."""
    if not name:
        return "the file has no name"
    if len(name) > MAX_NAME:
        return f"the file name has {len(name)} characters; at most {MAX_NAME} are allowed"
    if "\x00" in name:
        return "the file name contains a NUL character"
    return None


def _reject_constant(name: str) -> object:
    raise ProtocolViolation(f"JSON has no {name}; numbers must be finite")


def _ref(value: object, where: str) -> str:
    if not isinstance(value, str) or _REF.fullmatch(value) is None:
        raise ProtocolViolation(f"{where} must be a string of {_REF_RULE}, not {short(value)}")
    return value


def _size(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProtocolViolation(
            f"{where} must be a whole number of bytes, 0 or more, not {short(value)}"
        )
    return value


def parse_text(text: str) -> ClientMessage:
    """Parse a client's text frame.

    Raises:
        ProtocolViolation: it is not one JSON object of a known type with valid fields.
    """
    if len(text) > MAX_TEXT:
        raise ProtocolViolation(
            f"a text frame has at most {MAX_TEXT} characters, not {len(text)}; "
            "announce many files in several select messages"
        )
    try:
        message = json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:  # JSONDecodeError, or an int of too many digits
        raise ProtocolViolation(f"a text frame must be one JSON object: {exc}") from None
    if not isinstance(message, dict):
        raise ProtocolViolation(f"a text frame must be one JSON object, not {short(message)}")
    kind = message.get("type")
    if kind == "hello":
        versions = message.get("versions")
        if not isinstance(versions, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in versions
        ):
            raise ProtocolViolation(
                f"hello's versions must be an array of integers, not {short(versions)}"
            )
        return HelloMessage(tuple(versions))
    if kind == "select":
        files = message.get("files")
        if not isinstance(files, list) or not files:
            raise ProtocolViolation(f"select's files must be a non-empty array, not {short(files)}")
        return SelectMessage(
            tuple(_file(item, f"select's files[{i}]") for i, item in enumerate(files))
        )
    if kind == "start":
        return StartMessage(_ref(message.get("ref"), "start's ref"))
    if kind == "cancel":
        return CancelMessage(_ref(message.get("ref"), "cancel's ref"))
    raise ProtocolViolation(
        f"unknown message type {short(kind)}; the client may send hello, select, start and cancel"
    )


def _file(item: object, where: str) -> ClientFile:
    if not isinstance(item, dict):
        raise ProtocolViolation(f"{where} must be an object, not {short(item)}")
    ref = _ref(item.get("ref"), f"{where}.ref")
    name = item.get("name")
    if not isinstance(name, str):
        raise ProtocolViolation(f"{where}.name must be a string, not {short(name)}")
    size = _size(item.get("size"), f"{where}.size")
    kind = item.get("type", "")
    if not isinstance(kind, str) or len(kind) > MAX_NAME:
        raise ProtocolViolation(
            f"{where}.type must be a MIME type string of at most {MAX_NAME} characters"
        )
    modified = item.get("last_modified")
    if modified is not None and (
        isinstance(modified, bool) or not isinstance(modified, (int, float))
    ):
        raise ProtocolViolation(f"{where}.last_modified must be a number or null")
    if isinstance(modified, float):
        modified = int(modified) if math.isfinite(modified) else None
    return ClientFile(name, size, kind, modified, ref)


def parse_binary(data: bytes, chunk_size: int) -> ChunkMessage:
    """Parse a client's binary frame: the ref's length (one byte), the ref, then the chunk.

    Raises:
        ProtocolViolation: the header is wrong, or the chunk is empty or over ``chunk_size``.
    """
    length = data[0] if data else 0
    ref_bytes = data[1 : 1 + length]
    if not 1 <= length <= MAX_REF or len(ref_bytes) < length:
        raise ProtocolViolation(
            f"a binary frame starts with the ref's length (1 to {MAX_REF}) and the ref"
        )
    ref = _ref(ref_bytes.decode("latin-1"), "a binary frame's ref")
    payload = bytes(data[1 + length :])
    if not 1 <= len(payload) <= chunk_size:
        raise ProtocolViolation(
            f"a binary frame carries 1 to {chunk_size} bytes after its ref, not {len(payload)}"
        )
    return ChunkMessage(ref, payload)
