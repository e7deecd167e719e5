"""HttpForwardWriter and AsyncHttpForwardWriter against a real receiver on 127.0.0.1."""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from hypothesis import settings

from uploadwriter import (
    AsyncUploader,
    Cancel,
    Chunk,
    ChunkTimeout,
    Done,
    InitError,
    Uploader,
    WriterFailure,
)
from uploadwriter.testing import check_writer, default_settings, event_streams
from uploadwriter.writers import (
    AsyncHttpForwardWriter,
    ForwardError,
    ForwardStatusError,
    HttpForwardOpts,
    HttpForwardWriter,
)
from uploadwriter.writers._forward import MAX_RESPONSE_BODY

from .http_server import (
    Receiver,
    _receiver_running,
    close_all,
    full_backlog_listener,
    never_reading_listener,
    receiver,
    tls,
)

__all__ = ("_receiver_running", "receiver", "tls")  # fixtures

MB = 1_000_000


def _chunks(data: bytes, size: int = 64_000) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def _until_stuck(send: Any) -> None:
    for _ in range(2000):
        send(Chunk(bytes(MB)))


async def _until_stuck_async(send: Any) -> None:
    for _ in range(2000):
        await send(Chunk(bytes(MB)))


def _forward(opts: HttpForwardOpts, data: bytes, **limits: Any) -> Uploader[Any, Any]:
    with Uploader(HttpForwardWriter(), opts, **limits) as up:
        for piece in _chunks(data):
            up.send(Chunk(piece))
        up.send(Done())
    return up


@pytest.mark.parametrize("sized", [True, False], ids=["content-length", "chunked"])
def test_5_mb_arrives_byte_for_byte(receiver: Receiver, sized: bool) -> None:
    data = os.urandom(5 * MB)
    opts = HttpForwardOpts(
        f"{receiver.url}/store/a.bin?x=1",
        headers={"Content-Type": "application/octet-stream", "X-Token": "t"},
        content_length=len(data) if sized else None,
    )
    up = _forward(opts, data, expected_size=len(data))
    got = receiver.settled()
    assert got.complete
    assert got.body == data
    assert got.method == "PUT"
    assert got.path == "/store/a.bin"
    assert got.headers["x-token"] == "t"
    assert got.headers["content-type"] == "application/octet-stream"
    if sized:
        assert got.headers["content-length"] == str(len(data))
        assert "transfer-encoding" not in got.headers
    else:
        assert got.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in got.headers
    meta = up.meta()
    assert meta["status"] == 201
    assert meta["body"] == b'{"size":5000000}'
    assert meta["headers"]["x-seen"] == "1"  # type: ignore[index]
    assert up.state.sent == len(data)
    assert receiver.leaks() == []


def test_method_and_empty_body(receiver: Receiver) -> None:
    up = _forward(HttpForwardOpts(f"{receiver.url}/store/empty", method="POST"), b"")
    got = receiver.settled()
    assert (got.method, got.body, got.complete) == ("POST", b"", True)
    assert up.meta()["status"] == 201


def test_a_500_fails_the_upload(receiver: Receiver) -> None:
    with pytest.raises(WriterFailure) as info:
        _forward(HttpForwardOpts(f"{receiver.url}/fail"), b"abc")
    error = info.value.reason
    assert isinstance(error, ForwardStatusError)
    assert error.status == 500
    assert error.body == b"the disk is full"
    assert str(error) == f"{receiver.url}/fail answered 500 Internal Server Error: the disk is full"
    assert receiver.settled().complete  # it got everything, and said no


def test_redirects_are_not_followed(receiver: Receiver) -> None:
    with pytest.raises(WriterFailure, match=r"answered 307 Temporary Redirect \(redirects are not"):
        _forward(HttpForwardOpts(f"{receiver.url}/moved"), b"abc")
    assert [r.path for r in receiver.received] == ["/moved"]


