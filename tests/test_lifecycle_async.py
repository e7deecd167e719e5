"""The lifecycle rules L1-L14 of DESIGN.md, through ``AsyncUploader`` on asyncio and trio."""

# Tests are named after the rule they check (test_L5_...), as DESIGN.md numbers them.
# ruff: noqa: N802

from __future__ import annotations

import math
import sys
from collections.abc import Callable

import anyio
import pytest

from uploadwriter import (
    AsyncUploader,
    Cancel,
    Chunk,
    ChunkTimeout,
    Done,
    Error,
    FileTooLarge,
    IncompleteUpload,
    InitError,
    InlineWriter,
    InvalidEvent,
    InvalidLimit,
    ThreadedWriter,
    UploadBusy,
    UploadClosed,
    UploadFailed,
    UploadInProgress,
    WriterFailure,
)
from uploadwriter.reducer import Phase

from .recording import AsyncRecordingWriter, Call, RecordingWriter, RecState, err, ok, raises

pytestmark = pytest.mark.anyio

# Small chunk timeouts keep the suite fast; generous upper bounds on elapsed
# times keep it stable on a loaded machine.
TIMEOUT = 0.1
SLOW = 5.0  # far longer than any timeout here: reaching it means a test failed


class Boom(Exception):
    """An exception raised by the caller's own code inside the ``async with`` block."""


# --- L1: init ---------------------------------------------------------------------------


async def test_L1_init_called_once_with_opts() -> None:
    writer = AsyncRecordingWriter()
    async with AsyncUploader(writer, {"opt": 1}) as up:
        assert writer.calls == [Call("init", opts={"opt": 1})]
        assert up.phase is Phase.OPEN
    assert writer.names() == ["init", "close"]


async def test_L1_init_err_never_starts_the_upload() -> None:
    writer = AsyncRecordingWriter(init=[err("no room")])
    up = AsyncUploader(writer, None)
    with pytest.raises(InitError) as info:
        async with up:
            pytest.fail("the block must not run")  # pragma: no cover
    assert info.value.reason == "no room"
    assert writer.names() == ["init"]
    with pytest.raises(UploadFailed):
        up.meta()
    with pytest.raises(UploadClosed):
        await up.send(Chunk(b"late"))
    assert writer.names() == ["init"]


async def test_L1_init_raising_is_init_error_with_cause() -> None:
    boom = OSError("no such dir")
    writer = AsyncRecordingWriter(init=[raises(boom)])
    with pytest.raises(InitError) as info:
        async with AsyncUploader(writer, None):
            pass  # pragma: no cover
    assert info.value.__cause__ is boom
    assert writer.names() == ["init"]


async def test_L1_an_async_uploader_runs_one_upload() -> None:
    writer = AsyncRecordingWriter()
    up = AsyncUploader(writer, None)
    async with up:
        await up.send(Done())
    with pytest.raises(UploadBusy, match="single upload"):
        async with up:
            pass  # pragma: no cover
    assert writer.names() == ["init", "close"]


# --- L2: the size limit ---------------------------------------------------------------------


async def test_L2_chunk_past_the_limit_is_not_written() -> None:
    writer = AsyncRecordingWriter()
    async with AsyncUploader(writer, None, expected_size=5, max_size=100) as up:
        await up.send(Chunk(b"abc"))
        with pytest.raises(FileTooLarge) as info:
            await up.send(Chunk(b"def"))
    assert info.value.limit == 5
    assert writer.written() == b"abc"
    assert [c.reason for c in writer.closes()] == [Cancel()]


# --- L3: write Ok ----------------------------------------------------------------------------


async def test_L3_expected_size_reached_closes_with_done_at_once() -> None:
    writer = AsyncRecordingWriter()
    async with AsyncUploader(writer, None, expected_size=4) as up:
        await up.send(Chunk(b"ab"))
        assert up.size == 2
        assert up.state == RecState(b"ab", 1)
        await up.send(Chunk(b"cd"))
        assert up.reason == Done()
    assert writer.closes() == [Call("close", state=RecState(b"abcd", 2), reason=Done())]
    assert up.meta() == {"data": b"abcd", "serial": 3}


