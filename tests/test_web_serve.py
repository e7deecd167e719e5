"""``uploadwriter serve``'s app on real servers (uvicorn; hypercorn under trio), driven by httpx.

The routes of DESIGN §8: ``POST /upload`` (multipart), ``PUT /upload/{name}``
(raw), ``GET /uploads``; every error answered as ``{"error": {"code",
"message"}}`` with its status, and nothing left behind by a failed upload.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import httpx
import pytest

from uploadwriter.web import create_app

from .http_support import (
    CONTENT_TYPE,
    SERVERS,
    leftovers,
    multipart_body,
    part,
    raw_request,
    sha256,
    status_and_json,
    uvicorn_server,
    wait_until,
)


@pytest.fixture(params=sorted(SERVERS))
def server_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def url(store_dir: Path) -> Iterator[str]:
    """The app with its defaults, on uvicorn."""
    with uvicorn_server(create_app(store_dir)) as base:
        yield base


@pytest.fixture
def any_url(store_dir: Path, server_name: str) -> Iterator[str]:
    """The app with its defaults, on each server."""
    with SERVERS[server_name](create_app(store_dir, chunk_timeout=0.5)) as base:
        yield base


def check_stored(store_dir: Path, record: dict[str, Any], data: bytes) -> None:
    path = Path(record["path"])
    assert path.parent == store_dir.resolve()
    assert path.read_bytes() == data
    assert record["size"] == len(data)
    assert record["sha256"] == sha256(data)


# --- the routes -------------------------------------------------------------------


def test_multipart_with_several_files_and_fields(any_url: str, store_dir: Path) -> None:
    files = {
        "photo": ("cat.jpg", os.urandom(300_000), "image/jpeg"),
        "doc": ("notes.txt", b"line\r\n--not a boundary\r\n" * 1000, "text/plain"),
        "empty": ("empty.bin", b"", "application/octet-stream"),
    }
    answer = httpx.post(f"{any_url}/upload", files=files, data={"note": "hello"}, timeout=30)
    assert answer.status_code == 200, answer.text
    records = answer.json()["files"]
    assert [r["client_name"] for r in records] == ["cat.jpg", "notes.txt", "empty.bin"]
    for record, (_, data, kind) in zip(records, files.values(), strict=True):
        check_stored(store_dir, record, data)
        assert record["content_type"] == kind
        assert record["via"] == "multipart"
    listed = httpx.get(f"{any_url}/uploads").json()["files"]
    assert listed == records
    assert leftovers(store_dir) == []


def test_raw_put(any_url: str, store_dir: Path) -> None:
    data = os.urandom(1_000_000)
    answer = httpx.put(
        f"{any_url}/upload/report.pdf", content=data, headers={"content-type": "application/pdf"}
    )
    assert answer.status_code == 200, answer.text
    (record,) = answer.json()["files"]
    check_stored(store_dir, record, data)
    assert (record["client_name"], record["content_type"], record["via"]) == (
        "report.pdf",
        "application/pdf",
        "raw",
    )
    assert Path(record["path"]).suffix == ".pdf"  # the server's name keeps a plain extension
    assert httpx.get(f"{any_url}/uploads").json()["files"] == [record]


def test_raw_put_chunked_without_a_length(any_url: str, store_dir: Path) -> None:
    pieces = [os.urandom(50_000) for _ in range(8)]
    answer = httpx.put(f"{any_url}/upload/stream.bin", content=iter(pieces))
    assert answer.status_code == 200, answer.text
    check_stored(store_dir, answer.json()["files"][0], b"".join(pieces))


def test_uploads_are_listed_after_a_restart(store_dir: Path) -> None:
    with uvicorn_server(create_app(store_dir)) as base:
        first = httpx.put(f"{base}/upload/a.txt", content=b"a").json()["files"]
        second = httpx.post(f"{base}/upload", files={"f": ("b.txt", b"bb")}).json()["files"]
    with uvicorn_server(create_app(store_dir)) as base:
        listed = httpx.get(f"{base}/uploads").json()["files"]
    assert listed == first + second


def test_every_upload_is_listed_with_its_fields(url: str) -> None:
    assert httpx.get(f"{url}/uploads").json() == {"files": []}
    httpx.put(f"{url}/upload/x.bin", content=b"x")
    (record,) = httpx.get(f"{url}/uploads").json()["files"]
    assert {"client_name", "size", "sha256", "path"} <= set(record)


def test_the_page_and_unknown_routes(url: str) -> None:
    page = httpx.get(f"{url}/")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert 'type="file"' in page.text
    missing = httpx.get(f"{url}/nowhere")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    wrong = httpx.delete(f"{url}/uploads")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"
    assert httpx.get(f"{url}/static/no-such-file.js").status_code == 404


# --- names are never paths ---------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "recorded"),
    [
        ("../../etc/passwd", "passwd"),
        ("/etc/shadow", "shadow"),
        ("..\\..\\win.ini", "win.ini"),
        ("a\x00b.txt", "ab.txt"),
        ("\x00\x01 ", "unnamed"),
        ("\u202egnp.exe", "gnp.exe"),
        ("x" * 60_000 + ".txt", "x" * 251 + ".txt"),
        ("é" * 100_000, "é" * 255),
    ],
)
def test_client_names_are_never_paths(url: str, store_dir: Path, name: str, recorded: str) -> None:
    answers: list[tuple[tuple[int, Any], bytes]] = []
    # Raw: percent-encoded in the path (the server decodes %2F to "/"); on a
    # socket, as httpx refuses URLs over 64 KiB. uvicorn (httptools) itself
    # refuses a request line over 64 KiB: the longest names go in multipart.
    target = f"/upload/{quote(name, safe='')}".encode()
    raw = raw_request(url, b"PUT " + target + b" HTTP/1.1\r\nContent-Length: 3", b"raw")
    if len(target) > 65_536:
        assert raw.startswith(b"HTTP/1.1 400 ")
    else:
        answers.append((status_and_json(raw), b"raw"))
    # Multipart: the filename parameter, as browsers send it (RFC 7578 forbids
    # filename*): UTF-8, with only '"', CR and LF percent-encoded.
    body = multipart_body([part("f", b"multipart", filename=name.replace('"', "%22"))])
    form = httpx.post(
        f"{url}/upload", content=body, headers={"content-type": CONTENT_TYPE}, timeout=30
    )
    answers.append(((form.status_code, form.json()), b"multipart"))
    for (status, answer), data in answers:
        assert status == 200, answer
        (record,) = answer["files"]
        assert record["client_name"] == recorded
        check_stored(store_dir, record, data)
    assert sorted(p.name for p in store_dir.parent.iterdir()) == ["store"]
    assert leftovers(store_dir) == []


def test_dot_dot_segments_in_the_raw_path(url: str, store_dir: Path) -> None:
    # httpx normalises "..": a raw socket sends them as they are.
    answer = raw_request(url, b"PUT /upload/../../escape.txt HTTP/1.1\r\nContent-Length: 2", b"hi")
    status, body = status_and_json(answer)
    assert status == 200
    assert body["files"][0]["client_name"] == "escape.txt"
    check_stored(store_dir, body["files"][0], b"hi")
    assert not (store_dir.parent / "escape.txt").exists()


# --- errors ---------------------------------------------------------------------------


def error_of(answer: httpx.Response) -> tuple[int, str]:
    body = answer.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["message"]
    return answer.status_code, body["error"]["code"]


def test_too_large(store_dir: Path, server_name: str) -> None:
    app = create_app(store_dir, max_file_size=100_000)
    with SERVERS[server_name](app) as base:
        big = os.urandom(100_001)
        form = httpx.post(
            f"{base}/upload", files={"a": ("ok.bin", b"fine"), "b": ("big.bin", big)}, timeout=30
        )
        declared = httpx.put(f"{base}/upload/big.bin", content=big)
        streamed = httpx.put(f"{base}/upload/big.bin", content=iter([big[:60_000], big[60_000:]]))
        exact = httpx.put(f"{base}/upload/exact.bin", content=big[:100_000])
    assert error_of(form) == (413, "too_large")
    assert "big.bin" in form.json()["error"]["message"]
    assert error_of(declared) == (413, "too_large")
    assert error_of(streamed) == (413, "too_large")
    assert exact.status_code == 200
    # The file that completed before the failure is not kept either: all or nothing.
    assert [r["client_name"] for r in httpx_list(store_dir)] == ["exact.bin"]
    assert leftovers(store_dir) == []


def httpx_list(store_dir: Path) -> list[dict[str, Any]]:
    from uploadwriter.web._store import Store

    return Store(store_dir).uploads()


def test_more_bytes_than_a_part_declares(url: str, store_dir: Path) -> None:
    body = multipart_body(
        [part("f", b"0123456789", filename="liar.bin", headers=["Content-Length: 4"])]
    )
    answer = httpx.post(f"{url}/upload", content=body, headers={"content-type": CONTENT_TYPE})
    assert error_of(answer) == (413, "too_large")
    assert "declared" in answer.json()["error"]["message"]
    short = multipart_body(
        [part("f", b"0123", filename="short.bin", headers=["Content-Length: 10"])]
    )
    answer = httpx.post(f"{url}/upload", content=short, headers={"content-type": CONTENT_TYPE})
    assert error_of(answer) == (400, "incomplete")
    assert httpx.get(f"{url}/uploads").json()["files"] == []
    assert leftovers(store_dir) == []


def test_too_many_files(store_dir: Path) -> None:
    with uvicorn_server(create_app(store_dir, max_entries=2)) as base:
        files = [("f", (f"{i}.txt", b"x")) for i in range(3)]
        answer = httpx.post(f"{base}/upload", files=files)
        assert error_of(answer) == (413, "too_many_files")
        two = httpx.post(f"{base}/upload", files=files[:2])
        assert two.status_code == 200
    assert len(httpx_list(store_dir)) == 2
    assert leftovers(store_dir) == []


def test_not_accepted(store_dir: Path) -> None:
    with uvicorn_server(create_app(store_dir, accept=[".jpg", "image/png"])) as base:
        form = httpx.post(f"{base}/upload", files={"f": ("run.exe", b"MZ", "application/x-exe")})
        raw = httpx.put(
            f"{base}/upload/run.exe", content=b"MZ", headers={"content-type": "application/x"}
        )
        png = httpx.put(f"{base}/upload/a", content=b"p", headers={"content-type": "image/png"})
        jpg = httpx.post(f"{base}/upload", files={"f": ("A.JPG", b"j", "application/x")})
        not_form = httpx.post(f"{base}/upload", json={"a": 1})
    assert error_of(form) == (415, "not_accepted")
    assert error_of(raw) == (415, "not_accepted")
    assert error_of(not_form) == (415, "not_accepted")
    assert (png.status_code, jpg.status_code) == (200, 200)
    assert leftovers(store_dir) == []


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (CONTENT_TYPE, b"no boundary anywhere in here"),
        ("multipart/form-data", multipart_body([part("f", b"x", filename="a")])),
        (CONTENT_TYPE, b"--" + CONTENT_TYPE.split("=")[1].encode() + b"\r\nNot-A-Header\r\n\r\n"),
        (CONTENT_TYPE, multipart_body([b"Content-Type: text/plain\r\n\r\nno disposition"])),
    ],
)
def test_malformed_multipart(url: str, store_dir: Path, content_type: str, body: bytes) -> None:
    answer = httpx.post(f"{url}/upload", content=body, headers={"content-type": content_type})
    assert error_of(answer) == (400, "malformed")
    assert leftovers(store_dir) == []


def test_malformed_content_length(url: str) -> None:
    # A server refuses what is not a length before the app sees it; either way, a 400.
    answer = raw_request(url, b"PUT /upload/a HTTP/1.1\r\nContent-Length: 12abc", b"")
    assert answer.startswith(b"HTTP/1.1 400")


def test_incomplete_multipart(url: str, store_dir: Path) -> None:
    whole = multipart_body([part("f", os.urandom(10_000), filename="cut.bin")])
    answer = httpx.post(
        f"{url}/upload",
        content=iter([whole[:5_000]]),  # chunked: the body ends where the client says
        headers={"content-type": CONTENT_TYPE},
    )
    assert error_of(answer) == (400, "incomplete")
    assert leftovers(store_dir) == []


def test_chunk_timeout(any_url: str, store_dir: Path) -> None:
    started = time.monotonic()
    raw = raw_request(
        any_url, b"PUT /upload/slow.bin HTTP/1.1\r\nContent-Length: 1000", b"x" * 10, timeout=10
    )
    form = raw_request(
        any_url,
        b"POST /upload HTTP/1.1\r\nContent-Length: 1000\r\nContent-Type: " + CONTENT_TYPE.encode(),
        multipart_body([part("f", b"x" * 2000, filename="slow.bin")])[:300],
        timeout=10,
    )
    assert time.monotonic() - started < 5  # the app's chunk timeout is 0.5 s
    for answer in (raw, form):
        status, body = status_and_json(answer)
        assert (status, body["error"]["code"]) == (408, "chunk_timeout")
    assert leftovers(store_dir) == []


def test_a_client_that_sends_nothing_is_timed_out(any_url: str) -> None:
    answer = raw_request(any_url, b"PUT /upload/idle.bin HTTP/1.1\r\nContent-Length: 10")
    assert status_and_json(answer)[0] == 408


def test_writer_failure(store_dir: Path) -> None:
    app = create_app(store_dir)
    incoming = store_dir / ".uploadwriter" / "incoming"
    incoming.rmdir()
    incoming.write_text("not a directory: no upload can start")  # fails even as root
    with uvicorn_server(app) as base:
        raw = httpx.put(f"{base}/upload/a.txt", content=b"abc")
        form = httpx.post(f"{base}/upload", files={"f": ("a.txt", b"abc")})
    assert error_of(raw) == (500, "writer_failure")
    assert error_of(form) == (500, "writer_failure")
    assert str(store_dir) not in raw.text  # no server path in the answer
    assert [p.name for p in store_dir.iterdir()] == [".uploadwriter"]


# --- clients that go away --------------------------------------------------------------


@pytest.mark.parametrize("route", ["raw", "multipart"])
def test_a_client_that_disconnects_half_way_leaves_nothing(
    any_url: str, store_dir: Path, route: str
) -> None:
    data = os.urandom(2_000_000)
    if route == "raw":
        head = b"PUT /upload/half.bin HTTP/1.1\r\nContent-Length: %d" % len(data)
        body = data
    else:
        body = multipart_body([part("f", data, filename="half.bin")])
        head = b"POST /upload HTTP/1.1\r\nContent-Type: %s\r\nContent-Length: %d" % (
            CONTENT_TYPE.encode(),
            len(body),
        )
    host, port = any_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(head + b"\r\nHost: 127.0.0.1\r\n\r\n" + body[: len(body) // 2])
        incoming = store_dir / ".uploadwriter" / "incoming"
        wait_until(lambda: any(incoming.iterdir()), "the upload did not start")
    wait_until(lambda: leftovers(store_dir) == [], "the partial upload was not removed")
    assert httpx.get(f"{any_url}/uploads").json()["files"] == []


# --- many at once -----------------------------------------------------------------------


def test_fifty_concurrent_uploads(url: str, store_dir: Path) -> None:
    payloads = [os.urandom(50_000 + 7919 * i) for i in range(50)]
    answers: list[dict[str, Any]] = [{}] * 50

    async def one(client: httpx.AsyncClient, i: int) -> None:
        data = payloads[i]
        if i % 2:
            answer = await client.put(f"{url}/upload/file{i}.bin", content=data)
        else:
            answer = await client.post(f"{url}/upload", files={"f": (f"file{i}.bin", data)})
        assert answer.status_code == 200, answer.text
        (answers[i],) = answer.json()["files"]

    async def main() -> None:
        limits = httpx.Limits(max_connections=50)
        async with (
            httpx.AsyncClient(limits=limits, timeout=60) as client,
            anyio.create_task_group() as tg,
        ):
            for i in range(50):
                tg.start_soon(one, client, i)

    anyio.run(main)
    for record, data in zip(answers, payloads, strict=True):
        check_stored(store_dir, record, data)
    listed = {r["sha256"] for r in httpx.get(f"{url}/uploads").json()["files"]}
    assert listed == {sha256(data) for data in payloads}
    assert leftovers(store_dir) == []


def test_files_that_cannot_be_kept(store_dir: Path) -> None:
    app = create_app(store_dir)
    records = store_dir / ".uploadwriter" / "records"
    records.rmdir()
    records.write_text("not a directory: no record can be written")
    with uvicorn_server(app) as base:
        answer = httpx.post(f"{base}/upload", files={"f": ("a.txt", b"abc"), "g": ("b.txt", b"d")})
    assert error_of(answer) == (500, "writer_failure")
    assert answer.json()["error"]["message"] == "the files could not be stored; none was kept"
    assert sorted(p.name for p in store_dir.iterdir()) == [".uploadwriter"]
    assert list((store_dir / ".uploadwriter" / "incoming").iterdir()) == []


def test_an_unexpected_failure_is_answered_in_json(
    store_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from uploadwriter.web._store import Store

    def broken(self: Store) -> list[dict[str, Any]]:
        raise RuntimeError("a bug in the listing")

    monkeypatch.setattr(Store, "uploads", broken)
    with uvicorn_server(create_app(store_dir)) as base:
        answer = httpx.get(f"{base}/uploads")
    assert error_of(answer) == (500, "internal_error")
    assert "a bug" not in answer.text


# --- the WebSocket channel of the same app -----------------------------------------------


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # the client is websockets (asyncio)
@pytest.mark.anyio
async def test_the_channel_keeps_its_uploads_in_the_same_store(
    anyio_backend: str, server_name: str, store_dir: Path
) -> None:
    from .test_web_websocket import Client, _connect, file

    data = os.urandom(150_000)
    with SERVERS[server_name](create_app(store_dir, max_entries=2)) as base:
        async with await _connect(base.removeprefix("http://")) as ws:
            client = Client(ws)
            await client.hello()
            verdicts = await client.select(file("a", data, "photo.jpg"), file("b", b"x" * 10))
            assert {v["type"] for v in verdicts.values()} == {"accepted"}
            done = await client.upload("a", data)
            assert done["type"] == "done", done
        async with httpx.AsyncClient() as http:
            listed = (await http.get(f"{base}/uploads")).json()["files"]
    (record,) = listed
    assert done["result"] == record
    assert (record["client_name"], record["via"]) == ("photo.jpg", "websocket")
    check_stored(store_dir, record, data)
    assert leftovers(store_dir) == []
