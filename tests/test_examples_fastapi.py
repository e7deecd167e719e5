"""The FastAPI example (examples/fastapi_app.py), served by uvicorn, driven by httpx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from examples.fastapi_app import create_app

from .http_support import uvicorn_server


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    with uvicorn_server(create_app(tmp_path)) as base:
        yield base


def test_a_form_with_photos(url: str, tmp_path: Path) -> None:
    answer = httpx.post(
        f"{url}/photos",
        data={"title": "Holidays"},
        files=[
            ("photo", ("beach.jpg", b"jpeg" * 1000, "image/jpeg")),
            ("photo", ("sea.png", b"png", "image/png")),
        ],
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["title"] == "Holidays"
    assert [(p["name"], p["size"]) for p in body["photos"]] == [("beach.jpg", 4000), ("sea.png", 3)]
    assert Path(body["photos"][0]["saved_as"]).read_bytes() == b"jpeg" * 1000
    assert Path(body["photos"][0]["saved_as"]).parent == tmp_path


def test_a_raw_photo(url: str) -> None:
    answer = httpx.put(
        f"{url}/photos/me.png", content=b"png", headers={"content-type": "image/png"}
    )
    assert answer.status_code == 200, answer.text
    (photo,) = answer.json()["files"]
    assert (photo["name"], photo["size"]) == ("me.png", 3)


def test_errors_are_json_with_their_status(url: str, tmp_path: Path) -> None:
    text = httpx.post(f"{url}/photos", files={"photo": ("notes.txt", b"x", "text/plain")})
    assert text.status_code == 415
    assert text.json()["error"]["code"] == "not_accepted"
    big = httpx.put(
        f"{url}/photos/big.png", content=b"x" * 10_000_001, headers={"content-type": "image/png"}
    )
    assert (big.status_code, big.json()["error"]["code"]) == (413, "too_large")
    many = [("photo", (f"{i}.png", b"p", "image/png")) for i in range(6)]
    too_many = httpx.post(f"{url}/photos", files=many)
    assert (too_many.status_code, too_many.json()["error"]["code"]) == (413, "too_many_files")
    assert list(tmp_path.iterdir()) == []
