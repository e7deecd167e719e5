"""The examples of the new writers, run against real servers on 127.0.0.1."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import sys
import urllib.parse
from collections.abc import Iterator, Mapping
from pathlib import Path

import anyio
import pytest

from examples.forward_proxy import make_app
from examples.s3_upload import main as s3_main
from examples.s3_upload import upload_file
from examples.verified_store import store_verified
from uploadwriter import WriterFailure
from uploadwriter.writers import DigestMismatch

from .http_server import Receiver, _receiver_running, receiver, start_server, stop_server
from .s3_server import S3, moto_endpoint, s3

__all__ = ("_receiver_running", "moto_endpoint", "receiver", "s3")  # fixtures


def test_verified_store_keeps_only_the_right_bytes(tmp_path: Path) -> None:
    chunks = [b"hello ", b"world"]
    path = store_verified(chunks, hashlib.sha256(b"hello world").hexdigest(), str(tmp_path))
    assert Path(path).read_bytes() == b"hello world"
    with pytest.raises(WriterFailure) as info:
        store_verified(chunks, hashlib.sha256(b"something else").hexdigest(), str(tmp_path))
    assert isinstance(info.value.reason, DigestMismatch)
    assert list(tmp_path.iterdir()) == [Path(path)]  # the refused upload left no file


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_s3_upload_example(tmp_path: Path, s3: S3, backend: str) -> None:
    data = os.urandom(11 * 2**20 + 5)
    path = tmp_path / "video.mp4"
    path.write_bytes(data)

    async def run() -> Mapping[str, object]:
        return await upload_file(
            str(path), s3.bucket, "v.mp4", client=s3.client, part_size=5 * 2**20
        )

    meta = anyio.run(run, backend=backend)
    assert meta == {"bucket": s3.bucket, "key": "v.mp4", "etag": meta["etag"], "size": len(data)}
    assert s3.read("v.mp4") == data
    assert s3.client.head_object(Bucket=s3.bucket, Key="v.mp4")["ContentType"] == "video/mp4"
    assert s3.in_progress() == []


def test_s3_upload_example_command_line(
    tmp_path: Path, s3: S3, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from uploadwriter.writers import _s3calls

    monkeypatch.setattr(_s3calls, "_client", [])
    for name, value in {
        "AWS_ENDPOINT_URL_S3": s3.endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    assert s3_main([str(path), s3.bucket, "empty.txt", "--backend", "trio"]) == 0
    assert json.loads(capsys.readouterr().out)["size"] == 0
    assert s3.read("empty.txt") == b""


@pytest.fixture
def proxy(receiver: Receiver) -> Iterator[str]:
    url, server, thread = start_server(make_app(f"{receiver.url}/store"))
    yield url
    stop_server(server, thread)


def _put(url: str, body: bytes, *, cut: bool = False) -> tuple[int, dict[str, object]]:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        conn.putrequest("PUT", parts.path)
        conn.putheader("Content-Length", str(len(body)))
        conn.putheader("Content-Type", "image/png")
        conn.endheaders()
        conn.send(body[: len(body) // 2] if cut else body)
        if cut:
            return 0, {}
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_forward_proxy_streams_to_the_upstream(proxy: str, receiver: Receiver) -> None:
    data = os.urandom(3_000_000)
    status, answer = _put(f"{proxy}/upload/pic.png", data)
    assert status == 200, answer
    assert answer == {"sha256": hashlib.sha256(data).hexdigest(), "upstream_status": 201}
    got = receiver.settled()
    assert got.body == data
    assert got.path == "/store/pic.png"
    assert got.headers["content-type"] == "image/png"
    assert got.headers["content-length"] == str(len(data))


def test_forward_proxy_client_gone_mid_body(proxy: str, receiver: Receiver) -> None:
    _put(f"{proxy}/upload/cut.bin", os.urandom(2_000_000), cut=True)
    got = receiver.settled()
    assert got.path == "/store/cut.bin"
    assert not got.complete
    assert receiver.leaks() == []


def test_forward_proxy_reports_an_upstream_failure(receiver: Receiver) -> None:
    url, server, thread = start_server(make_app(f"{receiver.url}/fail?"))
    try:
        status, answer = _put(f"{url}/upload/x", b"abc")
    finally:
        stop_server(server, thread)
    assert status == 502
    assert "answered 500 Internal Server Error" in str(answer["error"])


def test_forward_proxy_refuses_too_large(proxy: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules["examples.forward_proxy"], "MAX_SIZE", 10)
    status, answer = _put(f"{proxy}/upload/x", b"x" * 100)
    assert status == 413
    assert "limit" in str(answer["error"])
