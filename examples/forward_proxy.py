"""A Starlette endpoint that forwards each upload to another server as it arrives.

``PUT /upload/{name}`` streams the request body, chunk by chunk, to
``{upstream}/{name}`` through ``AsyncHttpForwardWriter``, and hashes it on
the way (``AsyncTeeWriter``): nothing is spooled to disk or held in memory.
The answer is the SHA-256 and the upstream's status. If the client goes
away mid-body, or the upload passes ``MAX_SIZE``, the upstream connection is
dropped before the end of the body: the upstream never sees a whole request.
Run it with uvicorn::

    UPSTREAM=https://storage.example/in uvicorn examples.forward_proxy:app
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from uploadwriter import AsyncUploader, Chunk, Done, FileTooLarge, InlineWriter, WriterFailure
from uploadwriter.writers import (
    AsyncHttpForwardWriter,
    AsyncTeeWriter,
    HashOpts,
    HashWriter,
    HttpForwardOpts,
)

MAX_SIZE = 100 * 2**20


def make_app(upstream: str) -> Starlette:
    """The proxy, forwarding to ``upstream`` (a base URL)."""

    async def upload(request: Request) -> Response:
        name = request.path_params["name"]
        length = request.headers.get("content-length")
        size = int(length) if length is not None else None
        headers = {"Content-Type": request.headers.get("content-type", "application/octet-stream")}
        tee = AsyncTeeWriter(InlineWriter(HashWriter()), AsyncHttpForwardWriter())
        opts = (
            HashOpts("sha256"),
            HttpForwardOpts(f"{upstream}/{name}", headers=headers, content_length=size),
        )
        try:
            async with AsyncUploader(tee, opts, expected_size=size, max_size=MAX_SIZE) as up:
                async for data in request.stream():
                    if data:
                        await up.send(Chunk(data))
                await up.send(Done())
        except FileTooLarge as exc:
            return JSONResponse({"error": str(exc)}, status_code=413)
        except WriterFailure as exc:
            return JSONResponse({"error": str(exc.reason)}, status_code=502)
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is left to read it
        metas = up.meta()["writers"]
        assert isinstance(metas, tuple)
        digest, answer = metas
        return JSONResponse({"sha256": digest["hexdigest"], "upstream_status": answer["status"]})

    return Starlette(routes=[Route("/upload/{name}", upload, methods=["PUT"])])


app = make_app(os.environ.get("UPSTREAM", "http://127.0.0.1:9000"))
