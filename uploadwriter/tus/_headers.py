"""The tus headers, read and written: sizes, ``Upload-Metadata``, ``Upload-Checksum``, dates.

Pure functions: each reader returns the value, or raises :class:`BadHeader`
with a message naming the header and saying what is allowed.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import re
from collections.abc import Mapping

__all__ = (
    "CHECKSUMS",
    "BadHeader",
    "Metadata",
    "http_date",
    "metadata_header",
    "metadata_text",
    "read_checksum",
    "read_metadata",
    "read_size",
)

#: ``Upload-Checksum`` algorithms supported, and their digest sizes in bytes.
CHECKSUMS: Mapping[str, int] = {"sha1": 20, "sha256": 32}

#: ``Upload-Metadata`` as pairs: a key and its value as the client sent it (base64), or ``None``.
Metadata = tuple[tuple[str, str | None], ...]

_DIGITS = re.compile(r"[0-9]{1,19}")  # below 2**63: what every tus server takes
_KEY = re.compile(r"[!-+\--~]+")  # printable ASCII without space and comma
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


class BadHeader(ValueError):
    """Raised by the header readers when a tus header is malformed (the message says how)."""


def read_size(name: str, value: str) -> int:
    """Read a non-negative decimal size such as ``Upload-Length: 1024``."""
    text = value.strip()
    if not _DIGITS.fullmatch(text):
        raise BadHeader(f"{name} must be a whole number of bytes (0 or more), not {value!r}")
    return int(text)


def read_metadata(value: str) -> Metadata:
    """Read ``Upload-Metadata``: comma-separated ``key base64value`` or ``key`` pairs.

    An empty header (``Upload-Metadata:``) is valid: no metadata.
    """
    pairs: list[tuple[str, str | None]] = []
    seen: set[str] = set()
    if not value.strip():
        return ()
    for item in value.split(","):
        parts = item.strip().split(" ")
        if len(parts) > 2 or not _KEY.fullmatch(parts[0]):
            raise BadHeader(
                f"Upload-Metadata: {item.strip()!r} is not 'key base64value' or 'key' "
                "(keys are printable ASCII without spaces or commas)"
            )
        key = parts[0]
        if key in seen:
            raise BadHeader(f"Upload-Metadata: the key {key!r} is given twice")
        seen.add(key)
        encoded = parts[1] if len(parts) == 2 else None
        if encoded is not None and not _is_base64(encoded):
            raise BadHeader(f"Upload-Metadata: the value of {key!r} is not base64: {encoded!r}")
        pairs.append((key, encoded))
    return tuple(pairs)


def _is_base64(text: str) -> bool:
    if not _BASE64.fullmatch(text):
        return False
    try:
        base64.b64decode(text, validate=True)
    except binascii.Error:
        return False
    return True


def metadata_header(metadata: Metadata) -> str:
    """Write ``Upload-Metadata`` back as the client sent it."""
    return ",".join(key if value is None else f"{key} {value}" for key, value in metadata)


def metadata_text(metadata: Metadata, key: str) -> str | None:
    """The value of ``key`` decoded as UTF-8 text (invalid bytes replaced), or ``None``."""
    for name, value in metadata:
        if name == key:
            return "" if value is None else base64.b64decode(value).decode("utf-8", "replace")
    return None


def read_checksum(value: str) -> tuple[str, bytes]:
    """Read ``Upload-Checksum: <algorithm> <base64 digest>``; the algorithm is sha1 or sha256."""
    parts = value.strip().split(" ")
    if len(parts) != 2:
        raise BadHeader(f"Upload-Checksum must be '<algorithm> <base64 digest>', not {value!r}")
    algorithm, encoded = parts[0].lower(), parts[1]
    size = CHECKSUMS.get(algorithm)
    if size is None:
        raise BadHeader(
            f"Upload-Checksum: the algorithm {parts[0]!r} is not supported; "
            f"use one of {', '.join(CHECKSUMS)}"
        )
    try:
        digest = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        digest = b""
    if len(digest) != size:
        raise BadHeader(
            f"Upload-Checksum: {encoded!r} is not the base64 of a {algorithm} digest ({size} bytes)"
        )
    return algorithm, digest


def http_date(seconds: float) -> str:
    """An HTTP date (RFC 9110), as ``Upload-Expires`` carries it."""
    return email.utils.formatdate(seconds, usegmt=True)