# --- L4: write Err ----------------------------------------------------------------------------


async def test_L4_write_err_closes_with_error_and_the_err_state() -> None:
    failed_state = RecState(b"half", 99)
    writer = AsyncRecordingWriter(write=[err("disk full", state=failed_state)])
    async with AsyncUploader(writer, None) as up:
        with pytest.raises(WriterFailure) as info:
            await up.send(Chunk(b"ab"))
    assert info.value.reason == "disk full"
    assert writer.closes() == [Call("close", state=failed_state, reason=Error("disk full"))]


# --- L5: close exactly once --------------------------------------------------------------------


async def test_L5_close_exactly_once_when_body_raises() -> None:
    writer = AsyncRecordingWriter()

    async def handler() -> None:
        async with AsyncUploader(writer, None) as up:
            await up.send(Chunk(b"abc"))
            raise Boom

    with pytest.raises(Boom):
        await handler()
    assert writer.closes() == [Call("close", state=RecState(b"abc", 1), reason=Cancel())]


async def test_L5_close_exactly_once_when_the_task_is_cancelled_mid_body() -> None:
    writer = AsyncRecordingWriter(close=[ok(delay=0.02)])
    with anyio.move_on_after(0.05) as scope:
        async with AsyncUploader(writer, None, chunk_timeout=SLOW) as up:
            await up.send(Chunk(b"abc"))
            await anyio.sleep(SLOW)
    assert scope.cancelled_caught
    assert [c.reason for c in writer.closes()] == [Cancel()]
    assert writer.finished.count("close") == 1  # the shielded close ran to its end


async def test_L5_close_exactly_once_when_the_task_is_cancelled_mid_write() -> None:
    writer = AsyncRecordingWriter(write=[ok(), ok(delay=SLOW)], close=[ok(delay=0.02)])
    with anyio.move_on_after(0.05) as scope:
        async with AsyncUploader(writer, None, chunk_timeout=SLOW) as up:
            await up.send(Chunk(b"ab"))
            await up.send(Chunk(b"cd"))
    assert scope.cancelled_caught
    # The interrupted write never answered: close gets the last good state.
    assert writer.closes() == [Call("close", state=RecState(b"ab", 1), reason=Cancel())]
    assert writer.finished.count("close") == 1
    assert up.size == 2
    assert up.failure is not None
    assert isinstance(up.failure, anyio.get_cancelled_exc_class())


async def test_L5_close_exactly_once_when_a_task_group_is_cancelled() -> None:
    writers = [AsyncRecordingWriter(close=[ok(delay=0.01)]) for _ in range(3)]

    async def one(writer: AsyncRecordingWriter) -> None:
        async with AsyncUploader(writer, None) as up:
            await up.send(Chunk(b"x"))
            await anyio.sleep(SLOW)

    async with anyio.create_task_group() as tg:
        for writer in writers:
            tg.start_soon(one, writer)
        await anyio.sleep(0.05)
        tg.cancel_scope.cancel()
    for writer in writers:
        assert [c.reason for c in writer.closes()] == [Cancel()]
        assert writer.finished.count("close") == 1


async def test_L5_a_threaded_init_cut_by_cancellation_still_gets_its_close() -> None:
    # The worker thread is not abandoned: its Ok means the upload started, so
    # it is closed exactly once (nothing leaks, e.g. a temp file).
    writer = RecordingWriter(init=[ok(delay=0.2)])
    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as tg:

            async def cancel_while_starting() -> None:
                await _until(lambda: "init" in writer.names())
                scope.cancel()

            tg.start_soon(cancel_while_starting)
            async with AsyncUploader(ThreadedWriter(writer), None):
                await anyio.sleep(SLOW)
    assert scope.cancelled_caught
    assert writer.names() == ["init", "close"]
    assert writer.closes()[0].reason == Cancel()


