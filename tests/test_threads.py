"""The thread handoff under ``ThreadedWriter``: answers, raised exceptions, cancellation, the pool.

On asyncio and trio. The lifecycle rules through ``ThreadedWriter`` are in
``test_lifecycle_async.py`` and ``test_busy_server.py``; this file checks the
handoff itself: what a call that crosses to a worker thread promises.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable

import anyio
import pytest

from uploadwriter import AsyncUploader, Cancel, Chunk, Done, Err, Ok, ThreadedWriter
from uploadwriter import _handoff as handoff
from uploadwriter._handoff import Raised, run_in_worker

from .recording import RecordingWriter, RecState, raises

pytestmark = pytest.mark.anyio

SLOW = 5.0  # far longer than anything here takes: reaching it means a test failed


async def _until(condition: Callable[[], bool]) -> None:
    """Wait until ``condition()`` holds (polling: a worker thread may set it)."""
    with anyio.fail_after(SLOW):
        while not condition():
            await anyio.sleep(0.002)


class Gate:
    """A blocking call for a worker thread: it waits until the test opens the gate."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()
        self.finished: list[object] = []

    def call(self, value: object) -> object:
        self.entered.set()
        assert self.opened.wait(SLOW)
        self.finished.append(value)
        return value


async def test_the_answer_comes_back_from_another_thread() -> None:
    here = threading.get_ident()
    assert await run_in_worker(threading.get_ident) != here
    assert await run_in_worker(divmod, 7, 2) == (3, 1)


@pytest.mark.parametrize("exc", [OSError("disk"), GeneratorExit(), KeyboardInterrupt()])
async def test_what_the_callback_raises_is_raised_again_in_the_task(exc: BaseException) -> None:
    def fail() -> None:
        raise exc

    with pytest.raises(type(exc)) as info:
        await run_in_worker(fail)
    assert info.value is exc
    # The loop is not disturbed: the next call works.
    assert await run_in_worker(len, b"abc") == 3


async def test_the_callback_sees_the_callers_context() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    var.set("the caller's")
    assert await run_in_worker(var.get) == "the caller's"

    def change() -> None:
        var.set("the worker's")

    await run_in_worker(change)
    assert var.get() == "the caller's"  # a copy: the caller's context is not changed


async def test_a_cancelled_call_finishes_counts_and_then_cancels() -> None:
    # Cancelled while the callback runs: the task waits for it (never
    # abandons it), gets its answer, and is cancelled at the next checkpoint.
    gate = Gate()
    got: list[object] = []
    scope = anyio.CancelScope()

    async def cancel_then_open() -> None:
        await _until(gate.entered.is_set)
        scope.cancel()
        await anyio.sleep(0.05)  # the call must still be waited for
        assert not got
        gate.opened.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(cancel_then_open)
        with scope:
            got.append(await run_in_worker(gate.call, "answer"))
            await anyio.sleep(SLOW)  # the next checkpoint: cancelled here
    assert scope.cancelled_caught
    assert got == ["answer"]
    assert gate.finished == ["answer"]


