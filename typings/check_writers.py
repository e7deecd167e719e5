"""Synchronous writers mypy accepts, and the types ``Uploader`` infers from them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict

import attrs
from typing_extensions import assert_type

from uploadwriter import (
    Cancel,
    Chunk,
    CloseReason,
    Done,
    Err,
    Error,
    Ok,
    Uploader,
    UploadWriter,
)
from uploadwriter.reducer import Phase, Upload
from uploadwriter.writers import (
    EchoOpts,
    EchoState,
    EchoWriter,
    TmpFileOpts,
    TmpFileState,
    TmpFileWriter,
)


class CountOpts(TypedDict):
    limit: int


@attrs.frozen
class Count:
    total: int
    chunks: tuple[bytes, ...] = ()


class CountingWriter:
    """Fully annotated, with an attrs frozen state: the idiom."""

    def init(self, opts: CountOpts) -> Ok[Count] | Err[None]:
        if opts["limit"] < 0:
            return Err("negative limit", None)
        return Ok(Count(0))

    def meta(self, state: Count) -> Mapping[str, object]:
        return {"total": state.total}

    def write_chunk(self, data: bytes, state: Count) -> Ok[Count] | Err[Count]:
        if state.total + len(data) > 100:
            return Err("too much", state)
        return Ok(attrs.evolve(state, total=state.total + len(data), chunks=(*state.chunks, data)))

    def close(self, state: Count, reason: CloseReason) -> Ok[Count] | Err[Count]:
        match reason:
            case Done():
                return Ok(state)
            case Cancel():
                return Ok(Count(0))
            case Error(why):
                return Err(why, state)


class NarrowWriter:
    """Returns only ``Ok`` (narrower is fine); state a plain ``int``, opts ``None``."""

    def init(self, opts: None) -> Ok[int]:
        return Ok(0)

    def meta(self, state: int) -> dict[str, int]:
        return {"size": state}

    def write_chunk(self, data: bytes, state: int) -> Ok[int]:
        return Ok(state + len(data))

    def close(self, state: int, reason: object) -> Ok[int]:
        return Ok(state)


class DeclaredWriter(UploadWriter[CountOpts, Count]):
    """Subclassing the protocol explicitly: mypy then checks each method where it is defined."""

    def init(self, opts: CountOpts) -> Ok[Count] | Err[None]:
        return Ok(Count(opts["limit"]))

    def meta(self, state: Count) -> Mapping[str, object]:
        return {}

    def write_chunk(self, data: bytes, state: Count) -> Ok[Count] | Err[Count]:
        return Ok(state)

    def close(self, state: Count, reason: CloseReason) -> Ok[Count] | Err[Count]:
        return Ok(state)


def uploader_binds_opts_and_state() -> None:
    up = Uploader(CountingWriter(), CountOpts(limit=10))
    assert_type(up, Uploader[CountOpts, Count])
    assert_type(up.state, Count)
    with up as entered:
        assert_type(entered, Uploader[CountOpts, Count])
        entered.send(Chunk(b"abc"))
        entered.send(Done())
        entered.send(Cancel())
    assert_type(up.size, int)
    assert_type(up.reason, Done | Cancel | Error | None)
    assert_type(up.phase, Phase)
    assert_type(up.upload, Upload[Count])
    assert_type(up.upload.state, Count)
    assert_type(up.failure, BaseException | None)
    assert_type(up.meta(), Mapping[str, object])


def opts_as_annotated_variable() -> None:
    opts: CountOpts = {"limit": 10}
    assert_type(Uploader(CountingWriter(), opts), Uploader[CountOpts, Count])


def opts_as_dict_literal_with_explicit_parameters() -> None:
    # mypy cannot infer a TypedDict from a bare dict literal passed where a
    # type variable is expected (python/mypy#19201): name the opts type, or
    # the Uploader's parameters, as here.
    up = Uploader[CountOpts, Count](CountingWriter(), {"limit": 10})
    assert_type(up, Uploader[CountOpts, Count])


def narrower_writer() -> None:
    up = Uploader(NarrowWriter(), None, expected_size=10, max_size=100)
    assert_type(up, Uploader[None, int])
    assert_type(up.state, int)


def writer_typed_as_the_protocol() -> None:
    writer: UploadWriter[CountOpts, Count] = CountingWriter()
    assert_type(Uploader(writer, CountOpts(limit=1)), Uploader[CountOpts, Count])
    assert_type(Uploader(DeclaredWriter(), CountOpts(limit=1)), Uploader[CountOpts, Count])


def shipped_writers() -> None:
    tmp = Uploader(TmpFileWriter(), TmpFileOpts(dir="/tmp", suffix=".jpg"))
    assert_type(tmp, Uploader[TmpFileOpts, TmpFileState])
    assert_type(tmp.state, TmpFileState)
    assert_type(Uploader(TmpFileWriter(), TmpFileOpts()), Uploader[TmpFileOpts, TmpFileState])
    echo = Uploader(EchoWriter(), EchoOpts(level="debug"))
    assert_type(echo, Uploader[EchoOpts, EchoState])
    assert_type(echo.state, EchoState)
    assert_type(Uploader(EchoWriter(), EchoOpts(level=10)), Uploader[EchoOpts, EchoState])
    tmp_writer: UploadWriter[TmpFileOpts, TmpFileState] = TmpFileWriter()
    echo_writer: UploadWriter[EchoOpts, EchoState] = EchoWriter()
