"""The lifecycle promise when the drivers are used as a busy server uses them (issue 9).

Several tasks share an upload, the chunk timeout fires at awkward moments,
callbacks hang or raise odd exceptions, the block is left from another task.
Whatever happens: every writer whose ``init`` answered ``Ok`` is closed
exactly once, with the right reason, and the body of the block is never
skipped silently.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest

from uploadwriter import (
    AsyncUploader,
    Cancel,
    Chunk,
    ChunkTimeout,
    CloseReason,
    Done,
    Err,
    InvalidEvent,
    Ok,
    ThreadedWriter,
    UploadBusy,
    Uploader,
    UploadFailed,
)
from uploadwriter.reducer import Phase

from .recording import AsyncRecordingWriter, Call, RecordingWriter, RecState, ok

pytestmark = pytest.mark.anyio

TIMEOUT = 0.1
SLOW = 5.0  # far longer than any timeout here: reaching it means a test failed


async def _until(condition: Callable[[], bool]) -> None:
    """Wait until ``condition()`` holds (polling: it may be set by a worker thread)."""
    with anyio.fail_after(SLOW):
        while not condition():
            await anyio.sleep(0.002)


# --- 1. a chunk timeout during the last write or during close(Done()) ------------------------


async def test_a_timeout_during_the_last_threaded_write_is_a_chunk_timeout_not_a_skip() -> None:
    # The write runs in a worker thread that cannot be interrupted: it
    # completes after the deadline. The timeout happened: the writer is closed
    # with Cancel() (its state from the completed write), and ChunkTimeout
    # comes out of the block; the body is never left silently.
    writer = RecordingWriter(write=[ok(delay=TIMEOUT * 3)])
    steps: list[str] = []
    up = AsyncUploader(ThreadedWriter(writer), None, expected_size=3, chunk_timeout=TIMEOUT)

    async def handler() -> None:
        async with up:
            try:
                await up.send(Chunk(b"abc"))
            finally:
                steps.append("unwound")
            steps.append("after the send")  # pragma: no cover - must not run

    with pytest.raises(ChunkTimeout) as info:
        await handler()
    assert steps == ["unwound"]
    assert writer.closes() == [Call("close", state=RecState(b"abc", 1), reason=Cancel())]
    assert up.failure is info.value
    assert up.size == 3  # the write completed: its bytes count
    with pytest.raises(UploadFailed):
        up.meta()


async def test_a_slow_close_done_is_not_timed_out_and_the_body_runs_on() -> None:
    # close is never timed out: the upload completes, and the rest of the
    # body runs, past more awaits, and the block exits normally.
    writer = AsyncRecordingWriter(close=[ok(delay=TIMEOUT * 3)])
    steps: list[str] = []
    async with AsyncUploader(writer, None, chunk_timeout=TIMEOUT) as up:
        await up.send(Chunk(b"abc"))
        await up.send(Done())
        steps.append("after Done")
        await anyio.sleep(TIMEOUT * 2)
        steps.append("after more waiting")
    assert steps == ["after Done", "after more waiting"]
    assert up.meta()["data"] == b"abc"
    assert [c.reason for c in writer.closes()] == [Done()]


async def test_a_slow_close_done_at_the_expected_size_is_not_timed_out() -> None:
    writer = RecordingWriter(close=[ok(delay=TIMEOUT * 3)])
    steps: list[str] = []
    async with AsyncUploader(
        ThreadedWriter(writer), None, expected_size=2, chunk_timeout=TIMEOUT
    ) as up:
        await up.send(Chunk(b"ab"))  # reaches the expected size: close(Done()) at once
        steps.append("after the last chunk")
        await anyio.sleep(TIMEOUT * 2)
        steps.append("after more waiting")
    assert steps == ["after the last chunk", "after more waiting"]
    assert up.meta()["data"] == b"ab"


# --- 2. a cancel at any moment, also while another task writes ----------------------------------


async def test_leaving_the_block_while_another_task_writes_closes_once_the_write_answers() -> None:
    gate = anyio.Event()
    writer = AsyncRecordingWriter(write=[ok(gate=gate)])
    async with anyio.create_task_group() as tg:
        async with AsyncUploader(writer, None) as up:
            tg.start_soon(up.send, Chunk(b"abc"))
            await _until(lambda: "write_chunk" in writer.names())

            async def release() -> None:
                await anyio.sleep(0.05)
                gate.set()

            tg.start_soon(release)
        # The block waited for the write to answer, then the writer was closed.
        assert writer.closes() == [Call("close", state=RecState(b"abc", 1), reason=Cancel())]
        assert up.phase is Phase.CLOSED
    assert writer.names() == ["init", "write_chunk", "close"]


async def test_a_cancel_sent_while_another_task_writes_is_accepted() -> None:
    gate = anyio.Event()
    writer = AsyncRecordingWriter(write=[ok(gate=gate)])
    async with AsyncUploader(writer, None) as up, anyio.create_task_group() as tg:
        tg.start_soon(up.send, Chunk(b"abc"))
        await _until(lambda: "write_chunk" in writer.names())

        async def release() -> None:
            await anyio.sleep(0.05)
            gate.set()

        tg.start_soon(release)
        await up.send(Cancel())  # returns once the writer is closed
        assert up.reason == Cancel()
        assert up.phase is Phase.CLOSED
    assert writer.closes() == [Call("close", state=RecState(b"abc", 1), reason=Cancel())]


def test_a_writer_callback_may_cancel_its_own_upload() -> None:
    # Sync: a progress hook inside write_chunk cancels the upload. The cancel is
    # recorded and the writer closed with Cancel() once the write answered.
    class Cancelling(RecordingWriter):
        up: Uploader[Any, RecState]

        def write_chunk(self, data: bytes, state: RecState) -> Ok[RecState] | Err[RecState]:
            self.up.send(Cancel())
            return super().write_chunk(data, state)

    writer = Cancelling()
    with Uploader(writer, None) as up:
        writer.up = up
        up.send(Chunk(b"abc"))
        assert up.reason == Cancel()
    assert writer.closes() == [Call("close", state=RecState(b"abc", 1), reason=Cancel())]


# --- 3. send takes the caller's events only ----------------------------------------------------


@pytest.mark.parametrize("answer", [Err("bogus", 0), Ok(999), ValueError("x")])
async def test_a_writer_answer_is_not_a_callers_event_even_during_a_write(answer: object) -> None:
    gate = anyio.Event()
    writer = AsyncRecordingWriter(write=[ok(gate=gate)])
    async with AsyncUploader(writer, None) as up, anyio.create_task_group() as tg:
        tg.start_soon(up.send, Chunk(b"abc"))
        await _until(lambda: "write_chunk" in writer.names())
        with pytest.raises(InvalidEvent, match="looks like a writer's answer"):
            await up.send(answer)  # type: ignore[arg-type]  # the mistake under test
        assert writer.closes() == []  # nothing closed the writer during its write
        gate.set()
    assert writer.closes() == [Call("close", state=RecState(b"abc", 1), reason=Cancel())]


def test_the_sync_driver_refuses_writer_answers_too() -> None:
    writer = RecordingWriter()
    with Uploader(writer, None) as up:
        with pytest.raises(InvalidEvent, match="looks like a writer's answer"):
            up.send(Err("bogus", 0))  # type: ignore[arg-type]  # the mistake under test
        up.send(Chunk(b"a"))
        up.send(Done())
    assert up.meta()["data"] == b"a"


# --- 6. a sync callback raising GeneratorExit in a worker thread --------------------------------


class GeneratorExitOnWrite:
    """A sync writer whose write_chunk raises GeneratorExit (a BaseException)."""

    def __init__(self) -> None:
        self.closes: list[CloseReason] = []

    def init(self, opts: None) -> Ok[int]:
        return Ok(0)

    def meta(self, state: int) -> dict[str, object]:
        return {}

    def write_chunk(self, data: bytes, state: int) -> Ok[int]:
        raise GeneratorExit

    def close(self, state: int, reason: CloseReason) -> Ok[int]:
        self.closes.append(reason)
        return Ok(state)


async def test_generator_exit_in_a_threaded_write_still_closes_the_writer() -> None:
    writer = GeneratorExitOnWrite()
    with pytest.raises(GeneratorExit):
        async with AsyncUploader(ThreadedWriter(writer), None) as up:
            await up.send(Chunk(b"abc"))
    assert writer.closes == [Cancel()]
    # The next upload on the same loop is not disturbed.
    again = RecordingWriter()
    async with AsyncUploader(ThreadedWriter(again), None) as up2:
        await up2.send(Chunk(b"x"))
        await up2.send(Done())
    assert up2.meta()["data"] == b"x"


# --- 7. leaving the block from another task ------------------------------------------------------


async def test_exiting_the_block_from_another_task_still_closes() -> None:
    writer = AsyncRecordingWriter()
    up = AsyncUploader(writer, None, chunk_timeout=SLOW)
    await up.__aenter__()
    await up.send(Chunk(b"ab"))
    errors: list[BaseException] = []

    async def exit_elsewhere() -> None:
        try:
            await up.__aexit__(None, None, None)
        except RuntimeError as exc:  # the cancel scope belongs to the other task
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(exit_elsewhere)
    assert len(errors) == 1
    assert writer.closes() == [Call("close", state=RecState(b"ab", 1), reason=Cancel())]


# --- 9. an init that hangs is timed out -----------------------------------------------------------


async def test_an_init_that_hangs_is_timed_out_and_never_closed() -> None:
    writer = AsyncRecordingWriter(init=[ok(delay=SLOW)])
    started = anyio.current_time()
    with pytest.raises(ChunkTimeout):
        async with AsyncUploader(writer, None, chunk_timeout=TIMEOUT):
            pytest.fail("the body must not run")  # pragma: no cover
    assert anyio.current_time() - started < SLOW / 2
    assert writer.names() == ["init"]  # never answered Ok: nothing to close (L1)


async def test_an_init_that_answers_after_the_timeout_is_closed_once() -> None:
    # In a worker thread, init cannot be interrupted; it answers Ok late. The
    # upload started, so it is closed (with Cancel()), and it timed out.
    writer = RecordingWriter(init=[ok(delay=TIMEOUT * 3)])
    with pytest.raises(ChunkTimeout):
        async with AsyncUploader(ThreadedWriter(writer), None, chunk_timeout=TIMEOUT):
            pytest.fail("the body must not run")  # pragma: no cover
    assert writer.names() == ["init", "close"]
    assert [c.reason for c in writer.closes()] == [Cancel()]


# --- issue 10: sending before the block, and a forgotten await ------------------------------------


async def test_sending_before_entering_the_block_says_to_enter_it_first() -> None:
    up = AsyncUploader(AsyncRecordingWriter(), None)
    with pytest.raises(UploadBusy, match=r"enter the `async with AsyncUploader\(...\) as up:`"):
        await up.send(Chunk(b"a"))
    sync = Uploader(RecordingWriter(), None)
    with pytest.raises(UploadBusy, match=r"enter the `with Uploader\(...\) as up:` block first"):
        sync.send(Chunk(b"a"))


async def test_a_forgotten_await_is_loud_and_loses_nothing_silently() -> None:
    writer = AsyncRecordingWriter()
    up = AsyncUploader(writer, None)

    async def handler() -> None:
        async with up:
            lost = up.send(Chunk(b"abc"))  # the mistake under test: not awaited
            try:
                await up.send(Done())
            finally:
                lost.close()  # what the garbage collector would do, without the warning

    with pytest.raises(UploadBusy, match="was an `await` forgotten"):
        await handler()
    # Done was refused, so the upload never completed as an empty one.
    assert [c.reason for c in writer.closes()] == [Cancel()]
    assert writer.written() == b""
    with pytest.raises(UploadFailed):
        up.meta()


async def test_sends_started_by_other_tasks_run_in_the_order_they_run() -> None:
    # start_soon(up.send, ...) creates the coroutine at once and runs it later;
    # a send awaited meanwhile would overtake it, so it is refused.
    writer = AsyncRecordingWriter()
    async with AsyncUploader(writer, None) as up, anyio.create_task_group() as tg:
        tg.start_soon(up.send, Chunk(b"first"))
        with pytest.raises(UploadBusy, match="have not run yet"):
            await up.send(Chunk(b"second"))
    assert writer.written() == b"first"


# --- the same promises through the uploads layer -------------------------------------------------


async def test_an_entry_run_exited_from_another_task_still_closes() -> None:
    from uploadwriter import ClientFile, UploadConfig, Uploads

    writer = AsyncRecordingWriter()
    uploads = Uploads(UploadConfig("d", accept="any", writer=lambda n, e: (writer, None)))
    uploads.select([ClientFile("a", 4)])
    run = uploads.upload_async("0")
    await run.__aenter__()
    await run.send(Chunk(b"ab"))
    errors: list[BaseException] = []

    async def exit_elsewhere() -> None:
        try:
            await run.__aexit__(None, None, None)
        except RuntimeError as exc:  # the cancel scopes belong to the other task
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(exit_elsewhere)
    assert len(errors) == 1
    assert writer.closes() == [Call("close", state=RecState(b"ab", 1), reason=Cancel())]
    assert uploads.entry("0").error_codes == ("incomplete",)


async def test_uploads_cancel_while_another_task_writes_closes_once_it_answers() -> None:
    from uploadwriter import ClientFile, UploadConfig, Uploads

    gate = anyio.Event()
    writer = AsyncRecordingWriter(write=[ok(gate=gate)])
    uploads = Uploads(UploadConfig("d", accept="any", writer=lambda n, e: (writer, None)))
    uploads.select([ClientFile("a", 10)])
    async with anyio.create_task_group() as tg, uploads.upload_async("0") as run:
        tg.start_soon(run.send, Chunk(b"abc"))
        await _until(lambda: "write_chunk" in writer.names())
        uploads.cancel("0")  # from outside any writer call: the body is cancelled
        gate.set()
        await anyio.sleep(SLOW)  # pragma: no cover - cancelled at once
    assert writer.closes() == [Call("close", state=RecState(b"abc", 1), reason=Cancel())]
    assert uploads.entries == ()


def test_an_entry_ref_must_be_a_string_and_the_message_says_so() -> None:
    from uploadwriter import ClientFile, UploadConfig, Uploads

    uploads = Uploads(UploadConfig("d", accept="any"))
    uploads.select([ClientFile("a", 1)])
    with pytest.raises(TypeError, match=r"entry refs are strings: '0', not 0 \(int\)"):
        uploads.upload(0)  # type: ignore[arg-type]  # the mistake under test
    with pytest.raises(TypeError, match="entry refs are strings"):
        uploads.cancel(0)  # type: ignore[arg-type]  # the mistake under test