def test_the_response_body_in_the_meta_is_capped(receiver: Receiver) -> None:
    meta = _forward(HttpForwardOpts(f"{receiver.url}/chatty"), b"abc").meta()
    assert meta["body"] == b"x" * MAX_RESPONSE_BODY
    assert meta["headers"]["set-cookie"] == "a=1"  # type: ignore[index]
    assert receiver.leaks() == []


@pytest.mark.parametrize("sized", [True, False], ids=["content-length", "chunked"])
@pytest.mark.parametrize("how", ["cancel", "exception", "too-large"])
def test_a_cancelled_upload_never_arrives_whole(receiver: Receiver, sized: bool, how: str) -> None:
    data = os.urandom(2 * MB)
    opts = HttpForwardOpts(f"{receiver.url}/store/cut", content_length=len(data) if sized else None)
    sent = 0
    # The upload, stopped three ways.
    with pytest.raises(Exception) as info, Uploader(HttpForwardWriter(), opts, max_size=MB) as up:  # noqa: PT011, PT012
        for piece in _chunks(data):
            if sent + len(piece) > MB and how != "too-large":
                if how == "cancel":
                    up.send(Cancel())
                    raise StopIteration
                raise RuntimeError("the client went away")
            up.send(Chunk(piece))
            sent += len(piece)
    assert (
        type(info.value).__name__
        == {
            "cancel": "StopIteration",
            "exception": "RuntimeError",
            "too-large": "FileTooLarge",
        }[how]
    )
    got = receiver.settled()
    assert not got.complete
    assert len(got.body) <= sent
    assert got.body == data[: len(got.body)]
    assert receiver.leaks() == []


def test_content_length_is_enforced_both_ways(receiver: Receiver) -> None:
    with pytest.raises(WriterFailure, match="longer than its content_length"):
        _forward(HttpForwardOpts(f"{receiver.url}/store/x", content_length=3), b"abcd")
    assert not receiver.settled().complete
    with pytest.raises(WriterFailure, match="shorter than its content_length"):
        _forward(HttpForwardOpts(f"{receiver.url}/store/x", content_length=5), b"abcd")
    assert not receiver.settled().complete
    assert receiver.leaks() == []


def test_no_answer_within_the_timeout(receiver: Receiver) -> None:
    with pytest.raises(WriterFailure) as info:
        _forward(HttpForwardOpts(f"{receiver.url}/silent", timeout=0.3), b"abc")
    assert isinstance(info.value.reason, ForwardError)
    assert str(info.value.reason) == (
        f"waiting for the answer of {receiver.url}/silent took more than the timeout of 0.3 s"
    )
    assert receiver.leaks() == []


def test_a_receiver_that_stops_reading_times_the_send_out() -> None:
    listener, accepted, thread = never_reading_listener()
    host, port = listener.getsockname()
    try:
        opts = HttpForwardOpts(f"http://{host}:{port}/x", timeout=0.3)
        with Uploader(HttpForwardWriter(), opts) as up:
            send = up.send
            with pytest.raises(WriterFailure, match=r"took more than the timeout of 0\.3 s"):
                _until_stuck(send)
    finally:
        close_all(listener, *accepted)
        thread.join(5)


def test_connecting_times_out() -> None:
    listener, fillers = full_backlog_listener()
    host, port = listener.getsockname()
    try:
        with pytest.raises(InitError) as info:
            Uploader(
                HttpForwardWriter(), HttpForwardOpts(f"http://{host}:{port}/", timeout=0.3)
            ).__enter__()
        assert "took more than the timeout" in str(info.value.reason)
    finally:
        close_all(listener, *fillers)


def test_nobody_listening_is_an_init_error() -> None:
    sock = __import__("socket").create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(InitError) as info:
        Uploader(HttpForwardWriter(), HttpForwardOpts(f"http://127.0.0.1:{port}/")).__enter__()
    assert str(info.value.reason).startswith(f"connecting to http://127.0.0.1:{port}/ failed: ")
    assert isinstance(getattr(info.value.reason, "__cause__", None), ConnectionRefusedError)


