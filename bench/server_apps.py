"""The ASGI apps ``bench/server.py`` measures, each served by its own uvicorn process.

Each writes uploads into the directory named by ``UPLOADWRITER_BENCH_DIR``.
Factories, for ``uvicorn bench.server_apps:NAME --factory``.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from uploadwriter import InlineWriter
from uploadwriter.uploads import UploadConfig, UploadEntry
from uploadwriter.web import (
    FilePart,
    HttpLimits,
    UploadChannel,
    create_app,
    multipart_endpoint,
    raw_endpoint,
)
from uploadwriter.writers import TmpFileOpts, TmpFileWriter

DIR = os.environ.get("UPLOADWRITER_BENCH_DIR", ".")
BIG = 64 * 1024**3  # no limit gets in the way of the measure


def serve() -> Starlette:
    """(a), (b): ``uploadwriter serve``'s own app, sha256 included."""
    return create_app(DIR, max_file_size=BIG)


def library() -> Starlette:
    """(a'), (b'), (c'): the library's endpoints into a plain temp-file writer (serve, no sha256).

    The WebSocket channel's ``consume`` renames each file into the directory,
    as the store does, without the store's record.
    """

    def writer(part: FilePart) -> tuple[Any, TmpFileOpts]:
        return InlineWriter(TmpFileWriter()), TmpFileOpts(dir=DIR)

    def entry_writer(name: str, entry: UploadEntry) -> tuple[Any, TmpFileOpts]:
        return writer(FilePart(entry.client_name))

    def consume(meta: Mapping[str, object], entry: UploadEntry) -> object:
        os.rename(str(meta["path"]), os.path.join(DIR, uuid.uuid4().hex))
        return {"size": entry.client_size}

    limits = HttpLimits(max_file_size=BIG, max_entries=10)
    config = UploadConfig(
        "files", accept="any", max_file_size=BIG, max_entries=10, writer=entry_writer
    )
    return Starlette(
        routes=[
            Route("/upload", multipart_endpoint(writer, limits=limits), methods=["POST"]),
            Route(
                "/upload/{client_name:path}", raw_endpoint(writer, limits=limits), methods=["PUT"]
            ),
            WebSocketRoute("/ws", UploadChannel(config, consume=consume)),
        ]
    )


def bare() -> Starlette:
    """(d): a bare ``request.stream()`` loop writing the body to a file: the floor."""

    async def upload(request: Request) -> Response:
        path = os.path.join(DIR, uuid.uuid4().hex)
        size = 0
        with open(path, "wb") as file:
            async for chunk in request.stream():
                file.write(chunk)
                size += len(chunk)
        return JSONResponse({"size": size})

    return Starlette(
        routes=[
            Route("/upload", upload, methods=["POST"]),
            Route("/upload/{client_name:path}", upload, methods=["PUT"]),
            WebSocketRoute("/ws", bare_channel),
        ]
    )


async def bare_channel(ws: WebSocket) -> None:
    """The least a server of the channel's protocol does for one file: the floor of (c).

    The messages of the protocol for one file (``welcome``, ``accepted``, an
    ``ack`` per chunk, ``done``), each chunk's data written to a file as it
    arrives (through a memoryview: no copy), and none of the checks.
    """
    await ws.accept()
    await ws.receive_text()  # hello
    await ws.send_text(json.dumps({"type": "welcome", "version": 1, "window": 8}))
    announced = json.loads(await ws.receive_text())["files"][0]
    ref, size = announced["ref"], announced["size"]
    await ws.send_text(json.dumps({"type": "accepted", "ref": ref, "chunk_size": 64_000}))
    await ws.receive_text()  # start
    received = 0
    with open(os.path.join(DIR, uuid.uuid4().hex), "wb") as file:
        while received < size:
            frame = await ws.receive_bytes()
            data = memoryview(frame)[1 + frame[0] :]
            file.write(data)
            received += len(data)
            ack = {"type": "ack", "ref": ref, "size": received, "progress": received * 100 // size}
            await ws.send_text(json.dumps(ack))
    await ws.send_text(json.dumps({"type": "done", "ref": ref, "result": {"size": received}}))
    await ws.receive()  # the client's close


def form() -> Starlette:
    """(e): Starlette's ``await request.form()``, each ``UploadFile`` copied to a file."""

    async def upload(request: Request) -> Response:
        sizes = []
        async with request.form(max_part_size=BIG) as data:
            for _, value in data.multi_items():
                if isinstance(value, str):
                    continue
                path = os.path.join(DIR, uuid.uuid4().hex)
                with open(path, "wb") as file:
                    shutil.copyfileobj(value.file, file, 1024 * 1024)
                    sizes.append(file.tell())
        return JSONResponse({"sizes": sizes})

    return Starlette(routes=[Route("/upload", upload, methods=["POST"])])


def django() -> Any:
    """(f): a Django project's ASGI app; the view reads ``request.FILES``.

    Django's ``MultiPartParser`` with ``TemporaryFileUploadHandler`` alone
    (every file to a temp file), each temp file then renamed into the
    directory (``file_move_safe``, a rename on one file system). Under ASGI,
    Django's handler first reads the whole body into a ``SpooledTemporaryFile``
    (to disk past ``FILE_UPLOAD_MAX_MEMORY_SIZE``), which the parser then reads.
    """
    import django as django_
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        ALLOWED_HOSTS=["*"],
        SECRET_KEY="bench",
        ROOT_URLCONF="bench.server_apps_django",
        MIDDLEWARE=[],
        INSTALLED_APPS=[],
        FILE_UPLOAD_HANDLERS=["django.core.files.uploadhandler.TemporaryFileUploadHandler"],
        FILE_UPLOAD_TEMP_DIR=os.environ.get("TMPDIR") or None,
        DATA_UPLOAD_MAX_MEMORY_SIZE=None,
        USE_TZ=True,
    )
    django_.setup()
    from django.core.asgi import get_asgi_application

    return get_asgi_application()
