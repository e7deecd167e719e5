"""The memory, hash, tee, S3 and HTTP writers: opts and state types, tee opts as tuples."""

from __future__ import annotations

from typing import Any

from typing_extensions import assert_type

from uploadwriter import (
    AsyncUploader,
    AsyncUploadWriter,
    InlineWriter,
    ThreadedWriter,
    Uploader,
    UploadWriter,
)
from uploadwriter.writers import (
    AsyncHttpForwardState,
    AsyncHttpForwardWriter,
    AsyncS3Writer,
    AsyncTeeWriter,
    HashOpts,
    HashState,
    HashWriter,
    HttpForwardOpts,
    HttpForwardState,
    HttpForwardWriter,
    MemoryOpts,
    MemoryState,
    MemoryWriter,
    S3Opts,
    S3State,
    S3Writer,
    TeeState,
    TeeWriter,
    TmpFileOpts,
    TmpFileWriter,
)


def sync_writers() -> None:
    assert_type(Uploader(MemoryWriter(), MemoryOpts()), Uploader[MemoryOpts, MemoryState])
    assert_type(Uploader(HashWriter(), HashOpts("md5")), Uploader[HashOpts, HashState])
    s3 = Uploader(S3Writer(), S3Opts("bucket", "key", part_size=16 * 2**20))
    assert_type(s3, Uploader[S3Opts, S3State])
    assert_type(s3.state.upload_id, str | None)
    forward = Uploader(HttpForwardWriter(), HttpForwardOpts("https://example.org/in"))
    assert_type(forward, Uploader[HttpForwardOpts, HttpForwardState])
    memory: UploadWriter[MemoryOpts, MemoryState] = MemoryWriter()
    hashing: UploadWriter[HashOpts, HashState] = HashWriter()
    to_s3: UploadWriter[S3Opts, S3State] = S3Writer()
    to_http: UploadWriter[HttpForwardOpts, HttpForwardState] = HttpForwardWriter()


def async_writers() -> None:
    s3 = AsyncUploader(AsyncS3Writer(), S3Opts("bucket", "key"))
    assert_type(s3, AsyncUploader[S3Opts, S3State])
    forward = AsyncUploader(AsyncHttpForwardWriter(), HttpForwardOpts("http://h/"))
    assert_type(forward, AsyncUploader[HttpForwardOpts, AsyncHttpForwardState])
    inline = AsyncUploader(InlineWriter(HashWriter()), HashOpts())
    assert_type(inline, AsyncUploader[HashOpts, HashState])
    to_s3: AsyncUploadWriter[S3Opts, S3State] = AsyncS3Writer()
    to_http: AsyncUploadWriter[HttpForwardOpts, AsyncHttpForwardState] = AsyncHttpForwardWriter()


def tees() -> None:
    # The opts of a tee are the tuple of its children's opts, in order.
    two = TeeWriter(MemoryWriter(), HashWriter())
    assert_type(two, TeeWriter[tuple[MemoryOpts, HashOpts]])
    up = Uploader(two, (MemoryOpts(), HashOpts()))
    assert_type(up, Uploader[tuple[MemoryOpts, HashOpts], TeeState])
    assert_type(up.state.states, tuple[Any, ...])
    four = TeeWriter(TmpFileWriter(), MemoryWriter(), HashWriter(), S3Writer())
    assert_type(four, TeeWriter[tuple[TmpFileOpts, MemoryOpts, HashOpts, S3Opts]])
    many = TeeWriter(*[HashWriter() for _ in range(5)])
    assert_type(many, TeeWriter[tuple[Any, ...]])
    fan_out = AsyncTeeWriter(AsyncS3Writer(), InlineWriter(HashWriter()))
    assert_type(fan_out, AsyncTeeWriter[tuple[S3Opts, HashOpts]])
    assert_type(
        AsyncUploader(fan_out, (S3Opts("b", "k"), HashOpts())),
        AsyncUploader[tuple[S3Opts, HashOpts], TeeState],
    )
    three = AsyncTeeWriter(
        AsyncHttpForwardWriter(), ThreadedWriter(TmpFileWriter()), InlineWriter(MemoryWriter())
    )
    assert_type(three, AsyncTeeWriter[tuple[HttpForwardOpts, TmpFileOpts, MemoryOpts]])


# --- rejected ---
# Opts that do not fit the writer: mypy says it cannot infer the opts type
# (misc), pyright names the argument.


def rejected() -> None:
    Uploader(HashWriter(), MemoryOpts())  # type: ignore[misc]  # pyright: ignore[reportArgumentType]
    Uploader(S3Writer(), HashOpts())  # type: ignore[misc]  # pyright: ignore[reportArgumentType]
    Uploader(AsyncS3Writer(), S3Opts("b", "k"))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    AsyncUploader(HttpForwardWriter(), HttpForwardOpts("http://h/"))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    tee = TeeWriter(MemoryWriter(), HashWriter())
    Uploader(tee, (HashOpts(), MemoryOpts()))  # type: ignore[misc]  # pyright: ignore[reportArgumentType]
    Uploader(tee, (MemoryOpts(),))  # type: ignore[misc]  # pyright: ignore[reportArgumentType]
    AsyncTeeWriter(MemoryWriter())  # type: ignore[call-overload]  # pyright: ignore[reportArgumentType, reportCallIssue]
    TeeWriter(AsyncS3Writer())  # type: ignore[call-overload]  # pyright: ignore[reportArgumentType, reportCallIssue]
