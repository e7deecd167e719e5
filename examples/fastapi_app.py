"""Receive uploads in a FastAPI app with ``uploadwriter.web``: a form and a raw body.

``POST /photos`` takes a ``multipart/form-data`` form (a ``title`` field and
up to five images), ``PUT /photos/{client_name}`` one image as the raw body.
Each file streams into a temp file in ``PHOTOS_DIR`` as it arrives (never
spooled, never whole in memory), held to the limits below; any failure
answers ``{"error": {"code", "message"}}`` with its HTTP status, and leaves no
file behind.

Run it: ``PHOTOS_DIR=/tmp/photos uvicorn examples.fastapi_app:app``, then
``curl -F title=Holidays -F photo=@beach.jpg http://127.0.0.1:8000/photos``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request

from uploadwriter.web import (
    FilePart,
    HttpLimits,
    ReceivedFile,
    UploadRejected,
    raw_endpoint,
    receive_multipart,
    upload_error_handler,
)
from uploadwriter.writers import TmpFileOpts, TmpFileWriter

LIMITS = HttpLimits(accept=["image/*"], max_file_size=10_000_000, max_entries=5, chunk_timeout=10)


def create_app(directory: str | os.PathLike[str]) -> FastAPI:
    """The app, saving photos in ``directory``."""
    app = FastAPI()
    # Every UploadRejected a route lets through becomes its JSON error answer.
    app.add_exception_handler(UploadRejected, upload_error_handler)

    def writer(part: FilePart) -> tuple[TmpFileWriter, TmpFileOpts]:
        # A sync writer runs in worker threads; wrap it in InlineWriter to
        # write on the event loop instead (see docs/howto/web.md).
        return TmpFileWriter(), TmpFileOpts(dir=directory, prefix="photo-")

    def describe(file: ReceivedFile) -> dict[str, Any]:
        return {"name": file.client_name, "size": file.size, "saved_as": file.meta["path"]}

    @app.post("/photos")
    async def upload_photos(request: Request) -> dict[str, Any]:
        form = await receive_multipart(request, writer, limits=LIMITS)
        return {"title": form.field("title"), "photos": [describe(f) for f in form.files]}

    app.add_route(
        "/photos/{client_name:path}",
        raw_endpoint(writer, consume=describe, limits=LIMITS),
        methods=["PUT"],
    )
    return app


app = create_app(Path(os.environ.get("PHOTOS_DIR", tempfile.gettempdir())))
