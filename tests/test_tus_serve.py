"""tus at /files/ of uploadwriter serve's app, on a real uvicorn server on 127.0.0.1.

Plain HTTP (httpx, and a raw socket for bodies cut short or left hanging),
and tuspy, a tus client nobody here wrote. The multi-process cases (two
servers on one directory, kill -9 mid-PATCH) are in test_tus_processes.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from uploadwriter.tus import FileStore
from uploadwriter.web import create_app

from .web_support import uvicorn_server

TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = {**TUS, "Content-Type": "application/offset+octet-stream"}

Serve = Callable[..., str]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """``serve(**create_app options)`` -> base URL; the app serves ``tmp_path / "dir"``."""
    stack: list[Any] = []

    def start(**options: Any) -> str:
        context = uvicorn_server(create_app(tmp_path / "dir", **options))
        stack.append(context)
        return f"http://{context.__enter__()}"

    yield start
    for context in reversed(stack):
        context.__exit__(None, None, None)


def tus_dir(tmp_path: Path) -> Path:
    return tmp_path / "dir" / ".uploadwriter" / "tus"


def create(base: str, length: int, **headers: str) -> str:
    answer = httpx.post(f"{base}/files/", headers={**TUS, "Upload-Length": str(length), **headers})
    assert answer.status_code == 201, answer.text
    location = answer.headers["Location"]
    assert location.startswith("/files/")
    return base + location


def offset(url: str) -> int:
    answer = httpx.head(url, headers=TUS)
    assert answer.status_code == 200, answer.status_code
    return int(answer.headers["Upload-Offset"])


def patch(url: str, at: int, data: bytes, **headers: str) -> httpx.Response:
    return httpx.patch(url, content=data, headers={**OCTETS, "Upload-Offset": str(at), **headers})


def listed(base: str) -> list[dict[str, Any]]:
    files: list[dict[str, Any]] = httpx.get(f"{base}/uploads").json()["files"]
    return files


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_an_upload_in_three_patches_is_listed_with_its_sha256(serve: Serve) -> None:
    base = serve()
    data = os.urandom(300_000)
    url = create(
        base,
        len(data),
        **{"Upload-Metadata": f"filename {b64('clip.mp4')},filetype {b64('video/mp4')}"},
    )
    head = httpx.head(url, headers=TUS)
    assert head.headers["Cache-Control"] == "no-store"
    assert (head.headers["Upload-Offset"], head.headers["Upload-Length"]) == ("0", "300000")
    for start in (0, 100_000, 200_000):
        answer = patch(url, start, data[start : start + 100_000])
        assert answer.status_code == 204
        assert answer.headers["Upload-Offset"] == str(start + 100_000)
        assert answer.headers["Tus-Resumable"] == "1.0.0"
    assert offset(url) == len(data)
    (record,) = listed(base)
    assert record["sha256"] == hashlib.sha256(data).hexdigest()
    assert (record["client_name"], record["content_type"], record["via"]) == (
        "clip.mp4",
        "video/mp4",
        "tus",
    )
    assert Path(record["path"]).read_bytes() == data
    assert Path(record["path"]).suffix == ".mp4"


def test_creation_with_upload_and_an_empty_upload(serve: Serve) -> None:
    base = serve()
    answer = httpx.post(
        f"{base}/files",  # the endpoint without its slash too
        content=b"hello",
        headers={**OCTETS, "Upload-Length": "11", "Upload-Metadata": ""},
    )
    assert (answer.status_code, answer.headers["Upload-Offset"]) == (201, "5")
    url = base + answer.headers["Location"]
    assert patch(url, 5, b" world").status_code == 204
    empty = create(base, 0)
    assert offset(empty) == 0
    records = listed(base)
    assert [r["size"] for r in records] == [11, 0]
    assert Path(records[0]["path"]).read_bytes() == b"hello world"


def test_options_and_the_errors_of_the_spec(serve: Serve) -> None:
    base = serve(max_file_size=1000)
    options = httpx.options(f"{base}/files/")
    assert options.status_code == 204
    assert options.headers["Tus-Max-Size"] == "1000"
    assert httpx.post(f"{base}/files/", headers={"Upload-Length": "3"}).status_code == 412
    assert httpx.post(f"{base}/files/", headers={**TUS, "Upload-Length": "1001"}).status_code == 413
    url = create(base, 10)
    assert httpx.patch(url, content=b"x", headers={**TUS, "Upload-Offset": "0"}).status_code == 415
    conflict = patch(url, 3, b"abc")
    assert (conflict.status_code, conflict.headers["Upload-Offset"]) == (409, "0")
    assert patch(url, 0, b"x" * 11).status_code == 413
    assert httpx.head(f"{base}/files/nosuchupload", headers=TUS).status_code == 404
    assert httpx.head(f"{base}/files/not.an.id", headers=TUS).status_code == 404
    assert httpx.head(f"{base}/files/not.an.id").status_code == 412
    assert offset(url) == 0


@pytest.mark.parametrize("algorithm", ["sha1", "sha256"])
def test_a_checksum_mismatch_is_460_and_its_bytes_are_not_kept(
    serve: Serve, algorithm: str
) -> None:
    base = serve()
    url = create(base, 8)

    def digest(data: bytes) -> str:
        return f"{algorithm} " + base64.b64encode(hashlib.new(algorithm, data).digest()).decode()

    assert patch(url, 0, b"abcd", **{"Upload-Checksum": digest(b"abcd")}).status_code == 204
    wrong = patch(url, 4, b"XXXX", **{"Upload-Checksum": digest(b"efgh")})
    assert wrong.status_code == 460
    assert offset(url) == 4
    assert patch(url, 4, b"efgh", **{"Upload-Checksum": digest(b"efgh")}).status_code == 204
    (record,) = listed(base)
    assert Path(record["path"]).read_bytes() == b"abcdefgh"


def test_delete_removes_the_data_and_later_requests_get_410(serve: Serve, tmp_path: Path) -> None:
    base = serve()
    url = create(base, 10)
    patch(url, 0, b"abc")
    assert len(list((tus_dir(tmp_path) / "data").iterdir())) == 1
    assert httpx.delete(url, headers=TUS).status_code == 204
    assert list((tus_dir(tmp_path) / "data").iterdir()) == []
    assert httpx.head(url, headers=TUS).status_code == 410
    assert patch(url, 3, b"def").status_code == 410
    assert httpx.delete(url, headers=TUS).status_code == 410
    assert listed(base) == []


def test_an_expired_upload_is_closed_with_cancel_and_removed(serve: Serve, tmp_path: Path) -> None:
    base = serve(tus_expires_after=0.5)
    url = create(base, 10)
    answer = patch(url, 0, b"abc")
    assert "GMT" in answer.headers["Upload-Expires"]
    other = create(base, 10)
    time.sleep(0.7)
    assert httpx.head(url, headers=TUS).status_code == 410
    # The other one is removed by the sweep that follows a POST (at most once a minute).
    store = FileStore(tus_dir(tmp_path))
    assert [p.name.split("-")[0] for p in (tus_dir(tmp_path) / "data").iterdir()] == [
        other.rsplit("/", 1)[1]
    ]
    from uploadwriter.tus import TusEndpoint

    assert anyio_run(TusEndpoint(store, expires_after=0.5).sweep) == [other.rsplit("/", 1)[1]]
    assert list((tus_dir(tmp_path) / "data").iterdir()) == []
    assert httpx.head(other, headers=TUS).status_code == 410


def anyio_run(function: Callable[[], Any]) -> Any:
    import anyio

    return anyio.run(function)


def raw_patch(url: str, at: int, length: int, data: bytes) -> socket.socket:
    """Start a PATCH announcing ``length`` bytes and send only ``data``; return the socket."""
    parsed = httpx.URL(url)
    assert parsed.port is not None
    sock = socket.create_connection((parsed.host, parsed.port))
    head = (
        f"PATCH {parsed.raw_path.decode()} HTTP/1.1\r\nHost: {parsed.host}\r\n"
        f"Tus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\n"
        f"Upload-Offset: {at}\r\nContent-Length: {length}\r\n\r\n"
    )
    sock.sendall(head.encode() + data)
    return sock


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_an_interrupted_patch_is_a_suspension_that_keeps_what_arrived(serve: Serve) -> None:
    base = serve()
    data = os.urandom(200_000)
    url = create(base, len(data))
    sock = raw_patch(url, 0, len(data), data[:70_000])
    time.sleep(0.2)
    sock.close()  # the client goes away mid-body
    wait_for(lambda: offset(url) == 70_000, "the bytes that arrived to be kept")
    assert patch(url, 70_000, data[70_000:]).status_code == 204
    (record,) = listed(base)
    assert Path(record["path"]).read_bytes() == data


def test_a_stalled_patch_is_suspended_after_the_chunk_timeout(serve: Serve) -> None:
    base = serve(chunk_timeout=0.5)
    url = create(base, 100)
    sock = raw_patch(url, 0, 100, b"x" * 40)
    reply = sock.recv(4096).decode()  # the server answers once it has suspended the upload
    sock.close()
    assert reply.startswith("HTTP/1.1 204")
    assert "upload-offset: 40" in reply.lower()
    assert offset(url) == 40


def test_two_patches_racing_on_one_upload_one_wins_the_other_gets_a_conflict(
    serve: Serve,
) -> None:
    base = serve()
    url = create(base, 100)
    first = raw_patch(url, 0, 100, b"a" * 10)  # holds the upload's lock while it sends
    time.sleep(0.2)
    second = patch(url, 0, b"b" * 100)
    assert second.status_code == 423
    assert "another request is writing" in second.json()["error"]["message"]
    first.sendall(b"a" * 90)
    assert first.recv(4096).startswith(b"HTTP/1.1 204")
    first.close()
    assert patch(url, 0, b"b" * 100).status_code == 409  # the winner's bytes are in
    (record,) = listed(base)
    assert Path(record["path"]).read_bytes() == b"a" * 100


def test_checkpoints_make_a_long_patch_durable_as_it_goes(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "tus", checkpoint_every=64 * 1024)
    with uvicorn_server(create_app(tmp_path / "dir", tus_store=store)) as host:
        url = create(f"http://{host}", 1_000_000)
        upload_id = url.rsplit("/", 1)[1]
        sock = raw_patch(url, 0, 1_000_000, os.urandom(300_000))

        def saved_offset() -> int:
            record = json.loads((tmp_path / "tus" / f"{upload_id}.json").read_text())
            return int(record["offset"])

        # Before the request ends, the record already stands at the last checkpoint.
        wait_for(lambda: saved_offset() == 4 * 64 * 1024, "a checkpoint at 256 KiB")
        assert offset(url) == 4 * 64 * 1024
        sock.close()


def test_tuspy_uploads_pauses_and_resumes(serve: Serve) -> None:
    client_module = pytest.importorskip("tusclient.client")
    base = serve()
    data = os.urandom(2_500_000)
    source = Path(base.split("//")[1].replace(":", "_"))
    del source
    client = client_module.TusClient(f"{base}/files/")
    first = client.uploader(
        file_stream=__import__("io").BytesIO(data),
        chunk_size=1_000_000,
        metadata={"filename": "tuspy.bin"},
    )
    first.upload_chunk()  # one chunk, then the client stops (a pause)
    assert first.offset == 1_000_000
    resumed = client.uploader(
        file_stream=__import__("io").BytesIO(data), chunk_size=1_000_000, url=first.url
    )
    assert resumed.get_offset() == 1_000_000  # HEAD
    resumed.upload()
    (record,) = listed(base)
    assert record["client_name"] == "tuspy.bin"
    assert record["sha256"] == hashlib.sha256(data).hexdigest()


def test_serves_accept_applies_to_tus_uploads_too(serve: Serve) -> None:
    base = serve(accept=["image/*", ".pdf"])
    refused = httpx.post(
        f"{base}/files/",
        headers={**TUS, "Upload-Length": "3", "Upload-Metadata": f"filename {b64('a.exe')}"},
    )
    assert refused.status_code == 415
    assert "a.exe (no filetype) is not accepted" in refused.json()["error"]["message"]
    for metadata in (f"filetype {b64('image/png')}", f"filename {b64('doc.PDF')}"):
        create(base, 3, **{"Upload-Metadata": metadata})
    assert httpx.get(f"{base}/uploads").status_code == 200


def test_an_interrupted_patch_with_a_checksum_keeps_nothing(serve: Serve) -> None:
    base = serve()
    url = create(base, 100)
    parsed = httpx.URL(url)
    assert parsed.port is not None
    sock = socket.create_connection((parsed.host, parsed.port))
    digest = base64.b64encode(hashlib.sha1(b"x" * 100).digest()).decode()
    sock.sendall(
        f"PATCH {parsed.raw_path.decode()} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n"
        "Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n"
        f"Upload-Checksum: sha1 {digest}\r\nContent-Length: 100\r\n\r\n".encode()
        + b"x" * 40
    )
    time.sleep(0.2)
    sock.close()
    wait_for(lambda: patch(url, 0, b"").status_code == 204, "the request to end")
    assert offset(url) == 0  # unchecked bytes are not kept


def test_delete_of_a_completed_upload_keeps_the_file_it_became(serve: Serve) -> None:
    base = serve()
    url = create(base, 3)
    assert patch(url, 0, b"abc").status_code == 204
    assert httpx.delete(url, headers=TUS).status_code == 204
    assert httpx.head(url, headers=TUS).status_code == 410
    (record,) = listed(base)
    assert Path(record["path"]).read_bytes() == b"abc"


def test_an_upload_that_cannot_be_created_is_500(serve: Serve, tmp_path: Path) -> None:
    base = serve()
    (tus_dir(tmp_path) / "data").rmdir()  # the store's data directory is gone
    answer = httpx.post(f"{base}/files/", headers={**TUS, "Upload-Length": "3"})
    assert answer.status_code == 500
    assert "could not be created" in answer.json()["error"]["message"]


def test_a_stalled_patch_with_a_checksum_keeps_nothing(serve: Serve) -> None:
    base = serve(chunk_timeout=0.5)
    url = create(base, 100)
    parsed = httpx.URL(url)
    assert parsed.port is not None
    sock = socket.create_connection((parsed.host, parsed.port))
    digest = base64.b64encode(hashlib.sha256(b"x" * 100).digest()).decode()
    sock.sendall(
        f"PATCH {parsed.raw_path.decode()} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n"
        "Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n"
        f"Upload-Checksum: sha256 {digest}\r\nContent-Length: 100\r\n\r\n".encode()
        + b"x" * 40
    )
    reply = sock.recv(4096).decode()
    sock.close()
    assert reply.startswith("HTTP/1.1 460")
    assert offset(url) == 0
