"""TeeWriter and AsyncTeeWriter: fan-out, metas in order, every child closed exactly once."""

from __future__ import annotations

import contextlib
import hashlib
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import attrs
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
    InitError,
    InlineWriter,
    Ok,
    ThreadedWriter,
    Uploader,
    UploadError,
    WriterFailure,
)
from uploadwriter.testing import (
    EventStream,
    check_writer,
    default_settings,
    event_streams,
    files_in,
    open_fds,
)
from uploadwriter.writers import (
    AsyncTeeWriter,
    DigestMismatch,
    HashOpts,
    HashWriter,
    MemoryOpts,
    MemoryState,
    MemoryWriter,
    TeeState,
    TeeWriter,
    TmpFileOpts,
    TmpFileWriter,
)

FEW = settings(default_settings(), max_examples=60, database=None)


def _metas(meta: Mapping[str, object]) -> tuple[Any, ...]:
    metas = meta["writers"]
    assert isinstance(metas, tuple)
    return metas


def test_tee_writes_every_child_and_gives_metas_in_order(tmp_path: Path) -> None:
    tee = TeeWriter(TmpFileWriter(), MemoryWriter(), HashWriter())
    with Uploader(tee, (TmpFileOpts(dir=tmp_path), MemoryOpts(), HashOpts("md5"))) as up:
        up.send(Chunk(b"hello "))
        up.send(Chunk(b"world"))
        up.send(Done())
    tmp, memory, digest = _metas(up.meta())
    assert Path(tmp["path"]).read_bytes() == b"hello world"
    assert memory == {"data": b"hello world", "size": 11}
    assert digest["hexdigest"] == hashlib.md5(b"hello world").hexdigest()
    assert set(up.meta()) == {"writers"}


def test_tee_hash_mismatch_fails_the_upload_and_cleans_up_the_others(tmp_path: Path) -> None:
    # The hash comes first and refuses at Done(): the temp file is then
    # closed with Error (removed) and the memory buffer released.
    memory = MemoryWriter()
    tee = TeeWriter(HashWriter(), TmpFileWriter(), memory)
    opts = (HashOpts(expected="0" * 64), TmpFileOpts(dir=tmp_path), MemoryOpts())
    with Uploader(tee, opts) as up:
        up.send(Chunk(b"abc"))
        with pytest.raises(WriterFailure) as info:
            up.send(Done())
    assert isinstance(info.value.reason, DigestMismatch)
    assert files_in(tmp_path) == []
    assert up.state.states[2].buffer.closed


def test_tee_failure_at_done_discards_children_already_done(tmp_path: Path) -> None:
    tee = TeeWriter(TmpFileWriter(), MemoryWriter(), HashWriter())
    opts = (TmpFileOpts(dir=tmp_path), MemoryOpts(), HashOpts(expected="0" * 64))
    with Uploader(tee, opts) as up:
        up.send(Chunk(b"abc"))
        with pytest.raises(WriterFailure):
            up.send(Done())
    assert files_in(tmp_path) == []  # the temp file was completed, then discarded
    assert up.state.states[1].buffer.closed


def test_tee_discard_forwards_to_children_that_have_the_hook(tmp_path: Path) -> None:
    tee = TeeWriter(TmpFileWriter(), HashWriter())
    with Uploader(tee, (TmpFileOpts(dir=tmp_path), HashOpts())) as up:
        up.send(Chunk(b"abc"))
        up.send(Done())
    assert len(files_in(tmp_path)) == 1
    tee.discard(up.state)
    assert files_in(tmp_path) == []


@pytest.mark.parametrize(
    ("opts", "message"),
    [
        ((MemoryOpts(),), r"TeeWriter needs a tuple of 2 opts, one per writer in order"),
        ([MemoryOpts(), HashOpts()], r"a tuple of 2 opts"),
    ],
)
def test_tee_opts_must_be_a_tuple_of_one_per_child(opts: Any, message: str) -> None:
    with pytest.raises(InitError, match=message):
        Uploader(TeeWriter(MemoryWriter(), HashWriter()), opts).__enter__()