async def test_L5_an_async_init_cut_by_cancellation_never_started() -> None:
    writer = AsyncRecordingWriter(init=[ok(delay=SLOW)])
    with anyio.move_on_after(0.05) as scope:
        async with AsyncUploader(writer, None):
            pytest.fail("the block must not run")  # pragma: no cover
    assert scope.cancelled_caught
    assert writer.names() == ["init"]  # init never answered: no close (L1)


# --- L6: close(Done) Err ------------------------------------------------------------------------


async def test_L6_close_done_err_fails_the_upload() -> None:
    writer = AsyncRecordingWriter(close=[err("flush failed")])
    async with AsyncUploader(writer, None) as up:
        with pytest.raises(WriterFailure) as info:
            await up.send(Done())
    assert info.value.during == "close"
    assert len(writer.closes()) == 1
    with pytest.raises(UploadFailed):
        up.meta()
    assert "meta" not in writer.names()


# --- L7: Done event ------------------------------------------------------------------------------


async def test_L7_done_without_expected_size_closes_with_done() -> None:
    writer = AsyncRecordingWriter()
    async with AsyncUploader(writer, None) as up:
        await up.send(Chunk(b"abc"))
        await up.send(Done())
    assert [c.reason for c in writer.closes()] == [Done()]
    assert up.meta()["data"] == b"abc"


async def test_L7_done_before_expected_size_is_incomplete() -> None:
    writer = AsyncRecordingWriter()
    async with AsyncUploader(writer, None, expected_size=10) as up:
        await up.send(Chunk(b"abc"))
        with pytest.raises(IncompleteUpload):
            await up.send(Done())
    assert [c.reason for c in writer.closes()] == [Cancel()]


# --- L8: Cancel, and Done/Cancel after close ----------------------------------------------------


async def test_L8_cancel_closes_and_later_done_or_cancel_change_nothing() -> None:
    writer = AsyncRecordingWriter()
    async with AsyncUploader(writer, None) as up:
        await up.send(Cancel())
        before = up.upload
        await up.send(Done())
        await up.send(Cancel())
        assert up.upload == before
    assert writer.names() == ["init", "close"]
    assert writer.closes()[0].reason == Cancel()


# --- L9: Chunk after close ---------------------------------------------------------------------


async def test_L9_chunk_after_close_is_refused() -> None:
    writer = AsyncRecordingWriter()
    async with AsyncUploader(writer, None) as up:
        await up.send(Done())
        with pytest.raises(UploadClosed):
            await up.send(Chunk(b"late"))
    assert writer.names() == ["init", "close"]


# --- L10: leaving the block -----------------------------------------------------------------------


async def test_L10_leaving_the_block_normally_cancels() -> None:
    writer = AsyncRecordingWriter()
    async with AsyncUploader(writer, None) as up:
        await up.send(Chunk(b"abc"))
    assert up.reason == Cancel()
    assert [c.reason for c in writer.closes()] == [Cancel()]


async def test_L10_leaving_by_exception_cancels_and_keeps_the_exception() -> None:
    writer = AsyncRecordingWriter()
    with pytest.raises(Boom):
        async with AsyncUploader(writer, None):
            raise Boom
    assert [c.reason for c in writer.closes()] == [Cancel()]


async def test_L10_cancel_on_exit_is_shielded_and_completes() -> None:
    writer = AsyncRecordingWriter(close=[ok(delay=0.1)])
    with anyio.CancelScope() as scope:
        async with AsyncUploader(writer, None) as up:
            await up.send(Chunk(b"abc"))
            scope.cancel()
            await anyio.sleep(SLOW)
    assert writer.finished == ["init", "write_chunk", "close"]
    assert up.reason == Cancel()


async def test_L10_exit_cancel_failure_is_raised_when_the_block_succeeded() -> None:
    writer = AsyncRecordingWriter(close=[err("cannot remove")])
    with pytest.raises(WriterFailure):
        async with AsyncUploader(writer, None):
            pass
    assert len(writer.closes()) == 1


