"""The ASGI apps ``bench/server.py`` measures, each served by its own uvicorn process.

Each writes uploads into the directory named by ``UPLOADWRITER_BENCH_DIR``.
Factories, for ``uvicorn bench.server_apps:NAME --factory``.
"""

from __future__ import annotations

import os
import shutil
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from uploadwriter import InlineWriter
from uploadwriter.web import FilePart, HttpLimits, create_app, multipart_endpoint, raw_endpoint
from uploadwriter.writers import TmpFileOpts, TmpFileWriter

DIR = os.environ.get("UPLOADWRITER_BENCH_DIR", ".")
BIG = 64 * 1024**3  # no limit gets in the way of the measure


def serve() -> Starlette:
    """(a), (b): ``uploadwriter serve``'s own app, sha256 included."""
    return create_app(DIR, max_file_size=BIG)


def library() -> Starlette:
    """(a'), (b'): the library's endpoints into a plain temp-file writer (serve without sha256)."""

    def writer(part: FilePart) -> tuple[Any, TmpFileOpts]:
        return InlineWriter(TmpFileWriter()), TmpFileOpts(dir=DIR)

    limits = HttpLimits(max_file_size=BIG, max_entries=10)
    return Starlette(
        routes=[
            Route("/upload", multipart_endpoint(writer, limits=limits), methods=["POST"]),
            Route(
                "/upload/{client_name:path}", raw_endpoint(writer, limits=limits), methods=["PUT"]
            ),
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
        ]
    )


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
