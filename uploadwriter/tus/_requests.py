"""A tus request checked: its method, URL, version, and body's type and size.

Pure functions over the request's method and its headers by lowercase name
(as :func:`lower` gives them). Each answers a question
:class:`~uploadwriter.tus.Exchange` asks before it decides anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from . import _replies as replies
from ._headers import BadHeader, read_size
from ._outputs import Reply
from ._replies import TUS_VERSION

__all__ = ("METHODS", "OFFSET_TYPE", "body_size", "lower", "offset_type", "refusal")

#: The methods tus takes.
METHODS: Final = ("OPTIONS", "POST", "HEAD", "PATCH", "DELETE")
#: The ``Content-Type`` of a body that carries an upload's bytes.
OFFSET_TYPE: Final = "application/offset+octet-stream"


def lower(headers: Mapping[str, str] | list[tuple[str, str]]) -> dict[str, str]:
    """A request's headers by lowercase name."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    # A repeated header is joined with commas (RFC 9110), like Upload-Metadata lists.
    joined: dict[str, str] = {}
    for key, value in items:
        name = key.lower()
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


def refusal(method: str, upload_id: str | None, headers: Mapping[str, str]) -> Reply | None:
    """The answer to a request that is not tus 1.0.0, or not on the right URL."""
    head = method == "HEAD"
    if method not in METHODS:
        message = f"tus takes {', '.join(METHODS)}"
        return replies.error(405, "method_not_allowed", message, head=head)
    version = headers.get("tus-resumable")
    if version != TUS_VERSION:
        said = "no Tus-Resumable header" if version is None else f"Tus-Resumable {version!r}"
        return replies.error(
            412,
            "unsupported_version",
            f"this server speaks tus {TUS_VERSION}; the request has {said}",
            extra=(("Tus-Version", TUS_VERSION),),
            head=head,
        )
    if (method == "POST") != (upload_id is None):
        where = "the endpoint" if upload_id is None else "an upload's URL"
        message = f"{method} is not allowed on {where}"
        return replies.error(405, "method_not_allowed", message, head=head)
    return None


def offset_type(headers: Mapping[str, str]) -> bool:
    """Whether the body is an upload's bytes (``Content-Type`` is :data:`OFFSET_TYPE`)."""
    content_type = headers.get("content-type", "")
    return content_type.split(";")[0].strip().lower() == OFFSET_TYPE


def body_size(method: str, headers: Mapping[str, str]) -> int | None:
    """The body's size from Content-Length, or ``None`` if not given (chunked)."""
    value = headers.get("content-length")
    if value is None:
        return 0 if method == "POST" and not offset_type(headers) else None
    try:
        return read_size("Content-Length", value)
    except BadHeader:
        return None
