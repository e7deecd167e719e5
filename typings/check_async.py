"""Async writers with ``AsyncUploader``; sync writers through the adapters; no mixing."""

from __future__ import annotations

from collections.abc import Mapping

import attrs
from typing_extensions import assert_type

from uploadwriter import (
    AsyncUploader,
    AsyncUploadWriter,
    Cancel,
    Chunk,
    CloseReason,
    Done,
    Err,
    Error,
    InlineWriter,
    Ok,
    ThreadedWriter,
    Uploader,
)
from uploadwriter.writers import (
    EchoOpts,
    EchoState,
    EchoWriter,
    TmpFileOpts,
    TmpFileState,
    TmpFileWriter,
)


@attrs.frozen
class Sent:
    url: str
    size: int = 0


class ForwardingWriter:
    """An async writer: ``init``, ``write_chunk`` and ``close`` are coroutines; ``meta`` is not."""

    async def init(self, opts: str) -> Ok[Sent] | Err[None]:
        if not opts.startswith("https://"):
            return Err("not https", None)
        return Ok(Sent(opts))

    def meta(self, state: Sent) -> Mapping[str, object]:
        return {"url": state.url, "size": state.size}

    async def write_chunk(self, data: bytes, state: Sent) -> Ok[Sent] | Err[Sent]:
        return Ok(attrs.evolve(state, size=state.size + len(data)))

    async def close(self, state: Sent, reason: CloseReason) -> Ok[Sent] | Err[Sent]:
        return Ok(state)


class HalfAsyncWriter:
    """``write_chunk`` and ``close`` async, ``init`` plain: a writer for neither driver."""

    def init(self, opts: str) -> Ok[Sent] | Err[None]:
        return Ok(Sent(opts))

    def meta(self, state: Sent) -> Mapping[str, object]:
        return {}

    async def write_chunk(self, data: bytes, state: Sent) -> Ok[Sent] | Err[Sent]:
        return Ok(state)

    async def close(self, state: Sent, reason: CloseReason) -> Ok[Sent] | Err[Sent]:
        return Ok(state)


class AsyncMetaWriter:
    """Everything async, ``meta`` too: ``meta`` must stay a plain method."""

    async def init(self, opts: str) -> Ok[Sent] | Err[None]:
        return Ok(Sent(opts))

    async def meta(self, state: Sent) -> Mapping[str, object]:
        return {}

    async def write_chunk(self, data: bytes, state: Sent) -> Ok[Sent] | Err[Sent]:
        return Ok(state)

    async def close(self, state: Sent, reason: CloseReason) -> Ok[Sent] | Err[Sent]:
        return Ok(state)


# --- accepted ---------------------------------------------------------------


async def async_writer_with_async_uploader() -> None:
    up = AsyncUploader(ForwardingWriter(), "https://example.org/", chunk_timeout=None)
    assert_type(up, AsyncUploader[str, Sent])
    async with up as entered:
        assert_type(entered, AsyncUploader[str, Sent])
        await entered.send(Chunk(b"abc"))
        await entered.send(Done())
        await entered.send(Cancel())
    assert_type(up.state, Sent)
    assert_type(up.size, int)
    assert_type(up.reason, Done | Cancel | Error | None)
    assert_type(up.meta(), Mapping[str, object])
    writer: AsyncUploadWriter[str, Sent] = ForwardingWriter()


async def sync_writers_through_the_adapters() -> None:
    threaded = ThreadedWriter(TmpFileWriter())
    assert_type(threaded, ThreadedWriter[TmpFileOpts, TmpFileState])
    up = AsyncUploader(threaded, TmpFileOpts(dir="/tmp"), expected_size=3, chunk_timeout=2.5)
    assert_type(up, AsyncUploader[TmpFileOpts, TmpFileState])
    assert_type(up.state, TmpFileState)
    inline = InlineWriter(EchoWriter())
    assert_type(inline, InlineWriter[EchoOpts, EchoState])
    assert_type(AsyncUploader(inline, EchoOpts(level="info")), AsyncUploader[EchoOpts, EchoState])
    adapted: AsyncUploadWriter[TmpFileOpts, TmpFileState] = ThreadedWriter(TmpFileWriter())


# --- rejected ---------------------------------------------------------------


async def no_mixing() -> None:
    Uploader(ForwardingWriter(), "https://example.org/")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    AsyncUploader(TmpFileWriter(), TmpFileOpts())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    AsyncUploader(EchoWriter(), EchoOpts(level="info"))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    ThreadedWriter(ForwardingWriter())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    InlineWriter(ForwardingWriter())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    AsyncUploader(HalfAsyncWriter(), "x")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    Uploader(HalfAsyncWriter(), "x")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    AsyncUploader(AsyncMetaWriter(), "x")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


async def send_must_be_awaited() -> None:
    async with AsyncUploader(ForwardingWriter(), "https://example.org/") as up:
        up.send(Chunk(b"abc"))  # type: ignore[unused-coroutine]  # pyright: ignore[reportUnusedCoroutine]


async def chunk_timeout_is_seconds() -> None:
    AsyncUploader(ForwardingWriter(), "https://x/", chunk_timeout="10")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
