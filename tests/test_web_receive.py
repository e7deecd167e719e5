"""The receivers without a server: ASGI messages in, writer calls and answers out.

Fast, on asyncio and trio: the request body arrives as the ASGI messages a
server would send, cut where Hypothesis likes. Every file's writer is closed
exactly once, with the right reason, and nothing completed is kept when the
request fails. (The same receivers behind real servers: test_web_serve.py.)
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.requests import Request
from starlette.types import Message

from uploadwriter import Cancel, Done, Error, InlineWriter
from uploadwriter.web import (
    ClientDisconnected,
    FilePart,
    HttpLimits,
    ReceivedForm,
    UploadRejected,
    receive_multipart,
    receive_raw,
)
from uploadwriter.writers import TmpFileOpts, TmpFileWriter

from .http_support import CONTENT_TYPE, multipart_body, part
from .recording import AsyncRecordingWriter, RecordingWriter, err, raises

pytestmark = pytest.mark.anyio


def request(
    body: bytes,
    *,
    cuts: Sequence[int] = (),
    content_type: str = CONTENT_TYPE,
    headers: Sequence[tuple[str, str]] = (),
    then: Callable[[], Awaitable[Message]] | None = None,
) -> Request:
    """A request whose body arrives in pieces cut at ``cuts``; ``then`` answers after the end."""
    bounds = sorted({0, len(body), *(c for c in cuts if 0 < c < len(body))})
    pieces = [body[a:b] for a, b in itertools.pairwise(bounds)] or [b""]
    messages: list[Message] = [
        {"type": "http.request", "body": piece, "more_body": i < len(pieces) - 1}
        for i, piece in enumerate(pieces)
    ]
    if then is not None:
        messages[-1]["more_body"] = True

    async def receive() -> Message:
        if messages:
            return messages.pop(0)
        assert then is not None, "the body was read past its end"
        return await then()

    raw_headers = [(b"content-type", content_type.encode())]
    raw_headers += [(k.encode(), v.encode()) for k, v in headers]
    scope = {"type": "http", "method": "POST", "path": "/", "headers": raw_headers}
    return Request(scope, receive)


async def disconnect() -> Message:
    return {"type": "http.disconnect"}


def recording(log: list[AsyncRecordingWriter], **script: Any) -> Any:
    """A writer factory whose writers are recorded in ``log``."""

    def factory(part: FilePart) -> tuple[AsyncRecordingWriter, FilePart]:
        writer = AsyncRecordingWriter(**script)
        log.append(writer)
        return writer, part

    return factory


def close_reasons(log: Sequence[AsyncRecordingWriter]) -> list[list[object]]:
    return [[call.reason for call in writer.closes()] for writer in log]


# --- random chunk boundaries ----------------------------------------------------------

names = st.text(st.characters(codec="utf-8", exclude_characters='"\r\n'), max_size=20)
contents = st.binary(max_size=300) | st.sampled_from(
    [b"\r\n--" + CONTENT_TYPE.split("=")[1].encode()[:-1] + b"X", b"\r\n\r\n--", b"\r"]
)


@st.composite
def forms(draw: st.DrawFn) -> tuple[list[tuple[str, str | None, bytes]], bytes]:
    file_parts = st.tuples(names, names.filter(bool), contents)
    text_parts = st.tuples(names, st.none(), st.text(max_size=50).map(str.encode))
    fields: list[tuple[str, str | None, bytes]] = draw(
        st.lists(st.one_of(file_parts, text_parts), max_size=5)
    )
    return fields, multipart_body(
        [part(name, data, filename=filename) for name, filename, data in fields]
    )


@given(form=forms(), data=st.data())
@settings(max_examples=150, deadline=None)
async def test_chunk_boundaries_do_not_change_what_is_received(
    form: tuple[list[tuple[str, str | None, bytes]], bytes],
    data: st.DataObject,
) -> None:
    parts, body = form
    cuts = data.draw(st.lists(st.integers(0, len(body)), max_size=20), label="cuts")
    log: list[AsyncRecordingWriter] = []
    received = await receive_multipart(
        request(body, cuts=cuts),
        recording(log),
        limits=HttpLimits(max_entries=10, max_fields=10),
    )
    files = [(n, f, d) for n, f, d in parts if f is not None]
    got = [(f.field, f.size, f.meta["data"]) for f in received.files]
    assert got == [(n, len(d), d) for n, _, d in files]
    assert received.fields == tuple((n, d.decode()) for n, f, d in parts if f is None)
    assert close_reasons(log) == [[Done()]] * len(files)


def text_fields_parts() -> list[tuple[str, str | None, bytes]]:
    return [("a", None, b"one"), ("a", None, b"two"), ("b", None, "é".encode())]


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_text_fields_and_the_field_helper(anyio_backend: str) -> None:
    body = multipart_body([part(n, d) for n, _, d in text_fields_parts()])
    form = await receive_multipart(request(body), recording([]), limits=HttpLimits())
    assert form == ReceivedForm((), (("a", "one"), ("a", "two"), ("b", "é")))
    assert (form.field("a"), form.field("b"), form.field("c")) == ("one", "é", None)


# --- what the factory is told, and the writers it may return --------------------------


async def test_the_factory_is_told_about_each_part(anyio_backend: str) -> None:
    parts_seen: list[FilePart] = []

    def factory(part: FilePart) -> tuple[AsyncRecordingWriter, None]:
        parts_seen.append(part)
        return AsyncRecordingWriter(), None

    body = multipart_body(
        [
            part("photo", b"jpg", filename="C:\\fakepath\\me.jpg", content_type="image/jpeg"),
            part("doc", b"1234", filename="a.txt", headers=["Content-Length: 4"]),
        ]
    )
    await receive_multipart(request(body), factory, limits=HttpLimits(max_entries=2))
    first, second = parts_seen
    assert (first.client_name, first.content_type, first.field, first.index) == (
        "me.jpg",
        "image/jpeg",
        "photo",
        0,
    )
    assert first.declared_size is None
    assert ("Content-Disposition", 'form-data; name="photo"; filename="C:\\fakepath\\me.jpg"') in (
        first.headers
    )
    assert (second.declared_size, second.index) == (4, 1)


async def test_sync_writers_run_in_threads_and_inline_writers_on_the_loop(
    anyio_backend: str, tmp_path: Path
) -> None:
    body = multipart_body([part("a", b"x" * 1000, filename="a"), part("b", b"y", filename="b")])
    made: list[object] = []

    def factory(part: FilePart) -> tuple[object, TmpFileOpts]:
        writer = TmpFileWriter() if part.field == "a" else InlineWriter(TmpFileWriter())
        made.append(writer)
        return writer, TmpFileOpts(dir=tmp_path)

    form = await receive_multipart(request(body), factory, limits=HttpLimits(max_entries=2))  # type: ignore[arg-type]
    assert [Path(str(f.meta["path"])).read_bytes() for f in form.files] == [b"x" * 1000, b"y"]
    for file in form.files:
        file.discard()
    assert list(tmp_path.iterdir()) == []


async def test_a_factory_that_returns_something_else(anyio_backend: str) -> None:
    body = multipart_body([part("a", b"x", filename="a")])
    with pytest.raises(TypeError, match=r"must return a \(writer, opts\) tuple, not 'oops'"):
        await receive_multipart(request(body), lambda part: "oops", limits=HttpLimits())  # type: ignore[arg-type,return-value]


async def test_a_file_input_left_empty_is_skipped(anyio_backend: str) -> None:
    log: list[AsyncRecordingWriter] = []
    body = multipart_body(
        [part("f", b"", filename="", content_type="application/octet-stream"), part("t", b"x")]
    )
    form = await receive_multipart(
        request(body), recording(log), limits=HttpLimits(accept=[".jpg"])
    )
    assert (form.files, form.fields, log) == ((), (("t", "x"),), [])


async def test_an_empty_file_with_a_name_is_a_file(anyio_backend: str) -> None:
    log: list[AsyncRecordingWriter] = []
    body = multipart_body([part("f", b"", filename="empty.txt")])
    form = await receive_multipart(request(body), recording(log), limits=HttpLimits())
    assert [(f.client_name, f.size) for f in form.files] == [("empty.txt", 0)]
    assert close_reasons(log) == [[Done()]]


# --- failures: one code each, every writer closed once, nothing kept ------------------


async def reject(
    req: Request, log: list[AsyncRecordingWriter], limits: HttpLimits, **script: Any
) -> UploadRejected:
    with pytest.raises(UploadRejected) as caught:
        await receive_multipart(req, recording(log, **script), limits=limits)
    return caught.value


async def test_a_failure_cancels_the_open_writer_and_discards_completed_files(
    anyio_backend: str, tmp_path: Path
) -> None:
    body = multipart_body(
        [part("a", b"a" * 100, filename="a"), part("b", b"b" * 101, filename="b")]
    )

    def factory(part: FilePart) -> tuple[InlineWriter[Any, Any], TmpFileOpts]:
        return InlineWriter(TmpFileWriter()), TmpFileOpts(dir=tmp_path)

    with pytest.raises(UploadRejected) as caught:
        await receive_multipart(
            request(body), factory, limits=HttpLimits(max_entries=2, max_file_size=100)
        )
    assert (caught.value.status, caught.value.code) == (413, "too_large")
    assert caught.value.message == "file 'b' is larger than the limit of 100 bytes"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("parts", "limits", "status", "code", "closes"),
    [
        (
            [part("f", b"x" * 11, filename="f")],
            HttpLimits(max_file_size=10),
            413,
            "too_large",
            [[Cancel()]],
        ),
        (
            [part("f", b"x", filename="a"), part("g", b"y", filename="b")],
            HttpLimits(),
            413,
            "too_many_files",
            [[Done()]],
        ),
        ([part("f", b"x", filename="a.exe")], HttpLimits(accept=[".jpg"]), 415, "not_accepted", []),
        (
            [part("f", b"x", filename="f", headers=["Content-Length: 11"])],
            HttpLimits(max_file_size=10),
            413,
            "too_large",
            [],
        ),
        (
            [part("f", b"x" * 5, filename="f", headers=["Content-Length: 4"])],
            HttpLimits(),
            413,
            "too_large",
            [],
        ),
        (
            [part("f", b"x" * 5, filename="f", headers=["Content-Length: 9"])],
            HttpLimits(),
            400,
            "incomplete",
            [[Cancel()]],
        ),
        ([part("t", b"x" * 11)], HttpLimits(max_field_size=10), 413, "too_large", []),
        ([part("t", b"x"), part("u", b"y")], HttpLimits(max_fields=1), 413, "too_large", []),
        ([part("t", b"\xff\xfe")], HttpLimits(), 400, "malformed", []),
        (
            [part("t", b"x", content_type="text/plain; charset=no-such")],
            HttpLimits(),
            400,
            "malformed",
            [],
        ),
    ],
)
async def test_rejections(  # noqa: PLR0917 - one parameter per column of the table
    anyio_backend: str,
    parts: list[bytes],
    limits: HttpLimits,
    status: int,
    code: str,
    closes: list[list[object]],
) -> None:
    log: list[AsyncRecordingWriter] = []
    rejected = await reject(request(multipart_body(parts)), log, limits)
    assert (rejected.status, rejected.code) == (status, code)
    assert rejected.body() == {"error": {"code": code, "message": rejected.message}}
    assert close_reasons(log) == closes


async def test_a_part_that_sends_past_its_declared_length_mid_file(anyio_backend: str) -> None:
    log: list[AsyncRecordingWriter] = []
    body = multipart_body([part("f", b"x" * 5000, filename="f", headers=["Content-Length: 4000"])])
    start = body.index(b"xxxx")
    # Cut mid-file: the writer gets 3000 bytes, then the parser refuses the rest.
    rejected = await reject(request(body, cuts=[start + 3000]), log, HttpLimits())
    assert rejected.code == "too_large"
    assert "more than the 4000 bytes it declared" in rejected.message
    assert close_reasons(log) == [[Cancel()]]
    # Cut at the declared end: the writer completes (L3), then the request fails.
    log.clear()
    rejected = await reject(request(body, cuts=[start + 4000]), log, HttpLimits())
    assert rejected.code == "too_large"
    assert close_reasons(log) == [[Done()]]


@pytest.mark.parametrize(
    ("content_type", "body", "status", "code"),
    [
        ("application/json", b"{}", 415, "not_accepted"),
        ("", b"", 415, "not_accepted"),
        ("multipart/form-data", b"", 400, "malformed"),
        ("multipart/form-data; boundary=" + "x" * 2000 + "\n", b"", 400, "malformed"),
        ('multipart/form-data; boundary="a\nb"', b"", 400, "malformed"),
        (
            CONTENT_TYPE,
            multipart_body(
                [part("f", b"\r\n--" + CONTENT_TYPE.split("=")[1].encode() + b"!!", filename="f")]
            ),
            400,
            "malformed",
        ),
        (CONTENT_TYPE, b"nothing like a multipart body", 400, "malformed"),
        (CONTENT_TYPE, multipart_body([part("f", b"x", filename="f")])[:-10], 400, "incomplete"),
        (
            CONTENT_TYPE,
            multipart_body([b"Content-Disposition: attachment\r\n\r\nx"]),
            400,
            "malformed",
        ),
    ],
)
async def test_bodies_that_are_not_multipart(
    anyio_backend: str, content_type: str, body: bytes, status: int, code: str
) -> None:
    rejected = await reject(request(body, content_type=content_type), [], HttpLimits())
    assert (rejected.status, rejected.code) == (status, code)


async def test_a_body_longer_than_any_the_limits_allow(anyio_backend: str) -> None:
    limits = HttpLimits(max_file_size=1, max_fields=1, max_field_size=1)
    preamble = b"x" * (2 * 1024 * 1024)  # skipped by the parser, but not forever
    rejected = await reject(
        request(preamble + multipart_body([]), cuts=range(0, len(preamble), 65536)), [], limits
    )
    assert (rejected.code, rejected.status) == ("too_large", 413)


async def test_writer_failures_are_500_and_logged(
    anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    body = multipart_body([part("f", b"x" * 10, filename="f.txt")])
    for script, closes in (
        ({"init": [err("no space")]}, [[]]),
        ({"write": [err("disk full")]}, [[Error("disk full")]]),
        ({"write": [raises(OSError("broken"))]}, [[Error(OSError("broken"))]]),
        ({"close": [err("flush failed")]}, [[Done()]]),
    ):
        log: list[AsyncRecordingWriter] = []
        with caplog.at_level(logging.ERROR, logger="uploadwriter.web"):
            rejected = await reject(request(body), log, HttpLimits(), **script)
        assert (rejected.status, rejected.code) == (500, "writer_failure")
        assert rejected.message == "file 'f.txt' could not be stored; the upload was cancelled"
        assert [[type(r) for r in rs] for rs in close_reasons(log)] == [
            [type(r) for r in rs] for rs in closes
        ]
    assert "could not store file 'f.txt'" in caplog.text


async def test_a_disconnect_cancels_the_writer(anyio_backend: str) -> None:
    log: list[AsyncRecordingWriter] = []
    whole = multipart_body([part("f", b"x" * 1000, filename="f")])
    with pytest.raises(ClientDisconnected) as caught:
        await receive_multipart(
            request(whole[:500], cuts=[200], then=disconnect), recording(log), limits=HttpLimits()
        )
    assert (caught.value.code, caught.value.received) == ("incomplete", 500)
    assert close_reasons(log) == [[Cancel()]]


@pytest.mark.parametrize("where", ["before the body", "mid-file"])
async def test_the_chunk_timeout(anyio_backend: str, where: str) -> None:
    log: list[AsyncRecordingWriter] = []
    whole = multipart_body([part("f", b"x" * 1000, filename="f")])
    sent = b"" if where == "before the body" else whole[:500]

    async def never() -> Message:
        await anyio.sleep(30)
        raise AssertionError("the chunk timeout did not fire")

    with anyio.fail_after(5):
        rejected = await reject(request(sent, then=never), log, HttpLimits(chunk_timeout=0.2))
    assert (rejected.status, rejected.code) == (408, "chunk_timeout")
    assert rejected.message == "no data arrived for 0.2 seconds; the upload was cancelled"
    assert close_reasons(log) == ([[Cancel()]] if sent else [])


async def test_a_slow_writer_counts_against_the_chunk_timeout(anyio_backend: str) -> None:
    from .recording import ok

    log: list[AsyncRecordingWriter] = []
    body = multipart_body([part("f", b"x" * 10, filename="f")])
    rejected = await reject(
        request(body, then=disconnect), log, HttpLimits(chunk_timeout=0.1), write=[ok(delay=5)]
    )
    assert rejected.code == "chunk_timeout"
    assert close_reasons(log) == [[Cancel()]]


async def test_the_deadline_is_lifted_once_the_body_has_arrived(anyio_backend: str) -> None:
    from .recording import ok

    log: list[AsyncRecordingWriter] = []
    body = multipart_body([part("f", b"x" * 10, filename="f")])
    form = await receive_multipart(
        request(body), recording(log, close=[ok(delay=0.3)]), limits=HttpLimits(chunk_timeout=0.1)
    )
    assert [f.size for f in form.files] == [10]


async def test_cancellation_from_outside_goes_through(anyio_backend: str) -> None:
    log: list[AsyncRecordingWriter] = []
    whole = multipart_body([part("f", b"x" * 1000, filename="f")])

    async def never() -> Message:
        await anyio.sleep(30)
        raise AssertionError("not cancelled")

    with anyio.move_on_after(0.1) as scope:
        await receive_multipart(
            request(whole[:500], then=never), recording(log), limits=HttpLimits(chunk_timeout=None)
        )
    assert scope.cancelled_caught
    assert close_reasons(log) == [[Cancel()]]


# --- raw bodies ------------------------------------------------------------------------


@given(data=st.binary(max_size=2000), cuts=st.lists(st.integers(0, 2000), max_size=10))
@settings(max_examples=50, deadline=None)
async def test_raw_bodies_arrive_whole(data: bytes, cuts: list[int]) -> None:
    log: list[AsyncRecordingWriter] = []
    file = await receive_raw(
        request(
            data, cuts=cuts, content_type="image/png", headers=[("content-length", str(len(data)))]
        ),
        recording(log),
        client_name="../a.png",
        limits=HttpLimits(),
    )
    assert (file.client_name, file.content_type, file.field, file.size) == (
        "a.png",
        "image/png",
        None,
        len(data),
    )
    assert log[0].written() == data
    assert close_reasons(log) == [[Done()]]


@pytest.mark.parametrize(
    ("headers", "limits", "code"),
    [
        ([("content-length", "11")], HttpLimits(max_file_size=10), "too_large"),
        ([("content-length", "1x")], HttpLimits(), "malformed"),
        ([("content-length", "٣")], HttpLimits(), "malformed"),
        ([], HttpLimits(accept=["image/*"]), "not_accepted"),
    ],
)
async def test_raw_bodies_refused_before_any_byte(
    anyio_backend: str, headers: list[tuple[str, str]], limits: HttpLimits, code: str
) -> None:
    log: list[AsyncRecordingWriter] = []
    with pytest.raises(UploadRejected) as caught:
        await receive_raw(
            request(b"x" * 11, headers=headers, content_type="text/plain"),
            recording(log),
            limits=limits,
        )
    assert caught.value.code == code
    assert log == []


async def test_raw_bodies_too_large_as_they_arrive(anyio_backend: str) -> None:
    log: list[AsyncRecordingWriter] = []
    with pytest.raises(UploadRejected) as caught:
        await receive_raw(
            request(b"x" * 11, cuts=[6]), recording(log), limits=HttpLimits(max_file_size=10)
        )
    assert (caught.value.code, caught.value.message) == (
        "too_large",
        "file 'unnamed' is larger than the limit of 10 bytes",
    )
    assert close_reasons(log) == [[Cancel()]]


async def test_raw_disconnect_and_timeout(anyio_backend: str) -> None:
    log: list[AsyncRecordingWriter] = []
    with pytest.raises(ClientDisconnected):
        await receive_raw(request(b"abc", then=disconnect), recording(log), limits=HttpLimits())

    async def never() -> Message:
        await anyio.sleep(30)
        raise AssertionError("the chunk timeout did not fire")

    with pytest.raises(UploadRejected) as caught:
        await receive_raw(
            request(b"abc", then=never), recording(log), limits=HttpLimits(chunk_timeout=0.1)
        )
    assert caught.value.code == "chunk_timeout"
    assert close_reasons(log) == [[Cancel()], [Cancel()]]


async def test_raw_writer_failure_and_a_sync_writer(anyio_backend: str) -> None:
    with pytest.raises(UploadRejected) as caught:
        await receive_raw(
            request(b"abc"),
            lambda part: (RecordingWriter(write=[err("nope")]), None),
            limits=HttpLimits(),
        )
    assert caught.value.code == "writer_failure"
    file = await receive_raw(request(b"abc"), lambda part: (RecordingWriter(), None))
    assert file.meta["data"] == b"abc"
    file.discard()  # a writer without a discard hook: nothing to do


async def test_a_completed_raw_upload_is_discarded_if_the_request_still_fails(
    anyio_backend: str, tmp_path: Path
) -> None:
    # The declared size is reached (the writer completes) before the client goes away.
    def factory(part: FilePart) -> tuple[InlineWriter[Any, Any], TmpFileOpts]:
        return InlineWriter(TmpFileWriter()), TmpFileOpts(dir=tmp_path)

    data = os.urandom(100)
    req = request(data, headers=[("content-length", "100")], then=disconnect)
    # The body's last message says more is coming: the receiver reads on, and
    # meets the disconnect after the writer completed.
    with pytest.raises(ClientDisconnected):
        await receive_raw(req, factory, limits=HttpLimits())
    assert list(tmp_path.iterdir()) == []


async def test_a_malformed_delimiter_mid_file_cancels_it(anyio_backend: str) -> None:
    log: list[AsyncRecordingWriter] = []
    bad = b"\r\n--" + CONTENT_TYPE.split("=")[1].encode() + b"!!"
    body = multipart_body([part("f", b"x" * 1000 + bad, filename="f")])
    rejected = await reject(request(body, cuts=[body.index(b"xxxx") + 500]), log, HttpLimits())
    assert (rejected.status, rejected.code) == (400, "malformed")
    assert close_reasons(log) == [[Cancel()]]
