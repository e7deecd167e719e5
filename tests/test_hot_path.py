"""The per-chunk fast paths behave exactly as the table, and the values stay immutable records."""

from __future__ import annotations

import sys
from typing import Any, cast

import anyio
import attrs
import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from uploadwriter import (
    AsyncUploader,
    Cancel,
    Chunk,
    ChunkTimeout,
    CloseReason,
    Done,
    Err,
    Error,
    InlineWriter,
    Ok,
    WriterFailure,
)
from uploadwriter.reducer import (
    OPEN,
    TRANSITIONS,
    WRITING,
    Kind,
    Limits,
    Phase,
    Step,
    Upload,
    reduce,
    start,
)
from uploadwriter.writers import EchoOpts, EchoState, EchoWriter

sizes = st.none() | st.integers(min_value=0, max_value=200)


class SubChunk(Chunk):
    """A subclass: must take the table's (slow) route, with the same outcome."""


def same(a: Step[Any], b: Step[Any]) -> bool:
    """Equal steps, errors compared by type and message (each reduction builds its own)."""

    def plain(step: Step[Any]) -> tuple[object, ...]:
        upload = step.upload
        failure = upload.failure
        error = step.error
        return (
            upload.evolve(ending=None),
            upload.close_reason,
            step.call,
            (type(error), str(error)),
            (type(failure), str(failure)),
        )

    return plain(a) == plain(b)


@settings(max_examples=150)
@given(
    expected=sizes,
    maximum=sizes,
    written=st.integers(min_value=0, max_value=200),
    data=st.binary(max_size=120),
)
def test_chunk_and_ok_rows_match_the_table(
    expected: int | None, maximum: int | None, written: int, data: bytes
) -> None:
    limits = reduce(start(expected_size=expected, max_size=maximum), Ok("s")).upload.limits
    upload: Upload[str] = Upload(OPEN, "s", written, limits)
    chunk = Chunk(data)
    step = reduce(upload, chunk)
    assert same(step, TRANSITIONS[OPEN, Kind.CHUNK].handler(upload, chunk))
    subchunk = SubChunk(data)
    sub = reduce(upload, subchunk)
    assert same(sub, TRANSITIONS[OPEN, Kind.CHUNK].handler(upload, subchunk))
    assert sub.upload == step.upload or same(Step(sub.upload), Step(step.upload))
    assert type(sub.error) is type(step.error)
    if step.upload.phase is WRITING:
        assert step.call is chunk
        answer = Ok("s2")
        after = reduce(step.upload, answer)
        assert same(after, TRANSITIONS[WRITING, Kind.OK].handler(step.upload, answer))
        assert after.upload.size == written + len(data)
        assert after.upload.state == "s2"


def test_reduce_looks_rows_up_in_a_copy_built_from_the_table() -> None:
    # The fast path cannot drift from the table: reduce's rows are the
    # table's handlers, every one of them, and the table cannot be edited.
    from uploadwriter import reducer

    for phase in Phase:
        for kind in Kind:
            assert reducer._ROWS[phase][kind] is TRANSITIONS[phase, kind].handler
    with pytest.raises(TypeError):
        TRANSITIONS[OPEN, Kind.CHUNK] = TRANSITIONS[OPEN, Kind.DONE]  # type: ignore[index]


def test_upload_and_step_are_immutable_values() -> None:
    upload = Upload(OPEN, None, 3, Limits(None, None, None))
    with pytest.raises(AttributeError):
        upload.size = 4  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del upload.size
    step = Step(upload)
    with pytest.raises(AttributeError):
        step.call = None  # type: ignore[misc]
    assert hash(step) == hash(Step(Upload(OPEN, None, 3, Limits(None, None, None))))
    # Equal (and hashed) as values, but only to their own kind; not sequences.
    assert upload == Upload(OPEN, None, 3, Limits(None, None, None))
    assert hash(upload) == hash(Upload(OPEN, None, 3, Limits(None, None, None)))
    assert upload != Upload(OPEN, None, 4, Limits(None, None, None))
    assert upload != (OPEN, None, 3, Limits(None, None, None), 0, None)
    assert not isinstance(cast("object", upload), tuple)
    assert not isinstance(cast("object", step), tuple)
    with pytest.raises(TypeError):
        len(upload)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        upload[0]  # type: ignore[index]
    assert step == Step(upload, None, None)
    assert step != object()
    assert upload != object()
    assert upload.evolve(size=5).size == 5
    assert upload.size == 3
    match step:
        case Step(Upload(Phase.OPEN, None, size), None, None):
            assert size == 3
        case _:  # pragma: no cover - the pattern above must match
            pytest.fail("Step/Upload lost their match args")
    assert repr(upload).startswith("Upload(phase=open, state=None, size=3,")
    assert repr(step).startswith("Step(upload=Upload(phase=open,")