async def test_a_timeout_during_a_call_fires_once_it_answers() -> None:
    gate = Gate()
    got: list[object] = []

    async def opener() -> None:
        await _until(gate.entered.is_set)
        await anyio.sleep(0.1)
        gate.opened.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(opener)
        with anyio.move_on_after(0.02) as scope:
            got.append(await run_in_worker(gate.call, "late"))
            await anyio.sleep(SLOW)
    assert scope.cancelled_caught
    assert got == ["late"]


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_native_asyncio_cancel_is_delivered_after_the_answer() -> None:
    # task.cancel() from plain asyncio (no anyio scope): the call still
    # completes, its answer is returned, and the task is then cancelled once.
    gate = Gate()
    got: list[object] = []

    async def call_then_sleep() -> None:
        got.append(await run_in_worker(gate.call, "native"))
        await asyncio.sleep(SLOW)

    task = asyncio.ensure_future(call_then_sleep())
    await _until(gate.entered.is_set)
    task.cancel()
    task.cancel()  # twice: still one cancellation delivered, after the answer
    await asyncio.sleep(0.05)
    assert not task.done()
    gate.opened.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert got == ["native"]


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout is Python 3.11+")
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_asyncio_timeout_still_raises_timeout_error_after_the_answer() -> None:
    gate = Gate()
    got: list[object] = []
    timer = threading.Timer(0.15, gate.opened.set)
    timer.start()

    async def call_then_sleep() -> None:
        async with asyncio.timeout(0.02):  # type: ignore[attr-defined,unused-ignore]
            got.append(await run_in_worker(gate.call, "in time"))
            await asyncio.sleep(SLOW)

    with pytest.raises(TimeoutError):
        await call_then_sleep()
    timer.join()
    assert got == ["in time"]
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0  # type: ignore[attr-defined,unused-ignore]


async def test_a_threaded_upload_closes_once_when_its_write_is_cancelled() -> None:
    gate = Gate()

    class Slow(RecordingWriter):
        def write_chunk(self, data: bytes, state: RecState) -> Ok[RecState] | Err[RecState]:
            gate.call(None)
            return super().write_chunk(data, state)

    scope = anyio.CancelScope()

    async def cancel() -> None:
        await _until(gate.entered.is_set)
        scope.cancel()
        gate.opened.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(cancel)
        with scope:
            async with AsyncUploader(ThreadedWriter(Slow()), None) as up:
                await up.send(Chunk(b"abc"))
                await anyio.sleep(SLOW)
    assert scope.cancelled_caught
    assert up.size == 3  # the write's answer counted
    assert up.reason == Cancel()


@pytest.mark.parametrize("exc", [GeneratorExit(), KeyboardInterrupt()])
async def test_an_interruption_raised_by_a_threaded_write_closes_and_propagates(
    exc: BaseException,
) -> None:
    writer = RecordingWriter(write=[raises(exc)])
    with pytest.raises(type(exc)):
        async with AsyncUploader(ThreadedWriter(writer), None) as up:
            await up.send(Chunk(b"abc"))
    assert [c.reason for c in writer.closes()] == [Cancel()]
    again = RecordingWriter()
    async with AsyncUploader(ThreadedWriter(again), None) as up:
        await up.send(Chunk(b"x"))
        await up.send(Done())
    assert up.meta()["data"] == b"x"


# --- the pool -------------------------------------------------------------------------------------


async def test_more_calls_than_workers_wait_their_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handoff, "MAX_WORKERS", 2)
    monkeypatch.setattr(handoff, "_pool", handoff._Pool())
    running: list[int] = []
    most = [0]
    lock = threading.Lock()

    def busy(i: int) -> int:
        with lock:
            running.append(i)
            most[0] = max(most[0], len(running))
        time.sleep(0.02)
        with lock:
            running.remove(i)
        return i

    results: list[int] = []

    async def one(i: int) -> None:
        results.append(await run_in_worker(busy, i))

    async with anyio.create_task_group() as tg:
        for i in range(6):
            tg.start_soon(one, i)
    assert sorted(results) == list(range(6))
    assert most[0] == 2


async def test_idle_workers_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handoff, "IDLE_SECONDS", 0.05)
    pool = handoff._Pool()
    monkeypatch.setattr(handoff, "_pool", pool)

    worker = await run_in_worker(threading.current_thread)
    assert worker.name == "uploadwriter-worker"
    await _until(lambda: pool._count == 0)
    await _until(lambda: not worker.is_alive())
    assert await run_in_worker(int, "8") == 8  # a new worker starts for the next call