def test_https_with_a_private_ca(tls: tuple[Receiver, ssl.SSLContext]) -> None:
    receiver, context = tls
    data = os.urandom(300_000)
    up = _forward(HttpForwardOpts(f"{receiver.url}/store/s", ssl_context=context), data)
    assert receiver.settled().body == data
    assert up.meta()["status"] == 201
    # Without the CA, the certificate is refused.
    with pytest.raises(InitError, match="CERTIFICATE_VERIFY_FAILED"):
        Uploader(HttpForwardWriter(), HttpForwardOpts(f"{receiver.url}/store/s")).__enter__()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"url": "ftp://h/x"}, ValueError, "must be an http:// or https:// URL with a host"),
        ({"url": "http:///x"}, ValueError, "with a host, not 'http:///x'"),
        ({"url": b"http://h/"}, TypeError, "url must be a str"),
        ({"url": "http://u:p@h/"}, ValueError, "must not carry credentials"),
        ({"url": "http://h/#top"}, ValueError, "has a fragment, which is never sent"),
        ({"url": "http://h:99999/"}, ValueError, "has a bad port"),
        ({"method": "PU T"}, ValueError, "method must be an HTTP method such as 'PUT'"),
        ({"headers": {"Content-Length": "3"}}, ValueError, "give content_length=N"),
        (
            {"headers": [("transfer-encoding", "gzip")]},
            ValueError,
            "must not set transfer-encoding",
        ),
        ({"headers": [("X-A", "1\r\nX-B: 2")]}, ValueError, "the value of 'X-A' has a line break"),
        ({"headers": [("X A", "1")]}, ValueError, "'X A' is not a header name"),
        ({"headers": [("X-A",)]}, TypeError, r"each header is a \(str, str\) pair"),
        ({"headers": "X-A: 1"}, TypeError, "must be \\(name, value\\) pairs or a mapping"),
        ({"content_length": -1}, ValueError, "content_length must not be negative"),
        ({"content_length": 1.0}, TypeError, "content_length must be an int or None"),
        ({"timeout": 0}, ValueError, "timeout must be more than 0 seconds"),
        ({"timeout": float("inf")}, ValueError, "timeout must be more than 0 seconds"),
        ({"timeout": 10**400}, ValueError, "timeout must be more than 0 seconds"),
        ({"timeout": "5"}, TypeError, "timeout must be a number of seconds"),
        ({"ssl_context": "yes"}, TypeError, r"ssl_context must be an ssl.SSLContext"),
    ],
)
def test_opts_are_validated(kwargs: dict[str, Any], error: type, message: str) -> None:
    args: dict[str, Any] = {"url": "http://example.org/x", **kwargs}
    with pytest.raises(error, match=message):
        HttpForwardOpts(**args)


def test_opts_normalise_headers_and_the_host() -> None:
    opts = HttpForwardOpts("http://h/x", headers={"A": "1"})
    assert opts.headers == (("A", "1"),)
    assert HttpForwardOpts("http://h/x", headers=[["A", "1"]]) == opts
    assert hash(opts) == hash(HttpForwardOpts("http://h/x", headers=(("A", "1"),)))


def test_a_host_header_given_replaces_the_urls(receiver: Receiver) -> None:
    _forward(HttpForwardOpts(f"{receiver.url}/store/h", headers={"Host": "example.org"}), b"x")
    assert receiver.settled().headers["host"] == "example.org"


def test_init_refuses_other_opts() -> None:
    with pytest.raises(InitError, match=r"HttpForwardWriter needs HttpForwardOpts\(url, ...\)"):
        Uploader[Any, Any](HttpForwardWriter(), "http://h/").__enter__()


# --- the async writer, on asyncio and trio -------------------------------------------------


async def _aforward(opts: HttpForwardOpts, data: bytes) -> AsyncUploader[Any, Any]:
    async with AsyncUploader(AsyncHttpForwardWriter(), opts) as up:
        for piece in _chunks(data):
            await up.send(Chunk(piece))
        await up.send(Done())
    return up


