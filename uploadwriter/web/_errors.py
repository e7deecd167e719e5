"""The one mapping from upload failures to HTTP: a code, a status, a JSON body.

Every route of the web layer answers a failed upload the same way (DESIGN §8)::

    {"error": {"code": "too_large", "message": "..."}}

with the status of its code. The codes are the uploads layer's
(:class:`~uploadwriter.EntryError` codes, Phoenix's atoms), so the WebSocket
channel reports per-entry errors with the same words, plus ``malformed`` for a
request that is not what the route takes.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from .._errors import (
    ChunkTimeout,
    FileTooLarge,
    IncompleteUpload,
    InitError,
    UploadError,
    WriterFailure,
)
from ..uploads import EntryError

__all__ = (
    "STATUS",
    "ClientDisconnected",
    "UploadRejected",
    "error_body",
    "error_code",
    "http_status",
)

#: HTTP status of each error code. Any other code (a validator's own) is 422.
STATUS: Final[Mapping[str, int]] = MappingProxyType(
    {
        "too_large": 413,
        # More files than max_entries: the request as a whole is too large, in
        # count rather than bytes (RFC 9110 15.5.14 allows either reading).
        "too_many_files": 413,
        "not_accepted": 415,
        "incomplete": 400,
        "malformed": 400,
        "chunk_timeout": 408,
        "writer_failure": 500,
    }
)

#: The status of a code that is not in :data:`STATUS` (a validator's own code).
OTHER_STATUS: Final = 422

# Driver errors, most specific first; InitError and WriterFailure are both a
# writer that failed, whatever it was doing.
_DRIVER_CODES: Final[tuple[tuple[type[BaseException], str], ...]] = (
    (FileTooLarge, "too_large"),
    (ChunkTimeout, "chunk_timeout"),
    (IncompleteUpload, "incomplete"),
    (WriterFailure, "writer_failure"),
    (InitError, "writer_failure"),
)


class UploadRejected(UploadError):
    """Raised by the receivers when a request's upload failed or was refused (code, status)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        #: One of :data:`STATUS`'s keys (``"too_large"``...).
        self.code: str = code
        #: Its HTTP status.
        self.status: int = http_status(code)
        #: A sentence for the client: no server path, no internal detail (the
        #: error that caused it, if any, is the ``__cause__``).
        self.message: str = message

    def body(self) -> dict[str, dict[str, str]]:
        """The JSON body to answer with: ``{"error": {"code": ..., "message": ...}}``."""
        return error_body(self.code, self.message)


class ClientDisconnected(UploadRejected):
    """Raised by the receivers when the client went away before the end of its request body."""

    def __init__(self, received: int) -> None:
        super().__init__(
            "incomplete",
            f"the client disconnected after {received} bytes of its request body; "
            "the upload was cancelled",
        )
        self.received: int = received


def http_status(code: str) -> int:
    """Return the HTTP status of an error ``code`` (422 for a code the web layer does not know)."""
    return STATUS.get(code, OTHER_STATUS)


def error_code(error: BaseException | EntryError) -> str | None:
    """Return the code of an upload failure, or ``None`` if it is not one.

    Knows the drivers' errors (``FileTooLarge`` is ``too_large``,
    ``ChunkTimeout`` ``chunk_timeout``, ``IncompleteUpload`` ``incomplete``,
    ``WriterFailure`` and ``InitError`` ``writer_failure``), the uploads
    layer's :class:`~uploadwriter.EntryError` (its ``code``) and
    :class:`UploadRejected` (its ``code``).
    """
    if isinstance(error, (UploadRejected, EntryError)):
        return error.code
    for kind, code in _DRIVER_CODES:
        if isinstance(error, kind):
            return code
    return None


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    """Return the body of an error answer: ``{"error": {"code": code, "message": message}}``."""
    return {"error": {"code": code, "message": message}}
