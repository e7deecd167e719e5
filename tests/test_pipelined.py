"""``PipelinedWriter``: writes queued for a worker thread, and the lifecycle promises that hold.

On asyncio and trio: when a failed write is reported, what a later ``send``
does, close never overlapping a write, cancellation waiting for the running
callback, interruptions raised by a write carried back as values, the
back-pressure of the bounded queue.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest
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
    InitError,
    InvalidLimit,
    Ok,
    Pipeline,
    PipelinedWriter,
    UploadClosed,
    UploadFailed,
    WriterFailure,
)
from uploadwriter import _handoff as handoff
from uploadwriter.writers import TmpFileOpts, TmpFileWriter

from .recording import Answer, Call, RecordingWriter, RecState, err, ok, raises

pytestmark = pytest.mark.anyio

SLOW = 5.0  # far longer than anything here takes: reaching it means a test failed


async def _until(condition: Callable[[], bool]) -> None:
    """Wait until ``condition()`` holds (polling: the worker thread sets it)."""
    with anyio.fail_after(SLOW):
        while not condition():
            await anyio.sleep(0.002)


class Gated(RecordingWriter):
    """A recording writer whose writes wait at a gate, and which counts overlapping calls."""

    def __init__(
        self,
        *,
        init: list[Answer] | None = None,
        write: list[Answer] | None = None,
        close: list[Answer] | None = None,
    ) -> None:
        super().__init__(init=init or (), write=write or (), close=close or ())
        self.gate = threading.Event()
        self.gate.set()
        self._lock = threading.Lock()
        self._inside = 0
        self.overlaps = 0
        self.threads: set[str] = set()

    def _enter(self) -> None:
        with self._lock:
            self._inside += 1
            self.overlaps += self._inside > 1
            self.threads.add(threading.current_thread().name)

    def _leave(self) -> None:
        with self._lock:
            self._inside -= 1

    def write_chunk(self, data: bytes, state: RecState) -> Ok[RecState] | Err[RecState]:
        self._enter()
        try:
            assert self.gate.wait(SLOW)
            return super().write_chunk(data, state)
        finally:
            self._leave()

    def close(self, state: RecState, reason: CloseReason) -> Ok[RecState] | Err[RecState]:
        self._enter()
        try:
            return super().close(state, reason)
        finally:
            self._leave()


def _open_later(writer: Gated, seconds: float = 0.15) -> threading.Timer:
    timer = threading.Timer(seconds, writer.gate.set)
    timer.start()
    return timer


# --- the happy path ------------------------------------------------------------------------------


async def test_chunks_are_written_in_order_and_the_upload_completes() -> None:
    writer = Gated()
    chunks = [bytes([i % 256]) * (i % 7) for i in range(60)]
    async with AsyncUploader(PipelinedWriter(writer, max_queued=16), "opts") as up:
        for data in chunks:
            await up.send(Chunk(data))
        await up.send(Done())
    assert up.meta() == {"data": b"".join(chunks), "serial": 61}
    assert writer.names() == ["init"] + ["write_chunk"] * 60 + ["close", "meta"]
    assert writer.calls[0] == Call("init", opts="opts")
    assert [c.reason for c in writer.closes()] == [Done()]
    assert writer.overlaps == 0
    assert writer.threads <= {"uploadwriter-worker"}
    state = up.state
    assert isinstance(state, Pipeline)
    assert state.state == RecState(b"".join(chunks), 61)
    assert state.failure is None
    assert up.size == sum(map(len, chunks))
    assert "Pipeline of Gated" in repr(state)


async def test_send_returns_once_the_chunk_is_queued() -> None:
    writer = Gated()
    writer.gate.clear()
    async with AsyncUploader(PipelinedWriter(writer), None) as up:
        await up.send(Chunk(b"one"))
        await up.send(Chunk(b"two"))
        # Both sends have returned; the worker is still held in the first write.
        assert writer.finished == ["init"]
        assert up.size == 6
        writer.gate.set()
        await up.send(Done())
    assert up.meta()["data"] == b"onetwo"


async def test_a_full_queue_holds_the_sender_until_it_is_half_empty() -> None:
    writer = Gated()
    writer.gate.clear()
    returned: list[str] = []
    async with AsyncUploader(PipelinedWriter(writer, max_queued=4), None) as up:
        await up.send(Chunk(b"abcd"))  # fills the queue (a write takes it, and waits)

        async def send_more() -> None:
            await up.send(Chunk(b"ef"))
            returned.append("ef")

        async with anyio.create_task_group() as tg:
            tg.start_soon(send_more)
            await anyio.sleep(0.05)
            assert returned == []  # still waiting for room
            writer.gate.set()
        assert returned == ["ef"]
        await up.send(Done())
    assert up.meta()["data"] == b"abcdef"


async def test_a_chunk_larger_than_the_queue_goes_alone() -> None:
    writer = Gated()
    async with AsyncUploader(PipelinedWriter(writer, max_queued=2), None) as up:
        await up.send(Chunk(b"x" * 10))
        await up.send(Chunk(b"y" * 10))
        await up.send(Done())
    assert up.meta()["data"] == b"x" * 10 + b"y" * 10


# --- failures: when they are reported, and what follows ------------------------------------------


async def test_a_failed_write_is_reported_by_the_next_send() -> None:
    writer = Gated(write=[ok(), err("disk full")])
    async with AsyncUploader(PipelinedWriter(writer), None) as up:
        await up.send(Chunk(b"ab"))
        await up.send(Chunk(b"cd"))  # queued: its failure is not known yet
        # The wrapped writer is closed at once, with Error and the Err's state (L4).
        await _until(lambda: bool(writer.closes()))
        assert writer.closes() == [
            Call("close", state=RecState(b"abcd", 2), reason=Error("disk full"))
        ]
        with pytest.raises(WriterFailure) as info:
            await up.send(Chunk(b"ef"))  # never written
        assert info.value.reason == "disk full"
        assert info.value.during == "write_chunk"
        with pytest.raises(UploadClosed):
            await up.send(Chunk(b"gh"))
    assert writer.written() == b"abcd"
    assert len(writer.closes()) == 1
    assert up.failure is info.value
    with pytest.raises(UploadFailed):
        up.meta()


async def test_chunks_queued_behind_a_failed_write_are_never_written() -> None:
    writer = Gated(write=[err("disk full")])
    writer.gate.clear()
    async with AsyncUploader(PipelinedWriter(writer), None) as up:
        for data in (b"a", b"b", b"c"):
            await up.send(Chunk(data))
        writer.gate.set()
        await _until(lambda: up.state.failure is not None)
        with pytest.raises(WriterFailure):
            await up.send(Chunk(b"d"))
    assert writer.names() == ["init", "write_chunk", "close"]


async def test_a_failed_write_nobody_heard_of_fails_the_done() -> None:
    writer = Gated(write=[err("disk full")])
    async with AsyncUploader(PipelinedWriter(writer), None) as up:
        await up.send(Chunk(b"ab"))
        with pytest.raises(WriterFailure) as info:
            await up.send(Done())
    assert info.value.reason == "disk full"
    assert info.value.during == "close"
    assert [c.reason for c in writer.closes()] == [Error("disk full")]
    with pytest.raises(UploadFailed):
        up.meta()


async def test_a_failed_write_nobody_heard_of_is_raised_when_leaving_the_block() -> None:
    writer = Gated(write=[err("disk full")])

    async def upload() -> None:
        async with AsyncUploader(PipelinedWriter(writer), None) as up:
            await up.send(Chunk(b"ab"))
            await _until(lambda: up.state.failure is not None)

    with pytest.raises(WriterFailure) as info:
        await upload()
    assert info.value.reason == "disk full"
    assert [c.reason for c in writer.closes()] == [Error("disk full")]


async def test_an_exception_raised_by_a_write_is_the_failures_cause() -> None:
    boom = OSError("no space")
    writer = Gated(write=[raises(boom)])
    async with AsyncUploader(PipelinedWriter(writer), None) as up:
        await up.send(Chunk(b"ab"))
        await _until(lambda: up.state.failure is not None)
        with pytest.raises(WriterFailure) as info:
            await up.send(Chunk(b"cd"))
    assert info.value.__cause__ is boom
    assert writer.closes() == [Call("close", state=RecState(), reason=Error(boom))]


@pytest.mark.skipif(sys.version_info < (3, 11), reason="notes are Python 3.11+")
async def test_a_close_failing_after_a_failed_write_travels_as_a_note() -> None:
    writer = Gated(write=[err("disk full")], close=[err("close broke too")])
    async with AsyncUploader(PipelinedWriter(writer), None) as up:
        await up.send(Chunk(b"ab"))
        await _until(lambda: up.state.failure is not None)
        with pytest.raises(WriterFailure) as info:
            await up.send(Chunk(b"cd"))
    assert info.value.reason == "disk full"
    notes: list[str] = getattr(info.value, "__notes__", [])
    assert any("close broke too" in note for note in notes)


@pytest.mark.parametrize("exc", [GeneratorExit(), KeyboardInterrupt()])
async def test_an_interruption_raised_by_a_write_is_raised_by_the_next_send(
    exc: BaseException,
) -> None:
    writer = Gated(write=[raises(exc)])
    async with AsyncUploader(PipelinedWriter(writer), None) as up:
        await up.send(Chunk(b"ab"))
        await _until(lambda: up.state.failure is not None)
        with pytest.raises(type(exc)) as info:
            await up.send(Chunk(b"cd"))
    assert info.value is exc
    # The wrapped upload cancelled its writer (L11), once.
    assert [c.reason for c in writer.closes()] == [Cancel()]
    assert up.reason == Cancel()


@pytest.mark.parametrize("exc", [GeneratorExit(), KeyboardInterrupt()])
async def test_an_interruption_nobody_heard_of_is_raised_by_the_close(exc: BaseException) -> None:
    writer = Gated(write=[raises(exc)])

    async def upload() -> None:
        async with AsyncUploader(PipelinedWriter(writer), None) as up:
            await up.send(Chunk(b"ab"))
            await up.send(Done())

    with pytest.raises(type(exc)):
        await upload()
    assert [c.reason for c in writer.closes()] == [Cancel()]


async def test_a_close_that_fails_fails_the_upload() -> None:
    writer = Gated(close=[err("flush failed")])
    async with AsyncUploader(PipelinedWriter(writer), None) as up:
        await up.send(Chunk(b"ab"))
        with pytest.raises(WriterFailure) as info:
            await up.send(Done())
    assert info.value.reason == "flush failed"
    assert info.value.during == "close"
    assert len(writer.closes()) == 1


@pytest.mark.parametrize("exc", [OSError("flush"), KeyboardInterrupt()])
async def test_a_close_that_raises_is_not_closed_again(exc: BaseException) -> None:
    writer = Gated(close=[raises(exc)])
    with pytest.raises((WriterFailure, KeyboardInterrupt)):
        async with AsyncUploader(PipelinedWriter(writer), None) as up:
            await up.send(Done())
    assert len(writer.closes()) == 1


# --- close and cancellation ----------------------------------------------------------------------


async def test_close_waits_for_every_queued_write_and_never_overlaps_one() -> None:
    writer = Gated(write=[ok(delay=0.001) for _ in range(30)])
    async with AsyncUploader(PipelinedWriter(writer, max_queued=8), None) as up:
        for _ in range(30):
            await up.send(Chunk(b"abc"))
    # Leaving the block: close(Cancel) came after the 30 writes, alone.
    assert writer.names() == ["init"] + ["write_chunk"] * 30 + ["close"]
    assert [c.reason for c in writer.closes()] == [Cancel()]
    assert writer.overlaps == 0


async def test_a_sender_cancelled_while_waiting_for_room_leaves_its_chunk_unwritten() -> None:
    writer = Gated()
    writer.gate.clear()
    async with AsyncUploader(PipelinedWriter(writer, max_queued=2), None) as up:
        await up.send(Chunk(b"ab"))
        timer = _open_later(writer)
        with anyio.move_on_after(0.05) as scope:
            await up.send(Chunk(b"cd"))
        timer.join()
    assert scope.cancelled_caught
    assert writer.written() == b"ab"
    assert [c.reason for c in writer.closes()] == [Cancel()]
    assert up.size == 2


async def test_a_chunk_timeout_while_waiting_for_room() -> None:
    writer = Gated()
    writer.gate.clear()
    timer = _open_later(writer, 0.3)

    async def upload() -> None:
        async with AsyncUploader(
            PipelinedWriter(writer, max_queued=2), None, chunk_timeout=0.1
        ) as up:
            await up.send(Chunk(b"ab"))
            await up.send(Chunk(b"cd"))

    with pytest.raises(ChunkTimeout):
        await upload()
    timer.join()
    assert writer.written() == b"ab"
    assert [c.reason for c in writer.closes()] == [Cancel()]


async def test_an_init_cut_by_cancellation_still_gets_its_close() -> None:
    writer = Gated(init=[ok(delay=0.2)])
    scope = anyio.CancelScope()

    async def cancel_while_starting() -> None:
        await _until(lambda: "init" in writer.names())
        scope.cancel()

    async with anyio.create_task_group() as tg:
        tg.start_soon(cancel_while_starting)
        with scope:
            async with AsyncUploader(PipelinedWriter(writer), None):
                await anyio.sleep(SLOW)
    assert scope.cancelled_caught
    assert writer.names() == ["init", "close"]
    assert writer.closes()[0].reason == Cancel()


async def test_the_close_is_awaited_even_when_the_task_is_cancelled() -> None:
    writer = Gated()
    writer.gate.clear()
    scope = anyio.CancelScope()
    async with anyio.create_task_group() as tg:
        with scope:
            async with AsyncUploader(PipelinedWriter(writer), None) as up:
                await up.send(Chunk(b"ab"))

                async def cancel_then_open() -> None:
                    scope.cancel()
                    await anyio.sleep(0.05)
                    writer.gate.set()

                tg.start_soon(cancel_then_open)
                await anyio.sleep(SLOW)
    assert scope.cancelled_caught
    assert writer.names() == ["init", "write_chunk", "close"]
    assert up.size == 2


# --- init, options, hooks ------------------------------------------------------------------------


async def test_init_err_and_raise_refuse_the_upload() -> None:
    refused = Gated(init=[err("no room")])
    with pytest.raises(InitError) as info:
        async with AsyncUploader(PipelinedWriter(refused), None):
            pytest.fail("never runs")  # pragma: no cover
    assert info.value.reason == "no room"
    assert refused.names() == ["init"]
    interrupted = Gated(init=[raises(KeyboardInterrupt())])
    with pytest.raises(KeyboardInterrupt):
        async with AsyncUploader(PipelinedWriter(interrupted), None):
            pytest.fail("never runs")  # pragma: no cover
    assert interrupted.names() == ["init"]


async def test_another_loop_is_refused_at_init(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("uploadwriter._pipelined.answer_here", lambda: None)
    with pytest.raises(InitError, match="needs asyncio or trio"):
        async with AsyncUploader(PipelinedWriter(Gated()), None):
            pytest.fail("never runs")  # pragma: no cover


def test_max_queued_is_checked() -> None:
    with pytest.raises(TypeError, match="max_queued"):
        PipelinedWriter(RecordingWriter(), max_queued=1.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidLimit, match="max_queued must be 1 byte or more"):
        PipelinedWriter(RecordingWriter(), max_queued=0)
    with pytest.raises(TypeError, match="PipelinedWriter"):
        PipelinedWriter(object())  # type: ignore[arg-type]
    assert PipelinedWriter(RecordingWriter()).max_queued == 256 * 1024


async def test_meta_and_discard_reach_the_wrapped_writers_state(tmp_path: Path) -> None:
    writer = PipelinedWriter(TmpFileWriter())
    async with AsyncUploader(writer, TmpFileOpts(dir=tmp_path)) as up:
        await up.send(Chunk(b"hello"))
        await up.send(Done())
    path = Path(str(up.meta()["path"]))
    assert path.read_bytes() == b"hello"
    writer.discard(up.state)
    assert not path.exists()
    assert os.listdir(tmp_path) == []


async def test_many_uploads_at_once_share_the_worker_pool(tmp_path: Path) -> None:
    async def one(i: int) -> None:
        async with AsyncUploader(
            PipelinedWriter(TmpFileWriter(), max_queued=100), TmpFileOpts(dir=tmp_path)
        ) as up:
            for _ in range(20):
                await up.send(Chunk(bytes([i]) * 37))
            await up.send(Done())
        path = Path(str(up.meta()["path"]))
        assert path.read_bytes() == bytes([i]) * 37 * 20
        path.unlink()

    async with anyio.create_task_group() as tg:
        for i in range(handoff.MAX_WORKERS + 10):
            tg.start_soon(one, i)
    assert os.listdir(tmp_path) == []


# --- every stream: the wrapped writer's lifecycle, and no failure lost ---------------------------


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=9), max_size=10),
    fail_at=st.none() | st.integers(min_value=0, max_value=9),
    how=st.sampled_from(["err", "raise"]),
    end=st.sampled_from(["done", "cancel", "leave"]),
    max_queued=st.integers(min_value=1, max_value=20),
)
def test_any_stream_keeps_the_wrapped_writers_lifecycle(
    sizes: list[int], fail_at: int | None, how: str, end: str, max_queued: int
) -> None:
    boom = OSError("boom")
    script = [ok() for _ in sizes]
    if fail_at is not None and fail_at < len(sizes):
        script[fail_at] = err("boom") if how == "err" else raises(boom)
    else:
        fail_at = None
    writer = Gated(write=script)
    chunks = [bytes([65 + i]) * n for i, n in enumerate(sizes)]
    seen: list[BaseException] = []

    up = AsyncUploader(PipelinedWriter(writer, max_queued=max_queued), None)

    async def send(data: bytes) -> None:
        try:
            await up.send(Chunk(data))
        except (WriterFailure, UploadClosed) as exc:
            seen.append(exc)

    async def main() -> None:
        try:
            async with up:
                for data in chunks:
                    await send(data)
                if end != "leave":
                    await up.send(Done() if end == "done" else Cancel())
        except WriterFailure as exc:
            seen.append(exc)
        if fail_at is None and end == "done":
            assert up.meta()["data"] == b"".join(chunks)

    anyio.run(main)
    names = writer.names()
    # init, then writes in order, then exactly one close, never overlapping.
    assert names[0] == "init"
    assert names.count("close") == 1
    assert names[-1] in ("close", "meta")
    assert writer.overlaps == 0
    written = [c.data for c in writer.calls if c.name == "write_chunk"]
    if fail_at is None:
        assert written == chunks
        assert not seen
        expected = Done() if end == "done" else Cancel()
        assert [c.reason for c in writer.closes()] == [expected]
    else:
        # Written up to the failed write, nothing after it; the failure reached the caller.
        assert written == chunks[: fail_at + 1]
        failures = [e for e in seen if isinstance(e, WriterFailure)]
        assert len(failures) == 1
        reason = failures[0].reason
        assert reason == "boom" if how == "err" else reason is boom
        assert [c.reason for c in writer.closes()] == [Error(reason)]