async def test_a_worker_taken_while_it_times_out_still_runs_its_job(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The race between an idle worker giving up and a call taking it: the
    # call must not be lost. Many short idle periods make it likely.
    monkeypatch.setattr(handoff, "IDLE_SECONDS", 0.001)
    monkeypatch.setattr(handoff, "_pool", handoff._Pool())
    for i in range(200):
        assert await run_in_worker(abs, -i) == i
        if i % 3 == 0:
            await anyio.sleep(0.001)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
async def test_a_forked_child_gets_a_pool_of_its_own() -> None:
    assert await run_in_worker(abs, -1) == 1  # the parent has a worker
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child; its result is its exit status
        status = 1
        try:
            status = 0 if asyncio.run(run_in_worker(abs, -5)) == 5 else 1
        finally:
            os._exit(status)
    with anyio.fail_after(SLOW):
        while not (waited := os.waitpid(pid, os.WNOHANG))[0]:
            await anyio.sleep(0.01)
    assert os.waitstatus_to_exitcode(waited[1]) == 0


async def test_another_loop_goes_through_anyio(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handoff, "answer_here", lambda: None)
    assert await run_in_worker(abs, -3) == 3
    with pytest.raises(ValueError, match="invalid literal"):
        await run_in_worker(int, "x")


def test_an_answer_for_a_closed_loop_is_dropped_quietly() -> None:
    loop = asyncio.new_event_loop()
    answer = handoff._AsyncioAnswer(loop)
    loop.close()
    answer.set("nobody waits")  # no exception in the worker thread
    assert answer.value == "nobody waits"


def test_raised_is_a_value() -> None:
    exc = KeyboardInterrupt()
    captured = handoff.capture(_raise, exc)
    assert type(captured) is Raised
    assert captured.exc is exc
    assert repr(captured) == "Raised(KeyboardInterrupt())"
    assert handoff.capture(abs, -2) == 2


def _raise(exc: BaseException) -> None:
    raise exc


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_second_native_cancel_during_the_wait_is_delivered_once() -> None:
    gate = Gate()
    got: list[object] = []

    async def call_then_sleep() -> None:
        got.append(await run_in_worker(gate.call, "twice"))
        await asyncio.sleep(SLOW)

    task = asyncio.ensure_future(call_then_sleep())
    await _until(gate.entered.is_set)
    task.cancel()
    await asyncio.sleep(0.05)  # the first cancel is caught; the task waits on, shielded
    task.cancel()
    await asyncio.sleep(0.05)
    assert not task.done()
    gate.opened.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert got == ["twice"]


async def test_an_answer_set_before_the_wait_is_returned_at_once() -> None:
    answer = handoff.answer_here()
    assert answer is not None
    answer.set("early")
    assert await answer.wait() == "early"
    other = handoff.answer_here()
    assert other is not None
    other.set("early too")
    assert await other.wait_or_cancel() == "early too"


def test_another_async_library_gets_no_answer() -> None:
    import sniffio

    token = sniffio.current_async_library_cvar.set("curio")
    try:
        assert handoff.answer_here() is None
    finally:
        sniffio.current_async_library_cvar.reset(token)


def test_a_worker_taken_just_as_it_gives_up_runs_its_job(monkeypatch: pytest.MonkeyPatch) -> None:
    # The idle worker times out and waits for the pool's lock; meanwhile a
    # call takes it off the idle list: it must stay and run the call.
    monkeypatch.setattr(handoff, "IDLE_SECONDS", 0.05)
    pool = handoff._Pool()
    ran = threading.Event()

    class Mark(handoff.Job):
        def work(self) -> None:
            ran.set()

    pool.submit(Mark())
    assert ran.wait(SLOW)
    deadline = time.monotonic() + SLOW
    while not pool._idle and time.monotonic() < deadline:
        time.sleep(0.001)
    ran.clear()
    with pool._lock:
        worker = pool._idle.pop()
        time.sleep(0.2)  # the worker times out, and waits for this lock
    worker.queue.put(Mark())
    assert ran.wait(SLOW)
    assert pool._count == 1
