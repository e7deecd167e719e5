"""Resumable uploads (L16-L18): suspended where they stand, resumed by any process.

A ``StoredWriter`` writes into a shared ``Storage`` (what several server
processes would share: a directory, a bucket). Its saved form is plain data:
the name of its stored file and its size. ``resume`` takes the file up again
at that size, dropping whatever was written after it (by a process that
crashed before it could suspend).
"""

# ruff: noqa: N802 - tests are named after the rule they check (test_L16_...)

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio
import attrs
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from uploadwriter import (
    AsyncUploader,
    Cancel,
    Chunk,
    ChunkTimeout,
    CloseReason,
    Done,
    Err,
    InlineWriter,
    InvalidEvent,
    Ok,
    ResumeError,
    SavedUpload,
    Suspend,
    ThreadedWriter,
    Uploader,
    UploadInProgress,
    WriterFailure,
)
from uploadwriter.reducer import Phase


@attrs.define
class Storage:
    """What every server process shares: stored files, and a log of the closes."""

    files: dict[str, bytearray] = attrs.Factory(dict)
    closes: list[tuple[str, CloseReason]] = attrs.Factory(list)
    #: Names of the files some process holds open right now.
    held: set[str] = attrs.Factory(set)


@attrs.frozen
class Held:
    """A StoredWriter's state: the stored file's name and the bytes written to it."""

    name: str
    size: int


class StoredWriter:
    """A resumable writer over a Storage; its saved form is ``{"name", "size"}``."""

    def __init__(self, storage: Storage, *, fail_suspend: bool = False) -> None:
        self.storage = storage
        self.fail_suspend = fail_suspend

    def init(self, opts: str) -> Ok[Held] | Err[None]:
        self.storage.files[opts] = bytearray()
        self.storage.held.add(opts)
        return Ok(Held(opts, 0))

    def meta(self, state: Held) -> Mapping[str, object]:
        return {"name": state.name, "size": state.size}

    def write_chunk(self, data: bytes, state: Held) -> Ok[Held] | Err[Held]:
        self.storage.files[state.name] += data
        return Ok(Held(state.name, state.size + len(data)))

    def close(self, state: Held, reason: CloseReason) -> Ok[Held] | Err[Held]:
        self.storage.closes.append((state.name, reason))
        self.storage.held.discard(state.name)
        if reason != Done():
            del self.storage.files[state.name]
        return Ok(state)

    def suspend(self, state: Held) -> Ok[dict[str, object]] | Err[Held]:
        if self.fail_suspend:
            return Err("the disk went away", state)
        self.storage.held.discard(state.name)
        return Ok({"name": state.name, "size": state.size})

    def resume(self, saved: dict[str, object]) -> Ok[Held] | Err[None]:
        name, size = saved["name"], saved["size"]
        assert isinstance(name, str)
        assert isinstance(size, int)
        stored = self.storage.files.get(name)
        if stored is None or len(stored) < size:
            return Err(f"{name} is gone", None)
        del stored[size:]  # what a crashed process wrote after its last suspension
        self.storage.held.add(name)
        return Ok(Held(name, size))


# --- the rules, one at a time --------------------------------------------------------------------


def test_L16_leaving_the_block_suspends_a_resumable_upload_and_L17_resumes_it() -> None:
    storage = Storage()
    with Uploader(StoredWriter(storage), "a", expected_size=6, resumable=True) as up:
        up.send(Chunk(b"abc"))
    assert up.phase is Phase.SUSPENDED
    assert storage.closes == []  # not closed: suspended
    assert storage.held == set()
    saved = up.saved()
    assert saved == SavedUpload(3, 6, None, {"name": "a", "size": 3})
    # Any process: only the saved form crosses (as plain data, JSON-able).
    again = SavedUpload.from_dict(saved.as_dict())
    with Uploader.resume(StoredWriter(storage), again) as up2:
        assert up2.size == 3
        up2.send(Chunk(b"def"))  # the expected size: closed with Done() at once
    assert up2.meta() == {"name": "a", "size": 6}
    assert storage.files["a"] == b"abcdef"
    assert storage.closes == [("a", Done())]


def test_L16_suspend_on_demand_and_an_upload_that_is_not_resumable() -> None:
    storage = Storage()
    with Uploader(StoredWriter(storage), "a", resumable=True) as up:
        up.send(Chunk(b"ab"))
        up.send(Suspend())
        assert up.phase is Phase.SUSPENDED
        with pytest.raises(Exception, match="suspended after 2 bytes"):
            up.send(Chunk(b"more"))
    with pytest.raises(UploadInProgress, match="suspended"):
        up.meta()
    with Uploader(StoredWriter(storage), "b") as plain:
        with pytest.raises(InvalidEvent, match="not resumable"):
            plain.send(Suspend())
        plain.send(Chunk(b"x"))
    assert storage.closes == [("b", Cancel())]  # leaving a plain upload cancels it (L10)
    with pytest.raises(UploadInProgress, match="only a suspended upload has a saved form"):
        plain.saved()


