"""S3Writer and AsyncS3Writer against moto's S3 server on 127.0.0.1, through boto3."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from typing import Any

import anyio
import botocore.config
import botocore.exceptions
import pytest
from hypothesis import settings

from uploadwriter import (
    AsyncUploader,
    Cancel,
    Chunk,
    ChunkTimeout,
    CloseReason,
    Done,
    Err,
    InitError,
    Ok,
    Uploader,
    WriterFailure,
)
from uploadwriter.testing import check_writer, default_settings
from uploadwriter.writers import (
    AsyncS3Writer,
    AsyncTeeWriter,
    S3Opts,
    S3State,
    S3UploadError,
    S3Writer,
)

from .s3_server import S3, MiB, moto_endpoint, part_streams, s3

__all__ = ("moto_endpoint", "s3")  # fixtures

PART = 5 * MiB


def _chunks(data: bytes, size: int) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def _upload(
    s3: S3, key: str, data: bytes, *, chunk: int = 64_000, **opts: Any
) -> Uploader[Any, Any]:
    opts = {"bucket": s3.bucket, "key": key, "client": s3.client, **opts}
    with Uploader(S3Writer(), S3Opts(**opts)) as up:
        for piece in _chunks(data, chunk):
            up.send(Chunk(piece))
        up.send(Done())
    return up


def test_20_mib_goes_up_in_parts_and_reads_back_the_same(s3: S3) -> None:
    data = os.urandom(20 * MiB + 12345)
    up = _upload(s3, "big.bin", data, part_size=PART)
    assert s3.read("big.bin") == data
    meta = up.meta()
    assert meta["bucket"] == s3.bucket
    assert meta["key"] == "big.bin"
    assert meta["size"] == len(data)
    assert str(meta["etag"]).endswith('-5"')  # a multipart object of 5 parts
    assert s3.client.head_object(Bucket=s3.bucket, Key="big.bin")["ETag"] == meta["etag"]
    assert [p.number for p in up.state.parts] == [1, 2, 3, 4, 5]
    assert s3.in_progress() == []


@pytest.mark.parametrize(
    ("size", "parts"),
    [(0, 0), (1, 0), (PART - 1, 0), (PART, 1), (PART + 1, 2), (2 * PART, 2), (2 * PART + 1, 3)],
)
@pytest.mark.parametrize("chunk", [PART - 1, 3 * PART])
def test_part_boundaries(s3: S3, size: int, parts: int, chunk: int) -> None:
    # Parts are exactly part_size but the last; less than one part is one PutObject.
    data = (bytes(range(256)) * (size // 256 + 1))[:size]
    up = _upload(s3, "edge", data, chunk=chunk, part_size=PART)
    assert s3.read("edge") == data
    state: S3State = up.state
    assert len(state.parts) == parts
    assert (state.upload_id is None) == (parts == 0)
    if parts == 0:
        assert "-" not in str(up.meta()["etag"])  # a PutObject's ETag
    listed = s3.client.get_object_attributes(
        Bucket=s3.bucket, Key="edge", ObjectAttributes=["ObjectParts"]
    ).get("ObjectParts", {})
    if parts:
        assert listed.get("TotalPartsCount", parts) == parts
    assert s3.in_progress() == []


def test_extra_args_are_passed_through_to_put_and_to_multipart(s3: S3) -> None:
    extra = {"ContentType": "image/png", "Metadata": {"origin": "test"}}
    for key, size in (("small.png", 10), ("large.png", PART + 10)):
        _upload(s3, key, bytes(size), part_size=PART, extra_args=extra)
        head = s3.client.head_object(Bucket=s3.bucket, Key=key)
        assert head["ContentType"] == "image/png"
        assert head["Metadata"] == {"origin": "test"}


@pytest.mark.parametrize("sent", [10, PART + 10, 3 * PART])
def test_cancel_leaves_no_object_and_no_multipart_upload(s3: S3, sent: int) -> None:
    with Uploader(S3Writer(), S3Opts(s3.bucket, "k", client=s3.client, part_size=PART)) as up:
        for piece in _chunks(bytes(sent), MiB):
            up.send(Chunk(piece))
        up.send(Cancel())
    assert s3.objects() == []
    assert s3.in_progress() == []
    assert up.state.buffer.closed


def test_an_exception_mid_way_leaves_nothing(s3: S3) -> None:
    def handler() -> S3State:
        with Uploader(S3Writer(), S3Opts(s3.bucket, "k", client=s3.client, part_size=PART)) as up:
            up.send(Chunk(bytes(PART + 1)))
            assert up.state.upload_id is not None
            raise RuntimeError("the client went away")
        raise AssertionError("not reached")  # pragma: no cover

    with pytest.raises(RuntimeError):
        handler()
    assert s3.objects() == []
    assert s3.in_progress() == []


def test_an_aborted_upload_takes_no_more_parts(s3: S3) -> None:
    with Uploader(S3Writer(), S3Opts(s3.bucket, "k", client=s3.client, part_size=PART)) as up:
        up.send(Chunk(bytes(PART)))
        up.send(Cancel())
    strict = client_for_no_retries(s3.endpoint)
    # Real S3 answers NoSuchUpload; moto answers HTTP 500. Either way: refused.
    with pytest.raises(botocore.exceptions.ClientError):
        strict.upload_part(
            Bucket=s3.bucket, Key="k", UploadId=up.state.upload_id, PartNumber=2, Body=b"x"
        )
    assert s3.in_progress() == []


def client_for_no_retries(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=2),
    )


@pytest.mark.parametrize("size", [10, PART + 10])
def test_a_missing_bucket_is_a_clear_error_and_leaves_nothing(s3: S3, size: int) -> None:
    with pytest.raises(WriterFailure) as info:
        _upload(s3, "k", bytes(size), chunk=MiB, part_size=PART, bucket="no-such-bucket")
    error = info.value.reason
    assert isinstance(error, S3UploadError)
    assert error.code == "NoSuchBucket"
    operation = "PutObject" if size < PART else "CreateMultipartUpload"
    assert str(error) == (
        f"S3 {operation} of s3://no-such-bucket/k failed: "
        "NoSuchBucket: The specified bucket does not exist"
    )
    assert isinstance(error.__cause__, botocore.exceptions.ClientError)
    assert s3.objects() == []
    assert s3.in_progress() == []


class Faulty:
    """The real client, except for one operation that goes to a port where nothing listens."""

    def __init__(self, client: Any, broken: str) -> None:
        self._client = client
        self._broken = broken
        self._dead = client_for_no_retries("http://127.0.0.1:9")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._dead if name == self._broken else self._client, name)


def test_a_failed_complete_aborts_and_fails_the_upload(s3: S3) -> None:
    faulty = Faulty(s3.client, "complete_multipart_upload")
    with Uploader(S3Writer(), S3Opts(s3.bucket, "k", client=faulty, part_size=PART)) as up:
        up.send(Chunk(bytes(PART + 1)))
        with pytest.raises(WriterFailure, match="CompleteMultipartUpload of s3://"):
            up.send(Done())
    assert s3.in_progress() == []
    assert s3.objects() == []


NOTES = pytest.mark.skipif(sys.version_info < (3, 11), reason="exception notes are Python 3.11+")


@NOTES
def test_a_failed_abort_says_what_stays_behind(s3: S3) -> None:
    faulty = Faulty(s3.client, "abort_multipart_upload")
    with Uploader(S3Writer(), S3Opts(s3.bucket, "k", client=faulty, part_size=PART)) as up:
        up.send(Chunk(bytes(PART)))
        with pytest.raises(WriterFailure) as info:
            up.send(Cancel())
    notes = "\n".join(getattr(info.value.reason, "__notes__", []))
    assert "could not be aborted" in notes
    assert "lifecycle rule" in notes
    assert len(s3.in_progress()) == 1
    s3.client.abort_multipart_upload(Bucket=s3.bucket, Key="k", UploadId=up.state.upload_id)


@NOTES
def test_a_failed_abort_after_a_failed_done_is_noted(s3: S3) -> None:
    class Both(Faulty):
        def __getattr__(self, name: str) -> Any:
            broken = name in ("complete_multipart_upload", "abort_multipart_upload")
            return getattr(self._dead if broken else self._client, name)

    with Uploader(
        S3Writer(), S3Opts(s3.bucket, "k", client=Both(s3.client, ""), part_size=PART)
    ) as up:
        up.send(Chunk(bytes(PART + 1)))
        with pytest.raises(WriterFailure) as info:
            up.send(Done())
    notes = "\n".join(getattr(info.value.reason, "__notes__", []))
    assert "aborting after that failure also failed" in notes
    s3.client.abort_multipart_upload(Bucket=s3.bucket, Key="k", UploadId=up.state.upload_id)


def test_keyboard_interrupt_mid_part_aborts_the_upload_it_started(s3: S3) -> None:
    class Interrupting(Faulty):
        def upload_part(self, **kwargs: Any) -> Any:
            raise KeyboardInterrupt

    interrupting = Interrupting(s3.client, "")
    with (
        pytest.raises(KeyboardInterrupt),
        Uploader(S3Writer(), S3Opts(s3.bucket, "k", client=interrupting, part_size=PART)) as up,
    ):
        up.send(Chunk(bytes(PART)))  # CreateMultipartUpload, then the interrupted part
    assert up.state.upload_id is not None  # the state that was closed knew the upload
    assert s3.in_progress() == []


def test_more_than_10_000_parts_is_a_clear_error() -> None:
    import attrs

    from uploadwriter.writers import _s3calls

    writer = S3Writer()
    state = writer.init(S3Opts("b", "k", client=object(), part_size=PART)).state
    assert state is not None
    full = attrs.evolve(
        state,
        size=10_000 * PART,
        upload_id="u",
        parts=tuple(_s3calls.Part(n, "e") for n in range(1, 10_001)),
    )
    answer = writer.write_chunk(bytes(PART), full)
    assert isinstance(answer, Err)
    assert str(answer.reason) == (
        "S3 UploadPart of s3://b/k failed: ValueError: S3 takes at most 10000 parts: with "
        "part_size=5242880 an upload holds at most 48.8 GiB; choose a larger part_size"
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"part_size": PART - 1}, ValueError, r"between 5 MiB \(5242880\) and 5 GiB"),
        ({"part_size": 5 * 2**30 + 1}, ValueError, "S3's limits for a part, not 5368709121"),
        ({"part_size": 8.0 * MiB}, TypeError, "part_size must be a whole number of bytes"),
        ({"part_size": True}, TypeError, "part_size must be a whole number"),
        ({"bucket": ""}, TypeError, "S3Opts.bucket must be a non-empty str"),
        ({"key": None}, TypeError, "S3Opts.key must be a non-empty str"),
        ({"extra_args": [("ContentType", "a/b")]}, TypeError, "extra_args must be a mapping"),
        (
            {"extra_args": {"ContentTyp": "a/b"}},
            ValueError,
            r"has 'ContentTyp', which boto3 does not pass to an upload; allowed: ACL, ",
        ),
    ],
)
def test_opts_are_validated(kwargs: dict[str, Any], error: type, message: str) -> None:
    args: dict[str, Any] = {"bucket": "b", "key": "k", **kwargs}
    with pytest.raises(error, match=message):
        S3Opts(**args)


def test_opts_are_frozen_values() -> None:
    extra = {"ContentType": "a/b"}
    opts = S3Opts("b", "k", extra_args=extra)
    extra["ContentType"] = "c/d"
    assert opts.extra_args == {"ContentType": "a/b"}
    assert opts == S3Opts("b", "k", client=object(), extra_args={"ContentType": "a/b"})
    assert hash(opts) == hash(S3Opts("b", "k"))
    assert S3Opts("b", "k").part_size == 8 * MiB


def test_init_refuses_other_opts() -> None:
    with pytest.raises(InitError, match=r"S3Writer needs S3Opts\(bucket, key, ...\)"):
        Uploader[Any, Any](S3Writer(), {"bucket": "b"}).__enter__()


def test_the_default_client_is_made_once_and_shared(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from uploadwriter.writers import _s3calls

    monkeypatch.setattr(_s3calls, "_client", [])
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    first = S3Writer().init(S3Opts("b", "k")).state
    second = S3Writer().init(S3Opts("b", "k")).state
    assert first is not None
    assert second is not None
    assert first.client is second.client
    assert first.client.meta.endpoint_url == moto_endpoint


def test_init_reports_a_client_that_cannot_be_made(monkeypatch: pytest.MonkeyPatch) -> None:

    def no_region() -> Any:
        raise botocore.exceptions.NoRegionError

    monkeypatch.setattr("uploadwriter.writers._s3.default_client", no_region)
    with pytest.raises(InitError, match="You must specify a region"):
        Uploader(S3Writer(), S3Opts("b", "k")).__enter__()


# --- the async writer, on asyncio and trio -------------------------------------------------


@pytest.mark.anyio
async def test_async_writer_uploads_in_parts(s3: S3) -> None:
    data = os.urandom(2 * PART + 777)
    opts = S3Opts(s3.bucket, "async.bin", client=s3.client, part_size=PART)
    async with AsyncUploader(AsyncS3Writer(), opts) as up:
        for piece in _chunks(data, 64_000):
            await up.send(Chunk(piece))
        await up.send(Done())
    assert s3.read("async.bin") == data
    assert up.meta()["size"] == len(data)
    assert len(up.state.parts) == 3
    assert s3.in_progress() == []


@pytest.mark.anyio
async def test_async_writer_small_upload_is_one_put(s3: S3) -> None:
    opts = S3Opts(s3.bucket, "small", client=s3.client, extra_args={"ContentType": "text/plain"})
    async with AsyncUploader(AsyncS3Writer(), opts) as up:
        await up.send(Chunk(b"hello"))
        await up.send(Done())
    assert s3.read("small") == b"hello"
    assert up.state.upload_id is None
    assert s3.client.head_object(Bucket=s3.bucket, Key="small")["ContentType"] == "text/plain"


@pytest.mark.anyio
async def test_async_writer_cancel_leaves_nothing(s3: S3) -> None:
    opts = S3Opts(s3.bucket, "k", client=s3.client, part_size=PART)
    async with AsyncUploader(AsyncS3Writer(), opts) as up:
        await up.send(Chunk(bytes(PART + 1)))
        await up.send(Cancel())
    assert s3.objects() == []
    assert s3.in_progress() == []


@pytest.mark.anyio
async def test_async_writer_cut_short_by_the_chunk_timeout_leaves_nothing(s3: S3) -> None:
    # The deadline passes while a part is being sent: that request finishes
    # (shielded), its upload id is kept, and the upload is aborted.
    opts = S3Opts(s3.bucket, "k", client=s3.client, part_size=PART)
    with pytest.raises(ChunkTimeout):  # noqa: PT012 - the async with block is the upload
        async with AsyncUploader(AsyncS3Writer(), opts, chunk_timeout=0.01) as up:
            await up.send(Chunk(bytes(2 * PART)))
            await anyio.sleep(5)
    assert up.state.upload_id is not None
    assert s3.objects() == []
    assert s3.in_progress() == []


@pytest.mark.anyio
async def test_async_writer_cancelled_task_leaves_nothing(s3: S3) -> None:
    opts = S3Opts(s3.bucket, "k", client=s3.client, part_size=PART)
    with anyio.move_on_after(0.01):
        async with AsyncUploader(AsyncS3Writer(), opts, chunk_timeout=None) as up:
            await up.send(Chunk(bytes(PART)))
            await anyio.sleep(5)
    assert s3.objects() == []
    assert s3.in_progress() == []


@pytest.mark.anyio
async def test_async_writer_missing_bucket_and_failed_abort(s3: S3) -> None:
    opts = S3Opts("no-such-bucket", "k", client=s3.client, part_size=PART)
    async with AsyncUploader(AsyncS3Writer(), opts) as up:
        with pytest.raises(WriterFailure, match="NoSuchBucket"):
            await up.send(Chunk(bytes(PART)))
    faulty = Faulty(s3.client, "abort_multipart_upload")
    opts = S3Opts(s3.bucket, "k", client=faulty, part_size=PART)
    async with AsyncUploader(AsyncS3Writer(), opts) as up:
        await up.send(Chunk(bytes(PART)))
        with pytest.raises(WriterFailure, match="AbortMultipartUpload"):
            await up.send(Cancel())
    s3.client.abort_multipart_upload(Bucket=s3.bucket, Key="k", UploadId=up.state.upload_id)


@pytest.mark.anyio
async def test_async_writer_failed_complete_aborts(s3: S3) -> None:
    class Both(Faulty):
        def __getattr__(self, name: str) -> Any:
            broken = name in ("complete_multipart_upload", "abort_multipart_upload")
            return getattr(self._dead if broken else self._client, name)

    for client in (Faulty(s3.client, "complete_multipart_upload"), Both(s3.client, "")):
        opts = S3Opts(s3.bucket, "k", client=client, part_size=PART)
        async with AsyncUploader(AsyncS3Writer(), opts) as up:
            await up.send(Chunk(bytes(PART + 1)))
            with pytest.raises(WriterFailure, match="CompleteMultipartUpload"):
                await up.send(Done())
        if s3.in_progress():
            s3.client.abort_multipart_upload(Bucket=s3.bucket, Key="k", UploadId=up.state.upload_id)
    assert s3.in_progress() == []


@pytest.mark.anyio
async def test_async_init_refuses_other_opts() -> None:
    with pytest.raises(InitError, match="AsyncS3Writer needs S3Opts"):
        async with AsyncUploader[Any, Any](AsyncS3Writer(), "s3://b/k"):
            pass  # pragma: no cover


@pytest.mark.anyio
async def test_async_default_client_is_made_in_a_thread(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from uploadwriter.writers import _s3calls

    monkeypatch.setattr(_s3calls, "_client", [])
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    answer = await AsyncS3Writer().init(S3Opts("b", "k"))
    assert answer.state is not None
    assert answer.state.client is _s3calls._client[0]

    def no_region() -> Any:
        raise botocore.exceptions.NoRegionError

    monkeypatch.setattr("uploadwriter.writers._s3.default_client", no_region)
    refused = await AsyncS3Writer().init(S3Opts("b", "k"))
    assert isinstance(refused, Err)
    assert isinstance(refused.reason, botocore.exceptions.NoRegionError)


# --- the laws ------------------------------------------------------------------------------

# Uploads on and around the 5 MiB part size (cheap, patterned data), so that
# the multipart path and the PutObject path are both checked with every close
# path, and the kit's own streams of small chunks.
STREAMS = part_streams(PART)
CHECK = settings(default_settings(), max_examples=40, database=None)


def test_s3_writer_passes_check_writer_and_leaves_nothing(s3: S3) -> None:
    check_writer(
        S3Writer(),
        S3Opts(s3.bucket, "checked", client=s3.client, part_size=PART),
        settings=CHECK,
        streams=STREAMS,
        leaks=s3.leaks,
        consume=s3.consume,
    )


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_async_s3_writer_passes_check_writer_and_leaves_nothing(s3: S3, backend: str) -> None:
    check_writer(
        AsyncS3Writer(),
        S3Opts(s3.bucket, "checked", client=s3.client, part_size=PART),
        settings=settings(CHECK, max_examples=20),
        streams=STREAMS,
        leaks=s3.leaks,
        consume=s3.consume,
        backend=backend,
    )


class Sleepy:
    """An async writer whose writes take far longer than the chunk timeout."""

    async def init(self, opts: None) -> Ok[int]:
        return Ok(0)

    def meta(self, state: int) -> Mapping[str, object]:
        return {}

    async def write_chunk(self, data: bytes, state: int) -> Ok[int]:
        await anyio.sleep(30)
        raise AssertionError("not reached")  # pragma: no cover

    async def close(self, state: int, reason: CloseReason) -> Ok[int]:
        return Ok(state)


@pytest.mark.anyio
async def test_async_tee_cut_short_aborts_the_upload_its_s3_child_just_started(s3: S3) -> None:
    # The S3 child starts its multipart upload in the very write the chunk
    # timeout cuts short (in its sibling): the tee closes it from that newest
    # state, so the upload is aborted rather than forgotten.
    tee = AsyncTeeWriter(AsyncS3Writer(), Sleepy())
    opts = (S3Opts(s3.bucket, "k", client=s3.client, part_size=PART), None)
    with pytest.raises(ChunkTimeout):
        async with AsyncUploader(tee, opts, chunk_timeout=0.5) as up:
            await up.send(Chunk(bytes(PART)))
    assert up.state.states[0].upload_id is None  # the driver's last good state...
    assert s3.in_progress() == []  # ...yet the upload the write started was aborted
    assert s3.objects() == []


def test_a_full_object_checksum_given_in_extra_args(s3: S3) -> None:
    import base64
    import zlib

    data = os.urandom(PART + 100)
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    up = _upload(s3, "crc", data, chunk=MiB, part_size=PART, extra_args={"ChecksumCRC32": crc})
    assert s3.read("crc") == data
    assert len(up.state.parts) == 2


def test_a_client_that_computes_no_checksums(s3: S3) -> None:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=s3.endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=botocore.config.Config(request_checksum_calculation="when_required"),
    )
    data = os.urandom(PART + 100)
    with Uploader(S3Writer(), S3Opts(s3.bucket, "plain", client=client, part_size=PART)) as up:
        up.send(Chunk(data))
        up.send(Done())
    assert s3.read("plain") == data
    assert [p.checksums for p in up.state.parts] == [(), ()]


def test_aborting_an_upload_already_gone_is_fine(s3: S3) -> None:
    writer = S3Writer()
    state = writer.init(S3Opts(s3.bucket, "gone", client=s3.client, part_size=PART)).state
    assert state is not None
    state = writer.write_chunk(bytes(PART), state).state
    s3.client.abort_multipart_upload(Bucket=s3.bucket, Key="gone", UploadId=state.upload_id)
    assert writer.close(state, Cancel()) == Ok(state)
    assert s3.in_progress() == []
