"""check_writer_async and replay_async: the checks from inside a running event loop."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import settings

from tests import zoo
from uploadwriter import Chunk, CloseReason, Done, Err, Ok
from uploadwriter.testing import (
    CLOSE_PATHS,
    EventStream,
    WriterLawError,
    check_writer,
    check_writer_async,
    files_in,
    replay_async,
)
from uploadwriter.writers import TmpFileOpts, TmpFileWriter

pytestmark = pytest.mark.anyio

FEW = settings(max_examples=20, database=None, deadline=None)


class LoopBoundWriter(zoo.AsyncMemoryWriter):
    """An async writer whose callbacks must run in the loop (and thread) that made it.

    Like a writer holding an HTTP client session or a connection pool: using
    it from another event loop fails.
    """

    def __init__(self) -> None:
        super().__init__()
        self.thread = threading.get_ident()
        self.lock = anyio.Lock()
        self.calls = 0

    async def _here(self) -> None:
        assert threading.get_ident() == self.thread, "called outside the loop's thread"
        async with self.lock:  # needs a running loop: there is one
            self.calls += 1

    async def init(self, opts: Any) -> Ok[zoo.Mem] | Err[None]:
        await self._here()
        return await super().init(opts)

    async def write_chunk(self, data: bytes, state: zoo.Mem) -> Ok[zoo.Mem] | Err[zoo.Mem]:
        await self._here()
        return await super().write_chunk(data, state)

    async def close(self, state: zoo.Mem, reason: CloseReason) -> Ok[zoo.Mem] | Err[zoo.Mem]:
        await self._here()
        return await super().close(state, reason)


async def test_an_async_writer_is_checked_on_the_running_loop() -> None:
    writer = LoopBoundWriter()
    report = await check_writer_async(writer, {}, settings=FEW, invariant=zoo.total_matches)
    assert report.asynchronous
    assert report.paths_covered == tuple(CLOSE_PATHS)
    assert report.uploads == 9 + 20
    assert writer.calls > 0


async def test_a_sync_writer_runs_in_a_worker_thread(tmp_path: Path) -> None:
    loop_thread = threading.get_ident()
    threads: set[int] = set()

    class Watched(TmpFileWriter):
        def write_chunk(self, data: bytes, state: Any) -> Any:
            threads.add(threading.get_ident())
            return super().write_chunk(data, state)

    report = await check_writer_async(
        Watched(), TmpFileOpts(dir=str(tmp_path)), settings=FEW, sizes=[1000]
    )
    assert not report.asynchronous
    assert report.sizes == (1000,)
    assert threads
    assert loop_thread not in threads
    assert files_in(tmp_path) == []


async def test_the_loop_runs_other_tasks_meanwhile() -> None:
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await anyio.sleep(0)

    async with anyio.create_task_group() as tg:
        tg.start_soon(tick)
        await check_writer_async(zoo.MemoryWriter(), {}, settings=FEW)
        tg.cancel_scope.cancel()
    assert ticks > 1


async def test_a_broken_law_is_reported_with_an_awaited_replay() -> None:
    with pytest.raises(WriterLawError) as info:
        await check_writer_async(zoo.AsyncCancelErrWriter(), {}, settings=FEW)
    assert info.value.law == "e"
    message = str(info.value)
    assert "from uploadwriter.testing import EventStream, replay_async" in message
    assert "    await replay_async(writer, {}, EventStream([Chunk(b'abc'), Cancel()]))" in message
    assert "backend=" not in message


async def test_replay_async_reproduces_it() -> None:
    stream = EventStream([Chunk(b"abc"), Done()])
    await replay_async(zoo.AsyncMemoryWriter(), {}, stream, invariant=zoo.total_matches)
    await replay_async(zoo.MemoryWriter(), {}, stream)
    with pytest.raises(WriterLawError) as info:
        await replay_async(zoo.AsyncTupleWriter(), {}, stream)
    assert info.value.law == "a"
    with pytest.raises(TypeError, match="stream must be an EventStream"):
        await replay_async(zoo.MemoryWriter(), {}, [Chunk(b"x")])  # type: ignore[arg-type]


async def test_the_sync_form_in_a_running_loop_says_what_to_use() -> None:
    with pytest.raises(RuntimeError, match=r"in a running event loop: await check_writer_async"):
        check_writer(zoo.AsyncMemoryWriter(), {}, settings=FEW)


def test_meta_of_the_async_writer_stays_sync() -> None:
    meta: Mapping[str, object] = zoo.AsyncMemoryWriter().meta(zoo.Mem())
    assert meta["size"] == 0