@pytest.mark.skipif(sys.version_info < (3, 11), reason="exception notes are Python 3.11+")
async def test_L10_exit_cancel_failure_is_noted_on_the_callers_exception() -> None:
    writer = AsyncRecordingWriter(close=[raises(OSError("cannot remove"))])
    with pytest.raises(Boom) as info:
        async with AsyncUploader(writer, None):
            raise Boom
    assert "cannot remove" in getattr(info.value, "__notes__", [""])[0]


# --- L11: raising callbacks ---------------------------------------------------------------------


async def test_L11_raising_write_closes_with_error_and_chains_the_exception() -> None:
    boom = OSError("disk on fire")
    writer = AsyncRecordingWriter(write=[ok(), raises(boom)])
    async with AsyncUploader(writer, None) as up:
        await up.send(Chunk(b"ab"))
        with pytest.raises(WriterFailure) as info:
            await up.send(Chunk(b"cd"))
    assert info.value.__cause__ is boom
    assert writer.closes() == [Call("close", state=RecState(b"ab", 1), reason=Error(boom))]


async def test_L11_keyboard_interrupt_in_write_chunk_cancels_and_propagates() -> None:
    interrupt = KeyboardInterrupt()
    writer = AsyncRecordingWriter(write=[raises(interrupt)])
    async with AsyncUploader(writer, None) as up:
        with pytest.raises(KeyboardInterrupt) as info:
            await up.send(Chunk(b"ab"))
    assert info.value is interrupt
    assert [c.reason for c in writer.closes()] == [Cancel()]


async def test_L11_raising_close_is_not_closed_again() -> None:
    boom = OSError("flush failed")
    writer = AsyncRecordingWriter(close=[raises(boom)])
    async with AsyncUploader(writer, None) as up:
        with pytest.raises(WriterFailure) as info:
            await up.send(Done())
    assert info.value.__cause__ is boom
    assert len(writer.closes()) == 1


# --- L12: meta --------------------------------------------------------------------------------


async def test_L12_meta_in_progress_then_available_after_done() -> None:
    writer = AsyncRecordingWriter()
    up = AsyncUploader(writer, None)
    with pytest.raises(UploadInProgress):
        up.meta()
    async with up:
        with pytest.raises(UploadInProgress):
            up.meta()
        await up.send(Chunk(b"abc"))
        await up.send(Done())
    assert up.meta() == {"data": b"abc", "serial": 2}


async def test_L12_meta_failed_after_cancel() -> None:
    async with AsyncUploader(AsyncRecordingWriter(), None) as up:
        await up.send(Chunk(b"abc"))
    with pytest.raises(UploadFailed):
        up.meta()


# --- L13: chunk timeout -----------------------------------------------------------------------


async def test_L13_timeout_from_the_start_when_no_byte_is_ever_sent() -> None:
    writer = AsyncRecordingWriter()
    started = anyio.current_time()
    with pytest.raises(ChunkTimeout) as info:
        async with AsyncUploader(writer, None, chunk_timeout=TIMEOUT) as up:
            await anyio.sleep(SLOW)
    elapsed = anyio.current_time() - started
    assert TIMEOUT <= elapsed < SLOW / 2
    assert info.value.seconds == TIMEOUT
    assert writer.names() == ["init", "close"]
    assert writer.closes()[0].reason == Cancel()
    assert up.size == 0
    with pytest.raises(UploadFailed) as failed:
        up.meta()
    assert failed.value.failure is info.value


async def test_L13_timeout_between_chunks() -> None:
    writer = AsyncRecordingWriter()
    up = AsyncUploader(writer, None, chunk_timeout=TIMEOUT)

    async def handler() -> None:
        async with up:
            await up.send(Chunk(b"ab"))
            await up.send(Chunk(b"cd"))
            await anyio.sleep(SLOW)

    with pytest.raises(ChunkTimeout):
        await handler()
    assert writer.closes() == [Call("close", state=RecState(b"abcd", 2), reason=Cancel())]
    assert up.size == 4


