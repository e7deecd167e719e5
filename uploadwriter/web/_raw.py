"""``receive_raw``: a request body streamed, as it arrives, into a writer."""

from __future__ import annotations

import anyio
from starlette.requests import Request

from .._events import Chunk, Done
from ._body import Body
from ._errors import UploadRejected
from ._files import (
    FilePart,
    PartWriterFactory,
    ReceivedFile,
    check_part,
    discard_completed,
    received,
    rejection,
    start_upload,
    timed_out,
)
from ._limits import HttpLimits
from ._names import safe_client_name

__all__ = ("receive_raw",)

_LIMITS = HttpLimits()


def content_length(request: Request) -> int | None:
    """The request's ``Content-Length``, or ``None`` without one.

    Raises:
        UploadRejected: ``malformed``: it is not a whole number of bytes.
    """
    value = request.headers.get("content-length")
    if value is None:
        return None
    if not value.isdigit() or not value.isascii():
        raise UploadRejected(
            "malformed", f"Content-Length must be a whole number of bytes, not {value!r}"
        )
    return int(value)


async def receive_raw(
    request: Request,
    writer: PartWriterFactory,
    *,
    client_name: str = "",
    limits: HttpLimits = _LIMITS,
) -> ReceivedFile:
    """Stream the request body into a writer from ``writer(part)``; return the received file.

    The body goes to the writer chunk by chunk as it arrives: never spooled,
    never whole in memory. ``client_name`` is the file's name as the client
    gave it (a path parameter, a header...): it is made safe
    (:func:`safe_client_name`) and never used as a path. Its
    ``Content-Type`` is checked against ``limits.accept`` and its
    ``Content-Length``, when there is one, against ``limits.max_file_size``
    before the writer is made; the writer is then held to that declared size.
    If anything fails, the writer is closed with ``Cancel()`` (or
    ``Error(...)``), so it keeps nothing (the driver's lifecycle rules), and
    :class:`UploadRejected` says why, with its HTTP status.

    Raises:
        UploadRejected: the code says why: ``not_accepted``, ``too_large``,
            ``incomplete`` (also :class:`ClientDisconnected`, a subclass),
            ``chunk_timeout``, ``writer_failure``, ``malformed``.
        TypeError: the factory did not return ``(writer, opts)`` of a writer.
    """
    part = FilePart(
        safe_client_name(client_name),
        request.headers.get("content-type", ""),
        declared_size=content_length(request),
    )
    check_part(part, limits)
    made, driver = start_upload(writer, part, limits)
    with anyio.CancelScope() as scope:
        body = Body(request.receive, scope, limits.chunk_timeout)
        try:
            async with driver:
                while data := await body.read():
                    await driver.send(Chunk(data))
                await driver.send(Done())
        except BaseException as exc:
            discard_completed(made, driver)
            answer = rejection(exc, part)
            if answer is None:
                raise
            raise answer from exc
    if scope.cancelled_caught:
        raise timed_out(limits)
    return received(part, made, driver)
