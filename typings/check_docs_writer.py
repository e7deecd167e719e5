"""The docs' ``Sha256Writer`` (README, "An example"), used as a reader would use it.

Issue 10: the writer first took ``opts: Mapping[str, object]``, and the
natural ``with Uploader(Sha256Writer(), {}) as up:`` failed mypy strict with
``Need type annotation for "up"`` (an empty dict literal binds no type). With
an options class, as the shipped writers have, every use below infers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import attrs
from typing_extensions import assert_type

from uploadwriter import (
    AsyncUploader,
    Chunk,
    CloseReason,
    Done,
    Err,
    InlineWriter,
    Ok,
    Uploader,
    UploadWriter,
)


@attrs.frozen
class Sha256Opts:
    expected: str | None = None


@attrs.frozen
class Sha256State:
    hasher: Any
    size: int
    expected: str | None


class Sha256Writer:
    def init(self, opts: Sha256Opts) -> Ok[Sha256State] | Err[None]:
        return Ok(Sha256State(hashlib.sha256(), 0, opts.expected))

    def meta(self, state: Sha256State) -> Mapping[str, object]:
        return {"sha256": state.hasher.hexdigest(), "size": state.size}

    def write_chunk(self, data: bytes, state: Sha256State) -> Ok[Sha256State] | Err[Sha256State]:
        hasher = state.hasher.copy()
        hasher.update(data)
        return Ok(attrs.evolve(state, hasher=hasher, size=state.size + len(data)))

    def close(self, state: Sha256State, reason: CloseReason) -> Ok[Sha256State] | Err[Sha256State]:
        if reason == Done() and state.expected not in (None, state.hasher.hexdigest()):
            return Err("the digest does not match", state)
        return Ok(state)


def natural_use() -> None:
    with Uploader(Sha256Writer(), Sha256Opts()) as up:
        up.send(Chunk(b"hello"))
        up.send(Done())
    assert_type(up, Uploader[Sha256Opts, Sha256State])
    assert_type(up.state, Sha256State)
    assert_type(up.meta(), Mapping[str, object])


def with_options_and_limits() -> None:
    with Uploader(Sha256Writer(), Sha256Opts(expected="00"), expected_size=5) as up:
        up.send(Chunk(b"hello"))
    assert_type(up, Uploader[Sha256Opts, Sha256State])


async def under_async() -> None:
    async with AsyncUploader(InlineWriter(Sha256Writer()), Sha256Opts()) as up:
        await up.send(Chunk(b"hello"))
    assert_type(up, AsyncUploader[Sha256Opts, Sha256State])


def as_the_protocol() -> None:
    writer: UploadWriter[Sha256Opts, Sha256State] = Sha256Writer()
    assert_type(writer.init(Sha256Opts()), Ok[Sha256State] | Err[None])