async def test_L13_timeout_during_a_slow_write() -> None:
    writer = AsyncRecordingWriter(write=[ok(delay=SLOW)], close=[ok(delay=0.02)])
    with pytest.raises(ChunkTimeout):
        async with AsyncUploader(writer, None, chunk_timeout=TIMEOUT) as up:
            await up.send(Chunk(b"ab"))
    assert writer.closes() == [Call("close", state=RecState(), reason=Cancel())]
    assert writer.finished == ["init", "close"]  # the write never finished; close did
    assert up.size == 0


async def test_L13_a_write_timeout_unwinds_the_body_and_the_block_raises() -> None:
    # Like anyio.fail_after: the rest of the body is cancelled, the writer is
    # closed, and ChunkTimeout comes out of the block, where the caller can
    # handle it (tell the client, say) without being cancelled itself.
    writer = AsyncRecordingWriter(write=[ok(delay=SLOW)])
    steps: list[str] = []
    up = AsyncUploader(writer, None, chunk_timeout=TIMEOUT)

    async def handler() -> None:
        async with up:
            try:
                await up.send(Chunk(b"ab"))
            finally:
                steps.append("unwound")
            steps.append("not reached")

    with pytest.raises(ChunkTimeout) as info:
        await handler()
    await anyio.sleep(TIMEOUT * 2)  # nothing is left cancelled after the block
    steps.append("handled")
    assert steps == ["unwound", "handled"]
    assert [c.reason for c in writer.closes()] == [Cancel()]
    assert up.failure is info.value
    assert up.size == 0  # the interrupted write does not count


async def test_L13_chunks_in_time_keep_the_upload_alive() -> None:
    timeout = 0.3
    writer = AsyncRecordingWriter()
    started = anyio.current_time()
    async with AsyncUploader(writer, None, chunk_timeout=timeout) as up:
        for _ in range(20):
            await anyio.sleep(0.02)
            await up.send(Chunk(b"x"))
        await up.send(Done())
    assert anyio.current_time() - started > timeout  # longer than one timeout in all
    assert up.meta()["data"] == b"x" * 20


async def test_L13_a_closed_upload_is_not_timed_out() -> None:
    writer = AsyncRecordingWriter()
    async with AsyncUploader(writer, None, chunk_timeout=TIMEOUT) as up:
        await up.send(Done())
        await anyio.sleep(TIMEOUT * 3)  # the caller's own work after the upload
    assert writer.names() == ["init", "close"]
    assert up.meta()["data"] == b""


async def test_L13_no_timeout_when_chunk_timeout_is_none() -> None:
    boom = OSError("disk full")
    writer = AsyncRecordingWriter(write=[ok(delay=0.05), raises(boom)])
    async with AsyncUploader(writer, None, chunk_timeout=None) as up:
        await anyio.sleep(0.05)
        await up.send(Chunk(b"ab"))
        with pytest.raises(WriterFailure) as info:
            await up.send(Chunk(b"cd"))
    assert info.value.__cause__ is boom
    assert up.size == 2
    assert writer.closes() == [Call("close", state=RecState(b"ab", 1), reason=Error(boom))]


async def test_L13_timeout_does_not_hide_a_callers_exception() -> None:
    writer = AsyncRecordingWriter()
    with pytest.raises(Boom):
        async with AsyncUploader(writer, None, chunk_timeout=SLOW):
            raise Boom
    assert [c.reason for c in writer.closes()] == [Cancel()]


# --- L14: bad input ---------------------------------------------------------------------------


async def test_L14_bytearray_and_memoryview_are_copied() -> None:
    writer = AsyncRecordingWriter()
    buffer = bytearray(b"abc")
    async with AsyncUploader(writer, None) as up:
        await up.send(Chunk(buffer))
        buffer[:] = b"XYZ"
        await up.send(Chunk(memoryview(buffer)))
        buffer[:] = b"123"
        await up.send(Done())
    assert up.meta()["data"] == b"abcXYZ"