@pytest.mark.anyio
@pytest.mark.parametrize("sized", [True, False], ids=["content-length", "chunked"])
async def test_async_5_mb_arrives_byte_for_byte(receiver: Receiver, sized: bool) -> None:
    data = os.urandom(5 * MB)
    opts = HttpForwardOpts(
        f"{receiver.url}/store/async", method="POST", content_length=len(data) if sized else None
    )
    up = await _aforward(opts, data)
    got = receiver.settled()
    assert (got.body == data, got.complete) == (True, True)
    assert ("content-length" in got.headers) == sized
    assert up.meta()["status"] == 201
    assert receiver.leaks() == []


@pytest.mark.anyio
async def test_async_500_and_timeout_and_refused(receiver: Receiver) -> None:
    with pytest.raises(WriterFailure, match="answered 500"):
        await _aforward(HttpForwardOpts(f"{receiver.url}/fail"), b"abc")
    with pytest.raises(WriterFailure, match=r"took more than the timeout of 0\.2 s"):
        await _aforward(HttpForwardOpts(f"{receiver.url}/silent", timeout=0.2), b"abc")
    with pytest.raises(WriterFailure, match="shorter than its content_length"):
        await _aforward(HttpForwardOpts(f"{receiver.url}/store/x", content_length=9), b"abc")
    with pytest.raises(WriterFailure, match="longer than its content_length"):
        await _aforward(HttpForwardOpts(f"{receiver.url}/store/x", content_length=1), b"abc")
    with pytest.raises(InitError, match="AsyncHttpForwardWriter needs HttpForwardOpts"):
        await _aforward("http://h/", b"")  # type: ignore[arg-type]
    sock = __import__("socket").create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(InitError, match=f"connecting to http://127.0.0.1:{port}/ failed"):
        await _aforward(HttpForwardOpts(f"http://127.0.0.1:{port}/"), b"")
    assert receiver.leaks() == []


@pytest.mark.anyio
async def test_async_cancel_and_cancellation_never_arrive_whole(receiver: Receiver) -> None:
    opts = HttpForwardOpts(f"{receiver.url}/store/cut")
    async with AsyncUploader(AsyncHttpForwardWriter(), opts) as up:
        await up.send(Chunk(bytes(100_000)))
        await up.send(Cancel())
    assert not receiver.settled().complete
    with anyio.move_on_after(0.2):
        async with AsyncUploader(AsyncHttpForwardWriter(), opts, chunk_timeout=None) as up:
            await up.send(Chunk(bytes(100_000)))
            await anyio.sleep(5)
    assert not receiver.settled().complete
    assert receiver.leaks() == []


@pytest.mark.anyio
async def test_async_send_cut_short_by_the_chunk_timeout() -> None:
    listener, accepted, thread = never_reading_listener()
    host, port = listener.getsockname()
    try:
        opts = HttpForwardOpts(f"http://{host}:{port}/x", timeout=30)
        with pytest.raises(ChunkTimeout):  # noqa: PT012 - the async with block is the upload
            async with AsyncUploader(AsyncHttpForwardWriter(), opts, chunk_timeout=0.2) as up:
                for _ in range(2000):
                    await up.send(Chunk(bytes(MB)))
        assert up.reason == Cancel()
    finally:
        close_all(listener, *accepted)
        thread.join(5)


@pytest.mark.anyio
async def test_async_send_times_out() -> None:
    listener, accepted, thread = never_reading_listener()
    host, port = listener.getsockname()
    try:
        opts = HttpForwardOpts(f"http://{host}:{port}/x", timeout=0.2)
        async with AsyncUploader(AsyncHttpForwardWriter(), opts, chunk_timeout=None) as up:
            with pytest.raises(WriterFailure, match=r"took more than the timeout of 0\.2 s"):
                await _until_stuck_async(up.send)
    finally:
        close_all(listener, *accepted)
        thread.join(5)


@pytest.mark.anyio
async def test_async_connect_times_out() -> None:
    listener, fillers = full_backlog_listener()
    host, port = listener.getsockname()
    try:
        with pytest.raises(InitError, match=r"took more than the timeout of 0\.2 s"):
            await _aforward(HttpForwardOpts(f"http://{host}:{port}/", timeout=0.2), b"")
    finally:
        close_all(listener, *fillers)