def test_L16_a_cancel_while_the_upload_is_being_suspended_changes_nothing() -> None:
    # Once suspend is called the upload is ending already: a Cancel() then (here
    # from inside the callback) changes nothing. A suspended upload is cancelled
    # by resuming it (L17) or by expiry (L18); its writer is never closed twice.
    storage = Storage()
    ups: list[Uploader[Any, Any]] = []

    class CancelledWhileSuspending(StoredWriter):
        def suspend(self, state: Held) -> Ok[dict[str, object]] | Err[Held]:
            ups[0].send(Cancel())
            return super().suspend(state)

    with Uploader(CancelledWhileSuspending(storage), "a", resumable=True) as up:
        ups.append(up)
        up.send(Chunk(b"ab"))
    assert up.phase is Phase.SUSPENDED
    assert up.reason is None
    assert storage.closes == []
    assert up.saved().size == 2


def test_L16_a_resumable_writer_is_required() -> None:
    class Plain:
        def init(self, opts: None) -> Ok[int]:
            return Ok(0)

        def meta(self, state: int) -> Mapping[str, object]:
            return {}

        def write_chunk(self, data: bytes, state: int) -> Ok[int]:
            return Ok(state)

        def close(self, state: int, reason: CloseReason) -> Ok[int]:
            return Ok(state)

    with pytest.raises(TypeError, match="suspend is missing; resume is missing"):
        Uploader(Plain(), None, resumable=True)
    with pytest.raises(TypeError, match="the writer it wraps has no suspend and resume"):
        AsyncUploader(ThreadedWriter(Plain()), None, resumable=True)


def test_L16_a_failed_suspend_fails_the_upload_and_closes_it() -> None:
    storage = Storage()
    up = Uploader(StoredWriter(storage, fail_suspend=True), "a", resumable=True)
    with pytest.raises(WriterFailure, match="suspend failed: 'the disk went away'"), up:
        up.send(Chunk(b"ab"))
    assert storage.closes[0][0] == "a"
    assert "a" not in storage.files


def test_L17_a_resume_that_fails_is_a_resume_error_and_calls_nothing_else() -> None:
    storage = Storage()
    writer = StoredWriter(storage)
    with (
        pytest.raises(ResumeError, match="a is gone"),
        Uploader.resume(writer, SavedUpload(3, None, None, {"name": "a", "size": 3})),
    ):
        pass  # pragma: no cover - not reached
    assert storage.closes == []


def test_L17_resuming_drops_what_a_crashed_process_wrote_after_its_last_suspension() -> None:
    storage = Storage()
    with Uploader(StoredWriter(storage), "a", resumable=True) as up:
        up.send(Chunk(b"abc"))
    saved = up.saved()
    crashed = Uploader.resume(StoredWriter(storage), saved)
    crashed.__enter__()
    crashed.send(Chunk(b"XYZ"))  # then killed: no suspend, no close
    assert storage.files["a"] == b"abcXYZ"
    with Uploader.resume(StoredWriter(storage), saved) as up2:  # the client re-sends from 3
        up2.send(Chunk(b"def"))
        up2.send(Done())
    assert storage.files["a"] == b"abcdef"
    assert storage.closes == [("a", Done())]


def test_L18_an_expired_or_terminated_upload_is_resumed_and_closed_with_cancel() -> None:
    storage = Storage()
    with Uploader(StoredWriter(storage), "a", resumable=True) as up:
        up.send(Chunk(b"abc"))
    with Uploader.resume(StoredWriter(storage), up.saved()) as gone:
        gone.send(Cancel())
    assert storage.closes == [("a", Cancel())]
    assert storage.files == {}