async def test_L14_bad_input_calls_nothing_and_loses_nothing() -> None:
    writer = AsyncRecordingWriter()
    async with AsyncUploader(writer, None) as up:
        await up.send(Chunk(b"ab"))
        with pytest.raises(InvalidEvent):
            await up.send("text")  # type: ignore[arg-type]  # the mistake under test
        await up.send(Chunk(b"cd"))
        await up.send(Done())
    assert writer.names() == ["init", "write_chunk", "write_chunk", "close"]
    assert up.meta()["data"] == b"abcd"


@pytest.mark.parametrize(
    ("timeout", "error"),
    [
        (0, InvalidLimit),
        (-1.0, InvalidLimit),
        (math.nan, InvalidLimit),
        ("10", TypeError),
        (True, TypeError),
    ],
)
async def test_L14_bad_chunk_timeout_is_refused(timeout: object, error: type[Exception]) -> None:
    writer = AsyncRecordingWriter()
    with pytest.raises(error, match="chunk_timeout"):
        AsyncUploader(writer, None, chunk_timeout=timeout)  # type: ignore[arg-type]
    assert writer.calls == []


# --- concurrency and the adapters ----------------------------------------------------------


async def test_a_chunk_or_done_while_a_write_is_pending_is_busy_and_changes_nothing() -> None:
    gate = anyio.Event()
    writer = AsyncRecordingWriter(write=[ok(gate=gate)])
    refused: list[BaseException] = []
    async with AsyncUploader(writer, None) as up:

        async def attempt(event: Chunk | Done) -> None:
            try:
                await up.send(event)
            except UploadBusy as exc:
                refused.append(exc)

        async def second() -> None:
            await _until(lambda: "write_chunk" in writer.names())
            for event in (Chunk(b"other"), Done()):
                await attempt(event)
            gate.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(second)
            await up.send(Chunk(b"first"))
        await up.send(Done())
    assert len(refused) == 2
    assert "write_chunk has not answered yet" in str(refused[0])
    assert writer.names() == ["init", "write_chunk", "close"]
    assert up.meta()["data"] == b"first"


async def _until(condition: Callable[[], bool]) -> None:
    """Wait until ``condition()`` holds (polling: it may be set by a worker thread)."""
    with anyio.fail_after(SLOW):
        while not condition():
            await anyio.sleep(0.005)


@pytest.mark.parametrize("adapter", [ThreadedWriter, InlineWriter])
async def test_a_sync_writer_through_an_adapter(
    adapter: type[ThreadedWriter[object, RecState]] | type[InlineWriter[object, RecState]],
) -> None:
    writer = RecordingWriter(write=[ok(), err("full")])
    async with AsyncUploader(adapter(writer), "opts") as up:
        await up.send(Chunk(b"ab"))
        with pytest.raises(WriterFailure):
            await up.send(Chunk(b"cd"))
    assert writer.names() == ["init", "write_chunk", "write_chunk", "close"]
    assert writer.calls[0].opts == "opts"
    done = RecordingWriter()
    async with AsyncUploader(adapter(done), None) as up2:
        await up2.send(Chunk(b"xyz"))
        await up2.send(Done())
    assert up2.meta() == {"data": b"xyz", "serial": 2}


async def test_threaded_write_cut_by_cancellation_finishes_and_counts() -> None:
    writer = RecordingWriter(write=[ok(delay=0.2)])
    with anyio.CancelScope() as scope:
        async with AsyncUploader(ThreadedWriter(writer), None) as up:

            async def cancel_while_writing() -> None:
                await _until(lambda: "write_chunk" in writer.names())
                scope.cancel()

            async with anyio.create_task_group() as tg:
                tg.start_soon(cancel_while_writing)
                await up.send(Chunk(b"abc"))
                await anyio.sleep(SLOW)
    assert scope.cancelled_caught
    # The worker thread was not abandoned: its Ok counted before the cancel.
    assert up.size == 3
    assert writer.closes() == [Call("close", state=RecState(b"abc", 1), reason=Cancel())]
