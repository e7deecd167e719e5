"""Ready-made Starlette endpoints over the receivers, and the error answer they share."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Awaitable, Sequence
from typing import TypeAlias

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ._errors import UploadRejected
from ._files import PartWriterFactory, ReceivedFile
from ._limits import HttpLimits
from ._multipart import receive_multipart
from ._raw import receive_raw

__all__ = (
    "Consume",
    "Endpoint",
    "describe",
    "error_response",
    "multipart_endpoint",
    "raw_endpoint",
    "upload_error_handler",
)

# (typing.Callable, as the uploads layer's public aliases: on Python 3.10 a
# subscripted collections.abc.Callable passes inspect.isclass().)

#: ``consume(file)``: what the application does with a received file; its JSON-able
#: value is the file's entry in the answer. It may be a coroutine function.
Consume: TypeAlias = typing.Callable[[ReceivedFile], object]
#: A Starlette (or FastAPI) endpoint: a request in, a response out.
Endpoint: TypeAlias = typing.Callable[[Request], Awaitable[Response]]

_LIMITS = HttpLimits()


def describe(file: ReceivedFile) -> dict[str, object]:
    """The default ``consume``: ``{"client_name", "content_type", "field", "size"}`` of the file.

    It leaves the file where its writer put it (a temp file stays).
    """
    return {
        "client_name": file.client_name,
        "content_type": file.content_type,
        "field": file.field,
        "size": file.size,
    }


def error_response(error: UploadRejected) -> JSONResponse:
    """The answer to a rejected upload: ``{"error": {"code", "message"}}`` with its status."""
    return JSONResponse(error.body(), status_code=error.status)


async def upload_error_handler(request: Request, exc: Exception) -> Response:
    """An exception handler for :class:`UploadRejected`, for Starlette and FastAPI apps.

    ``app.add_exception_handler(UploadRejected, upload_error_handler)``: every
    endpoint that lets a receiver's :class:`UploadRejected` through then
    answers it with :func:`error_response`.

    Raises:
        TypeError: ``exc`` is not an :class:`UploadRejected` (registered for
            another exception class).
    """
    if not isinstance(exc, UploadRejected):
        raise TypeError(
            f"upload_error_handler handles UploadRejected, not {type(exc).__name__}: "
            "register it with app.add_exception_handler(UploadRejected, upload_error_handler)"
        ) from exc
    return error_response(exc)


async def consume_all(files: Sequence[ReceivedFile], consume: Consume) -> list[object]:
    """Consume each file in order; if one raises, discard it and the later ones, and re-raise."""
    values: list[object] = []
    for index, file in enumerate(files):
        try:
            value = consume(file)
            if inspect.isawaitable(value):
                value = await value
        except BaseException:
            for rest in files[index:]:
                rest.discard()
            raise
        values.append(value)
    return values


def multipart_endpoint(
    writer: PartWriterFactory, *, consume: Consume = describe, limits: HttpLimits = _LIMITS
) -> Endpoint:
    """Return an endpoint that receives a ``multipart/form-data`` body (:func:`receive_multipart`).

    It answers ``200 {"files": [consume(file), ...]}``, or an upload error
    with its status (:func:`error_response`). Text fields are read and
    dropped: write your own endpoint over :func:`receive_multipart` to use them.
    """

    async def endpoint(request: Request) -> Response:
        try:
            form = await receive_multipart(request, writer, limits=limits)
        except UploadRejected as exc:
            return error_response(exc)
        return JSONResponse({"files": await consume_all(form.files, consume)})

    return endpoint


def raw_endpoint(
    writer: PartWriterFactory,
    *,
    consume: Consume = describe,
    limits: HttpLimits = _LIMITS,
    name_param: str = "client_name",
) -> Endpoint:
    """Return an endpoint that receives a raw request body as one file (:func:`receive_raw`).

    The file's client name is the route's path parameter ``name_param``
    (``Route("/upload/{client_name:path}", ...)``), or ``""`` without one.
    It answers ``200 {"files": [consume(file)]}``, or an upload error with its
    status (:func:`error_response`).
    """

    async def endpoint(request: Request) -> Response:
        name = request.path_params.get(name_param, "")
        try:
            file = await receive_raw(request, writer, client_name=str(name), limits=limits)
        except UploadRejected as exc:
            return error_response(exc)
        return JSONResponse({"files": await consume_all([file], consume)})

    return endpoint