def test_tee_refuses_no_writers_and_non_writers() -> None:
    with pytest.raises(TypeError, match="at least one writer"):
        TeeWriter()
    with pytest.raises(TypeError, match="not an upload writer for TeeWriter"):
        TeeWriter(MemoryWriter(), object())  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="not an upload writer for AsyncTeeWriter"):
        AsyncTeeWriter(MemoryWriter())  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="at least one writer"):
        AsyncTeeWriter()


# --- a scripted child, to break a tee in every way ----------------------------------------

ACTIONS = ("ok", "err", "raise", "junk")


@attrs.define
class Log:
    """Every call made to one scripted child, in order."""

    calls: list[str] = attrs.Factory(list)

    def check(self) -> None:
        """The lifecycle the tee promises each child."""
        if not self.calls:
            return
        assert self.calls[0].startswith("init")
        if self.calls[0] != "init:ok":
            assert self.calls == [self.calls[0]], self.calls  # refused: nothing else, ever
            return
        closes = [c for c in self.calls if c.startswith("close")]
        assert len(closes) == 1, self.calls  # initialised: closed exactly once
        assert self.calls[-1].startswith("close"), self.calls  # and nothing after it


@attrs.frozen
class Script:
    """What one child answers: init, each write in turn (then "ok"), close."""

    init: str = "ok"
    writes: tuple[str, ...] = ()
    close: str = "ok"


class Scripted:
    """A child that answers as scripted, and logs each call."""

    def __init__(self, script: Script, log: Log) -> None:
        self.script = script
        self.log = log

    def _answer(self, name: str, action: str, state: object, detail: str = "") -> Any:
        self.log.calls.append(f"{name}:{action}{detail}")
        if action == "raise":
            raise RuntimeError(f"{name} raised")
        if action == "err":
            return Err(f"{name} failed", state)
        if action == "junk":
            return "not a result"
        return Ok(state)

    def init(self, opts: object) -> Any:
        return self._answer("init", self.script.init, 0)

    def meta(self, state: int) -> Mapping[str, object]:
        return {"writes": state}

    def write_chunk(self, data: bytes, state: int) -> Any:
        writes = self.script.writes
        action = writes[state] if state < len(writes) else "ok"
        return self._answer("write", action, state + 1)

    def close(self, state: int, reason: CloseReason) -> Any:
        return self._answer("close", self.script.close, state, f"/{type(reason).__name__}")


class AsyncScripted(Scripted):
    async def init(self, opts: object) -> Any:
        await anyio.lowlevel.checkpoint()
        return super().init(opts)

    async def write_chunk(self, data: bytes, state: int) -> Any:
        await anyio.lowlevel.checkpoint()
        return super().write_chunk(data, state)

    async def close(self, state: int, reason: CloseReason) -> Any:
        await anyio.lowlevel.checkpoint()
        return super().close(state, reason)


actions = st.sampled_from(ACTIONS)
scripts = st.builds(
    Script,
    init=st.sampled_from(ACTIONS).filter(lambda a: a != "junk") | st.just("ok"),
    writes=st.lists(actions, max_size=4).map(tuple),
    close=actions,
)


def _expect_each_child_closed_once(logs: list[Log]) -> None:
    for log in logs:
        log.check()
    started = [log for log in logs if log.calls[:1] == ["init:ok"]]
    refused = [log for log in logs if log.calls[:1] not in ([], ["init:ok"])]
    assert len(refused) <= 1  # the first refusal stops the starting
    if refused:
        assert all(not log.calls for log in logs[len(started) + 1 :])
        for log in started:
            assert log.calls[-1] == "close:" + log.calls[-1].split(":")[1]
            assert log.calls[-1].endswith("/Cancel")


@settings(max_examples=300, deadline=None)
@given(st.lists(scripts, min_size=1, max_size=4), event_streams(max_chunks=5, max_chunk_size=64))
def test_tee_closes_each_initialised_child_exactly_once(
    scripts: list[Script], stream: EventStream
) -> None:
    logs = [Log() for _ in scripts]
    tee = TeeWriter(*(Scripted(s, log) for s, log in zip(scripts, logs, strict=True)))
    opts = tuple(None for _ in scripts)
    with (
        contextlib.suppress(UploadError),
        Uploader(tee, opts, expected_size=stream.expected_size, max_size=stream.max_size) as up,
    ):
        for event in stream.events:
            with contextlib.suppress(UploadError):
                up.send(event)
    _expect_each_child_closed_once(logs)