@pytest.mark.anyio
@pytest.mark.parametrize("adapter", [ThreadedWriter, InlineWriter])
async def test_async_suspend_resume_and_a_chunk_timeout_suspends(adapter: Any) -> None:
    storage = Storage()
    async with AsyncUploader(adapter(StoredWriter(storage)), "a", resumable=True) as up:
        await up.send(Chunk(b"ab"))
    assert up.phase is Phase.SUSPENDED
    # A client that stops sending is timed out: the upload is suspended, not lost.
    resumed: AsyncUploader[Any, Held] = AsyncUploader.resume(
        adapter(StoredWriter(storage)), up.saved(), chunk_timeout=0.05
    )

    async def stalls() -> None:
        async with resumed:
            await resumed.send(Chunk(b"cd"))
            await anyio.sleep(5)

    with pytest.raises(ChunkTimeout):
        await stalls()
    assert resumed.phase is Phase.SUSPENDED
    assert resumed.saved().size == 4
    assert storage.closes == []
    async with AsyncUploader.resume(adapter(StoredWriter(storage)), resumed.saved()) as last:
        await last.send(Done())
    assert storage.files["a"] == b"abcd"
    assert storage.closes == [("a", Done())]


# --- servers that restart at arbitrary points ---------------------------------------------------


class Restarts(RuleBasedStateMachine):
    """One upload, sent in pieces across server processes that restart or crash at any point.

    The storage outlives the processes; only the saved form of the upload
    (what the last suspension stored) crosses from one process to the next.
    A crash loses what was written since: the client re-sends from the saved
    size, as a tus client does after asking the server (HEAD).
    """

    def __init__(self) -> None:
        super().__init__()
        self.storage = Storage()
        self.data = b""
        self.saved: dict[str, object] | None = None  # what storage keeps of the upload
        self.up: Uploader[Any, Held] | None = None  # the process serving it now, if any
        self.ended: CloseReason | None = None

    @rule(data=st.binary(min_size=1, max_size=60))
    @precondition(lambda self: not self.data)
    def create(self, data: bytes) -> None:
        # As a tus POST: the upload starts and is suspended at once, so that
        # storage knows it before the client is told where it is.
        self.data = data
        with Uploader(
            StoredWriter(self.storage), "f", expected_size=len(data), resumable=True
        ) as up:
            pass
        self.saved = up.saved().as_dict()

    @rule(n=st.integers(1, 25))
    @precondition(lambda self: self.up is not None and self.up.phase is Phase.OPEN)
    def send(self, n: int) -> None:
        assert self.up is not None
        piece = self.data[self.up.size : self.up.size + n]
        self.up.send(Chunk(piece))
        if self.up.phase is Phase.CLOSED:
            self.ended = self.up.reason
            self.saved = None  # storage forgets a completed upload

    @rule()
    @precondition(lambda self: self.up is not None and self.up.phase is Phase.OPEN)
    def the_request_ends(self) -> None:
        assert self.up is not None
        self.up.__exit__(None, None, None)
        self.saved = self.up.saved().as_dict()
        self.up = None

    @rule()
    @precondition(lambda self: self.up is not None and self.up.phase is Phase.OPEN)
    def the_process_is_killed(self) -> None:
        self.up = None  # no suspend, no close: storage keeps what was written

    @rule()
    @precondition(lambda self: self.up is None and self.saved is not None and self.ended is None)
    def another_process_resumes(self) -> None:
        assert self.saved is not None
        up = Uploader.resume(StoredWriter(self.storage), SavedUpload.from_dict(self.saved))
        up.__enter__()
        self.up = up

    @rule()
    @precondition(lambda self: self.up is not None and self.up.phase is Phase.OPEN)
    def the_client_terminates(self) -> None:
        assert self.up is not None
        self.up.send(Cancel())
        self.ended = Cancel()
        self.saved = None  # storage forgets a terminated upload

    @rule()
    @precondition(lambda self: self.ended is not None)
    def a_late_request_finds_nothing_to_resume(self) -> None:
        assert self.saved is None
        assert self.storage.held == set()

    @invariant()
    def stored_bytes_are_a_prefix_of_the_upload(self) -> None:
        stored = self.storage.files.get("f")
        if stored is not None:
            assert self.data.startswith(bytes(stored))

    @invariant()
    def close_is_called_at_most_once_with_the_right_reason(self) -> None:
        assert len(self.storage.closes) <= 1
        if self.storage.closes:
            assert self.storage.closes[0] == ("f", self.ended)
            if self.ended == Done():
                assert self.storage.files["f"] == self.data  # nothing lost or duplicated
            else:
                assert "f" not in self.storage.files

    def teardown(self) -> None:
        # Whatever state it was left in, the upload can still be ended, once:
        # it expires (resumed from its saved form, and cancelled).
        if self.data and self.ended is None:
            if self.up is not None and self.up.phase is Phase.OPEN:
                self.the_request_ends()
            self.up = None
            self.another_process_resumes()
            self.the_client_terminates()
        if self.data:
            assert len(self.storage.closes) == 1, self.storage.closes


TestRestarts = Restarts.TestCase
TestRestarts.settings = settings(max_examples=150, stateful_step_count=25, deadline=None)