@pytest.mark.anyio
async def test_async_https(tls: tuple[Receiver, ssl.SSLContext]) -> None:
    receiver, context = tls
    up = await _aforward(HttpForwardOpts(f"{receiver.url}/store/s", ssl_context=context), b"abc")
    assert receiver.settled().body == b"abc"
    assert up.meta()["status"] == 201
    with pytest.raises(InitError, match="CERTIFICATE_VERIFY_FAILED"):
        await _aforward(HttpForwardOpts(f"{receiver.url}/store/s"), b"")


# --- the laws ------------------------------------------------------------------------------

CHECK = settings(default_settings(), max_examples=40, database=None)
STREAMS = event_streams(max_chunks=6, max_chunk_size=200_000)


def test_http_writer_passes_check_writer_leaving_no_connection(receiver: Receiver) -> None:
    check_writer(
        HttpForwardWriter(),
        HttpForwardOpts(f"{receiver.url}/store/checked"),
        settings=CHECK,
        streams=STREAMS,
        # The receiver runs in this process, so open_fds() would also list its
        # side of a connection until it notices the close: its own view is the
        # check (it keeps a connection for as long as the writer's end is open).
        leaks=receiver.leaks,
    )


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_async_http_writer_passes_check_writer(receiver: Receiver, backend: str) -> None:
    check_writer(
        AsyncHttpForwardWriter(),
        HttpForwardOpts(f"{receiver.url}/store/checked"),
        settings=settings(CHECK, max_examples=25),
        streams=STREAMS,
        leaks=receiver.leaks,
        backend=backend,
    )


def test_the_leak_check_sees_a_connection_left_open(receiver: Receiver) -> None:
    # The hook is only worth something if it catches the leak it is there for.
    from uploadwriter import CloseReason, Err, Ok
    from uploadwriter.testing import EventStream, WriterLawError, replay
    from uploadwriter.writers import HttpForwardState

    left: list[HttpForwardState] = []

    class Leaky(HttpForwardWriter):
        def close(
            self, state: HttpForwardState, reason: CloseReason
        ) -> Ok[HttpForwardState] | Err[HttpForwardState]:
            left.append(state)
            return Ok(state)  # forgets to drop the connection

    opts = HttpForwardOpts(f"{receiver.url}/store/leak")
    assert receiver.leaks() == []
    try:
        with pytest.raises(WriterLawError) as info:
            replay(Leaky(), opts, EventStream([Chunk(b"abc"), Cancel()]), leaks=receiver.leaks)
    finally:
        for state in left:
            state.sock.close()
    assert info.value.law == "f"
    assert receiver.leaks() == []


# --- answers a framework never gives, from a raw server ------------------------------------

RAW = [
    (b"", None, "closed the connection without answering"),
    (b"nonsense\r\n\r\n", None, "sent a malformed response"),
    (b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end", b"until the end", None),
    (
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
        b"ok",
        None,
    ),
]


@pytest.mark.parametrize(("reply", "body", "error"), RAW)
def test_unusual_answers(reply: bytes, body: bytes | None, error: str | None) -> None:
    from .http_server import raw_server

    url, thread = raw_server(reply)
    try:
        if error is None:
            assert _forward(HttpForwardOpts(url), b"abc").meta()["body"] == body
        else:
            with pytest.raises(WriterFailure, match=error):
                _forward(HttpForwardOpts(url), b"abc")
    finally:
        thread.join(5)


@pytest.mark.anyio
@pytest.mark.parametrize(("reply", "body", "error"), RAW)
async def test_async_unusual_answers(reply: bytes, body: bytes | None, error: str | None) -> None:
    from .http_server import raw_server

    url, thread = raw_server(reply)
    try:
        if error is None:
            assert (await _aforward(HttpForwardOpts(url), b"abc")).meta()["body"] == body
        else:
            with pytest.raises(WriterFailure, match=error):
                await _aforward(HttpForwardOpts(url), b"abc")
    finally:
        thread.join(5)