@settings(max_examples=100, deadline=None)
@given(st.lists(scripts, min_size=1, max_size=3), event_streams(max_chunks=4, max_chunk_size=64))
def test_async_tee_closes_each_initialised_child_exactly_once(
    scripts: list[Script], stream: EventStream
) -> None:
    logs = [Log() for _ in scripts]
    tee = AsyncTeeWriter(*(AsyncScripted(s, log) for s, log in zip(scripts, logs, strict=True)))

    async def run() -> None:
        with contextlib.suppress(UploadError):
            async with AsyncUploader(
                tee,
                tuple(None for _ in scripts),
                expected_size=stream.expected_size,
                max_size=stream.max_size,
            ) as up:
                for event in stream.events:
                    with contextlib.suppress(UploadError):
                        await up.send(event)

    anyio.run(run)
    _expect_each_child_closed_once(logs)


def test_tee_child_failure_closes_the_others_with_error_reason() -> None:
    logs = [Log(), Log(), Log()]
    scripts = [Script(), Script(writes=("ok", "err")), Script()]
    tee = TeeWriter(*(Scripted(s, log) for s, log in zip(scripts, logs, strict=True)))
    with Uploader(tee, (1, 2, 3)) as up:
        up.send(Chunk(b"a"))
        with pytest.raises(WriterFailure, match="write failed"):
            up.send(Chunk(b"b"))
    assert [log.calls[-1] for log in logs] == ["close:ok/Error"] * 3
    assert logs[2].calls.count("write:ok") == 1  # never got the chunk its sibling failed on


def test_tee_keyboard_interrupt_closes_every_child_then_propagates() -> None:
    class Interrupting(Scripted):
        def write_chunk(self, data: bytes, state: int) -> Any:
            self.log.calls.append("write:interrupted")
            raise KeyboardInterrupt

    logs = [Log(), Log(), Log()]
    tee = TeeWriter(
        Scripted(Script(), logs[0]), Interrupting(Script(), logs[1]), Scripted(Script(), logs[2])
    )
    with pytest.raises(KeyboardInterrupt), Uploader(tee, (1, 2, 3)) as up:
        up.send(Chunk(b"a"))
    assert [log.calls[-1] for log in logs] == ["close:ok/Cancel"] * 3
    # The first child is closed from the state its write returned.
    assert up.state.states == (1, 0, 0)


def test_tee_keyboard_interrupt_in_a_close_still_closes_the_rest() -> None:
    class Interrupting(Scripted):
        def close(self, state: int, reason: CloseReason) -> Any:
            self.log.calls.append("close:interrupted")
            raise KeyboardInterrupt

    logs = [Log(), Log(), Log()]
    tee = TeeWriter(
        Scripted(Script(), logs[0]), Interrupting(Script(), logs[1]), Scripted(Script(), logs[2])
    )
    with pytest.raises(KeyboardInterrupt), Uploader(tee, (1, 2, 3)) as up:
        up.send(Done())
    assert [log.calls[-1] for log in logs] == [
        "close:ok/Done",
        "close:interrupted",
        "close:ok/Error",
    ]
    for log in logs:
        log.check()


def test_tee_keyboard_interrupt_in_an_init_closes_those_started() -> None:
    class Interrupting(Scripted):
        def init(self, opts: object) -> Any:
            self.log.calls.append("init:interrupted")
            raise KeyboardInterrupt

    logs = [Log(), Log(), Log()]
    tee = TeeWriter(
        Scripted(Script(), logs[0]), Interrupting(Script(), logs[1]), Scripted(Script(), logs[2])
    )
    with pytest.raises(KeyboardInterrupt):
        Uploader(tee, (1, 2, 3)).__enter__()
    assert logs[0].calls == ["init:ok", "close:ok/Cancel"]
    assert logs[2].calls == []


class SlowWriter(AsyncScripted):
    """Its writes take a long time: the chunk timeout cuts the tee's round short."""

    async def write_chunk(self, data: bytes, state: int) -> Any:
        self.log.calls.append("write:sleeping")
        await anyio.sleep(10)
        raise AssertionError("not reached")  # pragma: no cover


