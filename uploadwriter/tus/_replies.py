"""The tus responses, written from plain values: status, tus headers, error bodies.

Pure functions: each returns a :class:`Reply`, or the headers that go in one.
Which response a request gets is decided by :class:`~uploadwriter.tus.Exchange`;
how it is spelled on the wire (``Tus-Resumable`` on every response, the JSON
error body, ``Upload-Expires`` as an HTTP date) is decided here.
"""

from __future__ import annotations

import json
from typing import Final, TypeAlias

from ._headers import CHECKSUMS, http_date, metadata_header
from ._outputs import Reply
from ._values import UploadInfo

__all__ = (
    "CHECKSUM_MISMATCH",
    "EXTENSIONS",
    "TUS_VERSION",
    "Headers",
    "error",
    "expires_header",
    "offset_headers",
    "options_headers",
    "reply",
    "upload_headers",
)

TUS_VERSION: Final = "1.0.0"
#: The extensions this server speaks (``Tus-Extension``).
EXTENSIONS: Final = ("creation", "creation-with-upload", "termination", "expiration", "checksum")
#: ``Upload-Checksum`` mismatch: tus's own status code.
CHECKSUM_MISMATCH: Final = 460

#: A response's headers, in order: name and value.
Headers: TypeAlias = tuple[tuple[str, str], ...]


def reply(status: int, headers: Headers, body: bytes = b"") -> Reply:
    """A response with ``Tus-Resumable`` first, then ``headers``."""
    return Reply(status, (("Tus-Resumable", TUS_VERSION), *headers), body)


def error(
    status: int, code: str, message: str, *, extra: Headers = (), head: bool = False
) -> Reply:
    """An error response: its JSON body says ``code`` and ``message`` (no body to a ``HEAD``)."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    headers = (*extra, ("Content-Type", "application/json"))
    return reply(status, headers, b"" if head else body)


def options_headers(max_size: int) -> Headers:
    """What an ``OPTIONS`` response says the server speaks."""
    return (
        ("Tus-Version", TUS_VERSION),
        ("Tus-Extension", ",".join(EXTENSIONS)),
        ("Tus-Max-Size", str(max_size)),
        ("Tus-Checksum-Algorithm", ",".join(CHECKSUMS)),
    )


def expires_header(expires: float | None) -> Headers:
    """``Upload-Expires``, if the upload expires."""
    return () if expires is None else (("Upload-Expires", http_date(expires)),)


def offset_headers(offset: int, expires: float | None) -> Headers:
    """``Upload-Offset`` (and ``Upload-Expires``): where the upload stands after a write."""
    return (("Upload-Offset", str(offset)), *expires_header(expires))


def upload_headers(info: UploadInfo) -> Headers:
    """What a ``HEAD`` response says of an upload: offset, length, metadata, expiry."""
    return (
        ("Upload-Offset", str(info.offset)),
        ("Upload-Length", str(info.length)),
        ("Cache-Control", "no-store"),
        *((("Upload-Metadata", metadata_header(info.metadata)),) if info.metadata else ()),
        *expires_header(info.expires),
    )
