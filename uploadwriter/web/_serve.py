"""``create_app``: the Starlette app of ``uploadwriter serve`` (DESIGN §8)."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from ..uploads import UploadConfig
from ._endpoints import error_response
from ._errors import UploadRejected, error_body
from ._files import ReceivedFile
from ._limits import Accept, HttpLimits
from ._multipart import receive_multipart
from ._raw import receive_raw
from ._store import Record, Store
from ._tus import UploadStore, tus_routes
from ._websocket import UploadChannel

__all__ = ("DEFAULT_MAX_ENTRIES", "DEFAULT_MAX_FILE_SIZE", "create_app")

logger = logging.getLogger("uploadwriter.web")

#: ``uploadwriter serve``'s defaults: a tool for real files, not a form's avatar.
DEFAULT_MAX_FILE_SIZE = 1024**3
DEFAULT_MAX_ENTRIES = 20

STATIC = Path(__file__).parent.parent / "static"


def create_app(
    directory: str | os.PathLike[str],
    *,
    accept: Accept = "any",
    max_file_size: int = DEFAULT_MAX_FILE_SIZE,
    max_entries: int = DEFAULT_MAX_ENTRIES,
    chunk_timeout: float = 10.0,
    allowed_origins: Sequence[str] | None = None,
    tus_store: UploadStore | None = None,
    tus_expires_after: float | None = 24 * 3600.0,
) -> Starlette:
    """Return the app of ``uploadwriter serve``: uploads saved in ``directory``.

    Routes: ``GET /`` (the upload page), ``GET /static/...``, ``POST /upload``
    (``multipart/form-data``), ``PUT /upload/{client_name}`` (a raw body),
    ``GET /uploads`` (every completed upload, through any route), and the
    WebSocket channel at ``/ws`` (``allowed_origins``: the ``Origin`` values
    it accepts). ``accept``, ``max_file_size``, ``max_entries`` (files per
    request, or per WebSocket selection) and ``chunk_timeout`` are those of
    :class:`~uploadwriter.UploadConfig`; every route applies them alike.

    Resumable uploads (tus 1.0.0) are served at ``/files/`` from ``tus_store``
    (default: a :class:`~uploadwriter.tus.FileStore` in
    ``directory/.uploadwriter/tus``, which every process serving the same
    ``directory`` shares); unfinished ones expire after ``tus_expires_after``
    seconds. A completed tus upload is hashed (sha256) and kept like the
    others (``GET /uploads``).

    Raises:
        TypeError, ValueError: an option is not valid (the message names it).
        OSError: ``directory`` cannot be created or written to.
    """
    store = Store(directory)
    config = UploadConfig(
        "files",
        accept=accept,
        max_file_size=max_file_size,
        max_entries=max_entries,
        chunk_timeout=chunk_timeout,
        writer=store.entry_writer,
    )
    limits = HttpLimits.from_config(config)

    async def post_upload(request: Request) -> Response:
        try:
            form = await receive_multipart(request, store.writer, limits=limits)
        except UploadRejected as exc:
            return error_response(exc)
        return _kept(store, form.files, "multipart")

    async def put_upload(request: Request) -> Response:
        name = str(request.path_params["client_name"])
        try:
            file = await receive_raw(request, store.writer, client_name=name, limits=limits)
        except UploadRejected as exc:
            return error_response(exc)
        return _kept(store, [file], "raw")

    async def list_uploads(request: Request) -> Response:
        # One file read per upload: off the event loop, which other uploads share.
        return JSONResponse({"files": await anyio.to_thread.run_sync(store.uploads)})

    routes: list[BaseRoute] = [
        Route("/", _index, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        Route("/upload", post_upload, methods=["POST"]),
        Route("/upload/{client_name:path}", put_upload, methods=["PUT"]),
        Route("/uploads", list_uploads, methods=["GET"]),
        *_channel_routes(config, store, allowed_origins),
        *tus_routes(
            store,
            tus_store,
            config=config,
            max_file_size=max_file_size,
            chunk_timeout=chunk_timeout,
            expires_after=tus_expires_after,
        ),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
    )
    app.state.store = store
    app.state.config = config
    return app


def _kept(store: Store, files: Sequence[ReceivedFile], via: str) -> Response:
    try:
        records: list[Record] = store.keep_all(files, via=via)
    except OSError:
        logger.exception("uploadwriter serve: could not keep the uploaded files")
        return error_response(
            UploadRejected("writer_failure", "the files could not be stored; none was kept")
        )
    return JSONResponse({"files": records})


def _channel_routes(
    config: UploadConfig, store: Store, allowed_origins: Sequence[str] | None
) -> list[BaseRoute]:
    """The WebSocket upload channel at ``/ws``: each completed entry is kept and recorded."""
    channel = UploadChannel(config, consume=store.keep_entry, allowed_origins=allowed_origins)
    return [WebSocketRoute("/ws", channel)]


async def _index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html")


async def _http_error(request: Request, exc: Exception) -> Response:
    # Starlette's own errors (no such route, method not allowed) as JSON too.
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    message = f"{request.method} {request.url.path}: {exc.detail}"
    return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=exc.headers)


async def _server_error(request: Request, exc: Exception) -> Response:
    # Starlette logs the traceback; the client gets JSON without the details.
    return JSONResponse(
        error_body("internal_error", "the server failed to handle this request"),
        status_code=500,
    )