@pytest.mark.anyio
async def test_async_tee_cut_short_closes_each_child_once_from_its_newest_state() -> None:
    logs = [Log(), Log()]
    tee = AsyncTeeWriter(AsyncScripted(Script(), logs[0]), SlowWriter(Script(), logs[1]))
    with pytest.raises(ChunkTimeout):
        async with AsyncUploader(tee, (1, 2), chunk_timeout=0.05) as up:
            await up.send(Chunk(b"a"))
    assert logs[0].calls == ["init:ok", "write:ok", "close:ok/Cancel"]
    assert logs[1].calls == ["init:ok", "write:sleeping", "close:ok/Cancel"]


@pytest.mark.anyio
async def test_async_tee_of_wrapped_sync_writers(tmp_path: Path) -> None:
    tee = AsyncTeeWriter(ThreadedWriter(TmpFileWriter()), InlineWriter(HashWriter()))
    async with AsyncUploader(tee, (TmpFileOpts(dir=tmp_path), HashOpts())) as up:
        await up.send(Chunk(b"abc"))
        await up.send(Done())
    tmp, digest = _metas(up.meta())
    assert Path(tmp["path"]).read_bytes() == b"abc"
    assert digest["hexdigest"] == hashlib.sha256(b"abc").hexdigest()
    tee.discard(up.state)
    assert files_in(tmp_path) == []


@pytest.mark.anyio
async def test_async_tee_refusal_closes_those_started(tmp_path: Path) -> None:
    tee = AsyncTeeWriter(
        ThreadedWriter(TmpFileWriter()), InlineWriter(HashWriter()), InlineWriter(MemoryWriter())
    )
    with pytest.raises(InitError, match="HashWriter needs HashOpts"):
        async with AsyncUploader[Any, Any](
            tee, (TmpFileOpts(dir=tmp_path), "sha256", MemoryOpts())
        ):
            pass  # pragma: no cover
    assert files_in(tmp_path) == []


class _SlowToClose:
    """An async child that takes a while to close, and says when it has."""

    def __init__(self, closed: list[str], name: str) -> None:
        self.closed, self.name = closed, name

    async def init(self, opts: None) -> Ok[None]:
        return Ok(None)

    def meta(self, state: None) -> Mapping[str, object]:
        return {}

    async def write_chunk(self, data: bytes, state: None) -> Ok[None]:
        return Ok(None)  # pragma: no cover - never written to

    async def close(self, state: None, reason: CloseReason) -> Ok[None]:
        await anyio.sleep(0.05)
        self.closed.append(f"{self.name}:{reason!r}")
        return Ok(None)


class _Refusing(_SlowToClose):
    async def init(self, opts: None) -> Err[None]:  # type: ignore[override]
        return Err("no room", None)


@pytest.mark.anyio
async def test_async_tee_refusal_closes_those_started_even_when_cancelled_meanwhile() -> None:
    closed: list[str] = []
    tee = AsyncTeeWriter(
        _SlowToClose(closed, "a"), _SlowToClose(closed, "b"), _Refusing(closed, "c")
    )
    with anyio.move_on_after(0.01):  # a cancel (a chunk timeout, a client gone) mid-close
        answer = await tee.init((None, None, None))
        assert answer == Err("no room", None)
    assert closed == ["a:Cancel()", "b:Cancel()"]  # each started child closed, once


# --- the laws, with real children ----------------------------------------------------------


def _memory_buffers(state: TeeState) -> list[io.BytesIO]:
    return [s.buffer for s in state.states if isinstance(s, MemoryState)]


def test_tee_passes_check_writer_leaving_no_file(tmp_path: Path) -> None:
    closed: list[TeeState] = []
    tee = TeeWriter(TmpFileWriter(), HashWriter(), MemoryWriter())

    class Watching(TeeWriter[Any]):
        def close(self, state: TeeState, reason: CloseReason) -> Any:
            answer = super().close(state, reason)
            closed.append(answer.state)
            return answer

    watched = Watching(*tee.writers)

    def consume(meta: Mapping[str, object]) -> None:
        # As an application would: take the results, then release them.
        Path(meta["writers"][0]["path"]).unlink()  # type: ignore[index]
        watched.discard(closed[-1])

    def leaks() -> list[str]:
        held = [
            f"open buffer {id(b):#x}" for s in closed for b in _memory_buffers(s) if not b.closed
        ]
        return files_in(tmp_path) + open_fds() + held

    check_writer(
        watched,
        (TmpFileOpts(dir=tmp_path), HashOpts(), MemoryOpts()),
        settings=FEW,
        leaks=leaks,
        consume=consume,
    )


