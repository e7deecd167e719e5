"""The ready-made endpoints and the exception handler, in a Starlette app on uvicorn."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from uploadwriter import InlineWriter
from uploadwriter.web import (
    FilePart,
    HttpLimits,
    ReceivedFile,
    UploadRejected,
    multipart_endpoint,
    raw_endpoint,
    receive_raw,
    upload_error_handler,
)
from uploadwriter.writers import TmpFileOpts, TmpFileWriter

from .http_support import uvicorn_server


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    def writer(part: FilePart) -> tuple[InlineWriter[Any, Any], TmpFileOpts]:
        return InlineWriter(TmpFileWriter()), TmpFileOpts(dir=tmp_path)

    async def consume(file: ReceivedFile) -> dict[str, object]:
        if file.client_name == "refused.txt":
            raise RuntimeError("the application refuses this file")
        return {"name": file.client_name, "data": Path(str(file.meta["path"])).read_text()}

    async def own_route(request: Request) -> Response:
        file = await receive_raw(request, writer, client_name="mine.txt")
        file.discard()
        return JSONResponse({"size": file.size})

    limits = HttpLimits(max_entries=3, max_file_size=100)
    app = Starlette(
        routes=[
            Route(
                "/form",
                multipart_endpoint(writer, consume=consume, limits=limits),
                methods=["POST"],
            ),
            Route("/raw", raw_endpoint(writer, limits=limits), methods=["PUT"]),
            Route("/mine", own_route, methods=["PUT"]),
        ],
        exception_handlers={UploadRejected: upload_error_handler},
    )
    with uvicorn_server(app) as base:
        yield base


def test_the_multipart_endpoint_consumes_each_file(url: str, tmp_path: Path) -> None:
    files = [("a", ("one.txt", b"1")), ("b", ("two.txt", b"22"))]
    answer = httpx.post(f"{url}/form", files=files, data={"ignored": "field"})
    assert answer.status_code == 200
    assert answer.json() == {
        "files": [{"name": "one.txt", "data": "1"}, {"name": "two.txt", "data": "22"}]
    }


def test_a_consume_that_raises_leaves_nothing(url: str, tmp_path: Path) -> None:
    files = [("a", ("refused.txt", b"1")), ("b", ("later.txt", b"2"))]
    answer = httpx.post(f"{url}/form", files=files)
    assert answer.status_code == 500
    assert list(tmp_path.iterdir()) == []


def test_the_multipart_endpoint_answers_a_rejection(url: str, tmp_path: Path) -> None:
    files = [("f", (f"{i}.txt", b"x")) for i in range(4)]
    answer = httpx.post(f"{url}/form", files=files)
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "too_many_files"
    assert list(tmp_path.iterdir()) == []


def test_the_raw_endpoint_without_a_name_parameter(url: str, tmp_path: Path) -> None:
    answer = httpx.put(f"{url}/raw", content=b"abc", headers={"content-type": "text/plain"})
    assert answer.json() == {
        "files": [
            {"client_name": "unnamed", "content_type": "text/plain", "field": None, "size": 3}
        ]
    }
    too_large = httpx.put(f"{url}/raw", content=b"x" * 101)
    assert too_large.status_code == 413


def test_the_exception_handler_answers_a_rejection(url: str) -> None:
    assert httpx.put(f"{url}/mine", content=b"abcd").json() == {"size": 4}
    rejected = httpx.put(f"{url}/mine", content=b"x" * 8_000_001)
    assert rejected.status_code == 413
    assert rejected.json()["error"]["code"] == "too_large"


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_the_handler_is_only_for_rejections(anyio_backend: str) -> None:
    request = Request({"type": "http", "method": "GET", "path": "/", "headers": []})
    with pytest.raises(TypeError, match="handles UploadRejected, not ValueError"):
        await upload_error_handler(request, ValueError("x"))
