"""Gradual typing: a writer with no annotations at all is accepted, and typed ``Any``.

This module is checked without ``disallow_untyped_defs`` (see ``mypy.ini``), as
a user's untyped module would be.
"""

from __future__ import annotations

from typing import Any

from typing_extensions import assert_type

from uploadwriter import AsyncUploader, Chunk, Done, Err, InlineWriter, Ok, ThreadedWriter, Uploader


class UntypedWriter:
    def init(self, opts):
        if not opts:
            return Err("no opts", None)
        return Ok(0)

    def meta(self, state):
        return {"size": state}

    def write_chunk(self, data, state):
        return Ok(state + len(data))

    def close(self, state, reason):
        return Ok(state)


class UntypedAsyncWriter:
    async def init(self, opts):
        return Ok(opts)

    def meta(self, state):
        return {}

    async def write_chunk(self, data, state):
        return Ok(state)

    async def close(self, state, reason):
        return Ok(state)


def untyped_writer_is_accepted() -> None:
    up = Uploader(UntypedWriter(), {"anything": "goes"})
    with up:
        up.send(Chunk(b"abc"))
        up.send(Done())
    # mypy types unannotated callbacks as Any, so nothing downstream is
    # checked; pyright infers their return types from the bodies instead
    # (here Uploader[dict[str, str], int]). Both accept the writer.
    assert_type(up, Uploader[Any, Any])  # pyright: ignore[reportAssertTypeFailure]
    assert_type(up.state, Any)  # pyright: ignore[reportAssertTypeFailure]


async def untyped_async_writer_is_accepted() -> None:
    up = AsyncUploader(UntypedAsyncWriter(), 1)
    async with up:
        await up.send(Chunk(b"abc"))
    threaded = AsyncUploader(ThreadedWriter(UntypedWriter()), 1)
    inline = AsyncUploader(InlineWriter(UntypedWriter()), 1)
    assert_type(up, AsyncUploader[Any, Any])  # pyright: ignore[reportAssertTypeFailure]
    assert_type(threaded, AsyncUploader[Any, Any])  # pyright: ignore[reportAssertTypeFailure]
    assert_type(inline, AsyncUploader[Any, Any])  # pyright: ignore[reportAssertTypeFailure]