def test_async_tee_passes_check_writer_leaving_no_file(tmp_path: Path) -> None:
    tee = AsyncTeeWriter(ThreadedWriter(TmpFileWriter()), InlineWriter(HashWriter()))
    check_writer(
        tee,
        (TmpFileOpts(dir=tmp_path), HashOpts()),
        settings=settings(FEW, max_examples=30),
        leaks=lambda: files_in(tmp_path) + open_fds(),
        consume=lambda meta: Path(meta["writers"][0]["path"]).unlink(),  # type: ignore[index]
        backend="trio",
    )


def test_tee_close_with_cancel_closes_every_child_with_cancel_even_after_a_failure() -> None:
    logs = [Log(), Log(), Log()]
    scripts = [Script(), Script(close="err"), Script()]
    tee = TeeWriter(*(Scripted(s, log) for s, log in zip(scripts, logs, strict=True)))
    state = tee.init((1, 2, 3)).state
    assert state is not None
    answer = tee.close(state, Cancel())
    assert answer == Err("close failed", state)
    assert [log.calls[-1] for log in logs] == [
        "close:ok/Cancel",
        "close:err/Cancel",
        "close:ok/Cancel",
    ]


class Stop(BaseException):
    """Stands for an interruption (KeyboardInterrupt, SystemExit) a child raises."""


@pytest.mark.anyio
async def test_async_tee_interrupted_close_still_closes_the_rest() -> None:
    class Interrupting(AsyncScripted):
        async def close(self, state: int, reason: CloseReason) -> Any:
            self.log.calls.append("close:interrupted")
            raise Stop

    logs = [Log(), Log(), Log()]
    tee = AsyncTeeWriter(
        AsyncScripted(Script(), logs[0]),
        Interrupting(Script(), logs[1]),
        AsyncScripted(Script(), logs[2]),
    )
    with pytest.raises(Stop):
        async with AsyncUploader(tee, (1, 2, 3)) as up:
            await up.send(Done())
    assert [log.calls[-1] for log in logs] == [
        "close:ok/Done",
        "close:interrupted",
        "close:ok/Error",
    ]


@pytest.mark.anyio
async def test_async_tee_cancelled_during_a_childs_init_closes_those_started() -> None:
    class SlowStart(AsyncScripted):
        async def init(self, opts: object) -> Any:
            self.log.calls.append("init:sleeping")
            await anyio.sleep(10)
            raise AssertionError("not reached")  # pragma: no cover

    logs = [Log(), Log(), Log()]
    tee = AsyncTeeWriter(
        AsyncScripted(Script(), logs[0]),
        SlowStart(Script(), logs[1]),
        AsyncScripted(Script(), logs[2]),
    )
    with anyio.move_on_after(0.05):
        async with AsyncUploader(tee, (1, 2, 3)):
            raise AssertionError("not reached")  # pragma: no cover
    assert logs[0].calls == ["init:ok", "close:ok/Cancel"]
    assert logs[1].calls == ["init:sleeping"]
    assert logs[2].calls == []


@pytest.mark.anyio
async def test_async_tee_refuses_opts_of_the_wrong_shape() -> None:
    with pytest.raises(InitError, match="AsyncTeeWriter needs a tuple of 2 opts"):
        async with AsyncUploader[Any, Any](
            AsyncTeeWriter(InlineWriter(HashWriter()), InlineWriter(MemoryWriter())), HashOpts()
        ):
            pass  # pragma: no cover


@pytest.mark.anyio
async def test_async_tee_child_raising_in_a_write_fails_the_upload() -> None:
    logs = [Log(), Log()]
    tee = AsyncTeeWriter(
        AsyncScripted(Script(writes=("raise",)), logs[0]), AsyncScripted(Script(), logs[1])
    )
    async with AsyncUploader(tee, (1, 2)) as up:
        with pytest.raises(WriterFailure, match="write raised"):
            await up.send(Chunk(b"a"))
    assert logs[0].calls == ["init:ok", "write:raise", "close:ok/Error"]
    assert logs[1].calls == ["init:ok", "close:ok/Error"]