def test_chunk_still_copies_and_checks_its_data() -> None:
    buffer = bytearray(b"abc")
    chunk = Chunk(buffer)
    buffer[0] = ord("z")
    assert chunk.data == b"abc"
    assert type(chunk.data) is bytes
    assert attrs.evolve(chunk, data=memoryview(b"xy")).data == b"xy"
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        chunk.data = b""  # type: ignore[misc]


def test_chunk_timeout_follows_a_virtual_trio_clock() -> None:
    # The async driver reads the loop's clock directly (not anyio.current_time()
    # on every chunk): it must still be the loop's own clock, mock clocks included.
    writer: InlineWriter[EchoOpts, EchoState] = InlineWriter(EchoWriter())
    opts = EchoOpts(level="debug")

    async def main() -> None:
        async with AsyncUploader(writer, opts, chunk_timeout=10) as up:
            for _ in range(5):
                await trio.sleep(9)  # 45 virtual seconds, never 10 without a chunk
                await up.send(Chunk(b"x"))
            await up.send(Done())
        assert up.size == 5
        last_chunk = 0.0

        async def stall() -> None:
            nonlocal last_chunk
            async with AsyncUploader(writer, opts, chunk_timeout=10) as up:
                await up.send(Chunk(b"x"))
                last_chunk = trio.current_time()
                await trio.sleep(11)

        with pytest.raises(ChunkTimeout):
            await stall()
        # Fired after 10 virtual seconds without a chunk, at most 5% late.
        assert 10 <= trio.current_time() - last_chunk <= 10.5

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


class _Failing:
    """A sync writer whose write_chunk fails: by returning Err, or by raising."""

    def __init__(self, *, raises: bool) -> None:
        self.raises = raises
        self.closed: list[tuple[int, CloseReason]] = []

    def init(self, opts: None) -> Ok[int]:
        return Ok(0)

    def meta(self, state: int) -> dict[str, object]:
        return {}

    def write_chunk(self, data: bytes, state: int) -> Ok[int] | Err[int]:
        if self.raises:
            raise OSError("disk on fire")
        return Err("no room", state + 1)

    def close(self, state: int, reason: CloseReason) -> Ok[int]:
        self.closed.append((state, reason))
        return Ok(state)


@pytest.mark.anyio
@pytest.mark.parametrize("raises", [False, True])
async def test_inline_writes_keep_the_lifecycle(raises: bool) -> None:
    # The driver calls an InlineWriter's sync writer directly (no coroutine):
    # failures must still close the writer with Error (L4, L11).
    sync = _Failing(raises=raises)
    with pytest.raises(WriterFailure) as info:
        async with AsyncUploader(InlineWriter(sync), None, chunk_timeout=5) as up:
            await up.send(Chunk(b"x"))
    assert info.value.during == "write_chunk"
    assert len(sync.closed) == 1
    state, reason = sync.closed[0]
    assert isinstance(reason, Error)
    if raises:
        assert isinstance(reason.reason, OSError)
        assert state == 0  # the last good state (L11)
    else:
        assert reason.reason == "no room"
        assert state == 1  # the state from the Err (L4)


class _SlowInline(InlineWriter[None, int]):
    """A subclass that does suspend in write_chunk: it must be timed like any async writer."""

    async def write_chunk(self, data: bytes, state: int) -> Ok[int] | Err[int]:
        await anyio.sleep(1)
        return Ok(state)


@pytest.mark.anyio
async def test_a_suspending_inline_writer_subclass_is_still_timed() -> None:
    sync = _Failing(raises=False)
    with pytest.raises(ChunkTimeout):
        async with AsyncUploader(_SlowInline(sync), None, chunk_timeout=0.05) as up:
            await up.send(Chunk(b"x"))
    assert [type(reason) for _, reason in sync.closed] == [Cancel]


@pytest.mark.anyio
async def test_inline_writer_still_answers_when_awaited() -> None:
    # Other drivers (and users) await InlineWriter's callbacks as any async writer's.
    writer = InlineWriter(_Failing(raises=False))
    assert await writer.write_chunk(b"x", 0) == Err("no room", 1)


@pytest.mark.anyio
async def test_the_loop_clock_falls_back_to_anyio(monkeypatch: pytest.MonkeyPatch) -> None:
    # A loop whose clock is not anyio's (none of the candidates agrees with
    # anyio.current_time()): the driver then reads anyio.current_time() itself.
    from uploadwriter import _deadline

    class Stranger:
        @staticmethod
        def current_time() -> float:
            raise RuntimeError("not running")

    class OtherLoop:
        @staticmethod
        def time() -> float:
            return -1.0

    monkeypatch.setitem(sys.modules, "trio", Stranger)
    monkeypatch.setattr("uploadwriter._deadline.asyncio.get_running_loop", OtherLoop)
    assert _deadline._loop_clock() is anyio.current_time
