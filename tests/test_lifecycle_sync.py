"""The lifecycle rules L1-L14 of DESIGN.md, through the synchronous driver ``Uploader``."""

# Tests are named after the rule they check (test_L5_...), as DESIGN.md numbers them.
# ruff: noqa: N802

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from typing import Any

import pytest

from uploadwriter import (
    Cancel,
    Chunk,
    ChunkTimeout,
    Done,
    Error,
    FileTooLarge,
    IncompleteUpload,
    InitError,
    InvalidEvent,
    Ok,
    TimedOut,
    UploadBusy,
    UploadClosed,
    Uploader,
    UploadFailed,
    UploadInProgress,
    WriterFailure,
)
from uploadwriter.reducer import Phase, reduce, start

from .recording import Answer, Call, RecordingWriter, RecState, err, ok, raises, returns

needs_notes = pytest.mark.skipif(
    sys.version_info < (3, 11), reason="exception notes (add_note) are Python 3.11+"
)


class Boom(Exception):
    """An exception raised by the caller's own code inside the ``with`` block."""


# --- L1: init -------------------------------------------------------------------


def test_L1_init_called_once_with_opts() -> None:
    writer = RecordingWriter()
    with Uploader(writer, {"opt": 1}) as up:
        assert writer.calls == [Call("init", opts={"opt": 1})]
        assert up.phase is Phase.OPEN
        assert up.state == RecState()
    assert writer.names() == ["init", "close"]


def test_L1_repr_shows_the_phase_and_size() -> None:
    up = Uploader(RecordingWriter(), None)
    assert repr(up) == "<Uploader starting size=0>"
    with up:
        up.send(Chunk(b"abc"))
        assert repr(up) == "<Uploader open size=3>"
    assert repr(up) == "<Uploader closed size=3>"


def test_L1_init_err_never_starts_the_upload() -> None:
    writer = RecordingWriter(init=[err("no room")])
    up = Uploader(writer, None)
    with pytest.raises(InitError) as info, up:
        pytest.fail("the block must not run")  # pragma: no cover
    assert info.value.reason == "no room"
    assert "no room" in str(info.value)
    assert writer.names() == ["init"]
    assert up.phase is Phase.CLOSED
    with pytest.raises(UploadFailed):
        up.meta()
    with pytest.raises(UploadClosed):
        up.send(Chunk(b"late"))
    assert writer.names() == ["init"]


def test_L1_init_raising_is_init_error_with_cause() -> None:
    boom = OSError("no such dir")
    writer = RecordingWriter(init=[raises(boom)])
    with pytest.raises(InitError) as info, Uploader(writer, None):
        pass  # pragma: no cover
    assert info.value.reason is boom
    assert info.value.__cause__ is boom
    assert writer.names() == ["init"]


def test_L1_init_interrupted_reraises_the_interrupt() -> None:
    writer = RecordingWriter(init=[raises(KeyboardInterrupt())])
    with pytest.raises(KeyboardInterrupt), Uploader(writer, None):
        pass  # pragma: no cover
    assert writer.names() == ["init"]


def test_L1_init_malformed_answer_is_init_error() -> None:
    writer = RecordingWriter(init=[returns("yes")])
    with pytest.raises(InitError) as info, Uploader(writer, None):
        pass  # pragma: no cover
    assert isinstance(info.value.reason, InvalidEvent)
    assert "Ok(state) or Err(reason, state)" in str(info.value)
    assert writer.names() == ["init"]


def test_L1_an_uploader_runs_one_upload() -> None:
    writer = RecordingWriter()
    up = Uploader(writer, None)
    with up:
        up.send(Done())
    with pytest.raises(UploadBusy, match="single upload"), up:
        pass  # pragma: no cover
    assert writer.names() == ["init", "close"]


# --- L2: the size limit -----------------------------------------------------------


def test_L2_chunk_past_max_size_is_not_written() -> None:
    writer = RecordingWriter()
    with Uploader(writer, None, max_size=5) as up:
        up.send(Chunk(b"abc"))
        with pytest.raises(FileTooLarge) as info:
            up.send(Chunk(b"def"))
    assert (info.value.limit, info.value.size, info.value.attempted) == (5, 3, 3)
    assert "5 bytes" in str(info.value)
    assert writer.written() == b"abc"
    assert [c.reason for c in writer.closes()] == [Cancel()]
    assert up.size == 3
    assert isinstance(up.failure, FileTooLarge)


def test_L2_expected_size_is_the_limit_when_smaller() -> None:
    writer = RecordingWriter()
    with (
        pytest.raises(FileTooLarge) as info,
        Uploader(writer, None, expected_size=4, max_size=100) as up,
    ):
        up.send(Chunk(b"abcde"))
    assert info.value.limit == 4
    assert writer.names() == ["init", "close"]
    assert writer.closes()[0].reason == Cancel()


def test_L2_max_size_is_the_limit_when_smaller() -> None:
    writer = RecordingWriter()
    with (
        pytest.raises(FileTooLarge) as info,
        Uploader(writer, None, expected_size=10, max_size=4) as up,
    ):
        up.send(Chunk(b"abcde"))
    assert info.value.limit == 4


def test_L2_chunk_up_to_the_limit_is_written_unchanged() -> None:
    writer = RecordingWriter()
    with Uploader(writer, None, max_size=6) as up:
        up.send(Chunk(b"abc"))
        up.send(Chunk(b"def"))
        up.send(Chunk(b""))
        up.send(Done())
    assert [c.data for c in writer.calls if c.name == "write_chunk"] == [b"abc", b"def", b""]
    assert writer.closes()[0].reason == Done()


# --- L3: write Ok -------------------------------------------------------------------


def test_L3_ok_state_becomes_the_state_and_size_grows() -> None:
    custom = RecState(b"custom", 42)
    writer = RecordingWriter(write=[ok(state=custom)])
    with Uploader(writer, None) as up:
        up.send(Chunk(b"abcd"))
        assert up.state == custom
        assert up.size == 4
        up.send(Chunk(b"ef"))
        assert up.size == 6
    assert writer.calls[2] == Call("write_chunk", data=b"ef", state=custom)


def test_L3_expected_size_reached_closes_with_done_at_once() -> None:
    writer = RecordingWriter()
    with Uploader(writer, None, expected_size=6) as up:
        up.send(Chunk(b"abc"))
        assert writer.closes() == []
        up.send(Chunk(b"def"))
        assert writer.closes() == [Call("close", state=RecState(b"abcdef", 2), reason=Done())]
        assert up.reason == Done()
        assert up.meta() == {"data": b"abcdef", "serial": 3}
        up.send(Done())  # changes nothing (L8)
    assert writer.names() == ["init", "write_chunk", "write_chunk", "close", "meta"]


def test_L3_zero_expected_size_closes_with_done_right_after_init() -> None:
    writer = RecordingWriter()
    with Uploader(writer, None, expected_size=0) as up:
        assert up.reason == Done()
    assert writer.names() == ["init", "close"]
    assert up.meta()["data"] == b""


# --- L4: write Err ---------------------------------------------------------------------


def test_L4_write_err_closes_with_error_and_the_err_state() -> None:
    failed_state = RecState(b"half", 99)
    writer = RecordingWriter(write=[ok(), err("disk full", state=failed_state)])
    with Uploader(writer, None) as up:
        up.send(Chunk(b"ab"))
        with pytest.raises(WriterFailure) as info:
            up.send(Chunk(b"cd"))
    assert info.value.reason == "disk full"
    assert info.value.during == "write_chunk"
    assert "disk full" in str(info.value)
    assert writer.closes() == [Call("close", state=failed_state, reason=Error("disk full"))]
    assert up.size == 2
    assert up.reason == Error("disk full")
    with pytest.raises(UploadFailed) as failed:
        up.meta()
    assert failed.value.failure is info.value


# --- L5: close exactly once ---------------------------------------------------------------

Ending = Callable[[Uploader[Any, RecState]], None]


def _end_done(up: Uploader[Any, RecState]) -> None:
    up.send(Chunk(b"x"))
    up.send(Done())


def _end_cancel(up: Uploader[Any, RecState]) -> None:
    up.send(Cancel())
    up.send(Cancel())


def _end_expected(up: Uploader[Any, RecState]) -> None:
    up.send(Chunk(b"xyz"))  # expected_size=3 below: closes with Done()
    up.send(Done())


def _end_nothing(up: Uploader[Any, RecState]) -> None:
    pass


def _end_body_raises(up: Uploader[Any, RecState]) -> None:
    up.send(Chunk(b"x"))
    raise Boom


def _end_too_large(up: Uploader[Any, RecState]) -> None:
    up.send(Chunk(b"abcd"))


def _end_incomplete(up: Uploader[Any, RecState]) -> None:
    up.send(Done())


@pytest.mark.parametrize(
    ("ending", "expected_size", "reason", "raised"),
    [
        (_end_done, None, Done(), None),
        (_end_cancel, None, Cancel(), None),
        (_end_expected, 3, Done(), None),
        (_end_nothing, None, Cancel(), None),
        (_end_body_raises, None, Cancel(), Boom),
        (_end_too_large, 3, Cancel(), FileTooLarge),
        (_end_incomplete, 3, Cancel(), IncompleteUpload),
    ],
)
def test_L5_close_exactly_once(
    ending: Ending, expected_size: int | None, reason: object, raised: type[Exception] | None
) -> None:
    writer = RecordingWriter()
    expectation = pytest.raises(raised) if raised is not None else contextlib.nullcontext()
    with expectation, Uploader(writer, None, expected_size=expected_size) as up:
        ending(up)
    assert [c.reason for c in writer.closes()] == [reason]


def test_L5_close_exactly_once_when_write_errs_then_block_exits() -> None:
    writer = RecordingWriter(write=[err("nope")])
    with pytest.raises(WriterFailure), Uploader(writer, None) as up:
        up.send(Chunk(b"x"))
    assert [c.reason for c in writer.closes()] == [Error("nope")]


def test_L5_close_exactly_once_when_body_raises() -> None:
    writer = RecordingWriter()

    def handler() -> None:
        with Uploader(writer, None) as up:
            up.send(Chunk(b"abc"))
            raise Boom

    with pytest.raises(Boom):
        handler()
    assert writer.closes() == [Call("close", state=RecState(b"abc", 1), reason=Cancel())]


def test_L5_close_exactly_once_when_returning_from_inside_the_block() -> None:
    writer = RecordingWriter()

    def handler() -> int:
        with Uploader(writer, None) as up:
            up.send(Chunk(b"abc"))
            return up.size

    assert handler() == 3
    assert [c.reason for c in writer.closes()] == [Cancel()]


# --- L6: close(Done) Err ----------------------------------------------------------------------


def test_L6_close_done_err_fails_the_upload() -> None:
    writer = RecordingWriter(close=[err("flush failed")])
    with Uploader(writer, None) as up:
        up.send(Chunk(b"abc"))
        with pytest.raises(WriterFailure) as info:
            up.send(Done())
        assert info.value.during == "close"
        assert info.value.reason == "flush failed"
    assert [c.reason for c in writer.closes()] == [Done()]
    with pytest.raises(UploadFailed):
        up.meta()
    assert "meta" not in writer.names()


def test_L6_close_done_err_at_expected_size() -> None:
    writer = RecordingWriter(close=[err("flush failed")])
    with Uploader(writer, None, expected_size=3) as up:
        with pytest.raises(WriterFailure):
            up.send(Chunk(b"abc"))
        up.send(Cancel())
    assert len(writer.closes()) == 1
    assert up.failure is not None


# --- L7: Done event ----------------------------------------------------------------------------


def test_L7_done_without_expected_size_closes_with_done() -> None:
    writer = RecordingWriter()
    with Uploader(writer, None) as up:
        up.send(Chunk(b"abc"))
        up.send(Done())
        assert up.reason == Done()
    assert writer.closes() == [Call("close", state=RecState(b"abc", 1), reason=Done())]
    assert up.meta() == {"data": b"abc", "serial": 2}


def test_L7_done_before_expected_size_is_incomplete() -> None:
    writer = RecordingWriter()
    with Uploader(writer, None, expected_size=10) as up:
        up.send(Chunk(b"abc"))
        with pytest.raises(IncompleteUpload) as info:
            up.send(Done())
    assert (info.value.expected_size, info.value.size) == (10, 3)
    assert "3 of the 10" in str(info.value)
    assert [c.reason for c in writer.closes()] == [Cancel()]
    with pytest.raises(UploadFailed) as failed:
        up.meta()
    assert failed.value.failure is info.value
    assert failed.value.__cause__ is info.value


# --- L8: Cancel, and Done/Cancel after close --------------------------------------------------


def test_L8_cancel_while_open_closes_with_cancel() -> None:
    writer = RecordingWriter()
    with Uploader(writer, None) as up:
        up.send(Chunk(b"abc"))
        up.send(Cancel())
        assert up.reason == Cancel()
        assert up.phase is Phase.CLOSED
    assert [c.reason for c in writer.closes()] == [Cancel()]
    with pytest.raises(UploadFailed, match="Cancel"):
        up.meta()


@pytest.mark.parametrize("first", [Done(), Cancel()])
def test_L8_done_and_cancel_after_close_change_nothing(first: Done | Cancel) -> None:
    writer = RecordingWriter()
    with Uploader(writer, None) as up:
        up.send(first)
        before = up.upload
        for event in (Done(), Cancel(), Done(), Cancel()):
            up.send(event)
            assert up.upload == before
    assert writer.names() == ["init", "close"]


# --- L9: Chunk after close ------------------------------------------------------------------------


@pytest.mark.parametrize("closer", [Done(), Cancel()])
def test_L9_chunk_after_close_is_refused_not_dropped(closer: Done | Cancel) -> None:
    writer = RecordingWriter()
    with Uploader(writer, None) as up:
        up.send(Chunk(b"ab"))
        up.send(closer)
        with pytest.raises(UploadClosed) as info:
            up.send(Chunk(b"late"))
        assert (info.value.size, info.value.attempted) == (2, 4)
        assert "refused" in str(info.value)
    assert writer.names() == ["init", "write_chunk", "close"]
    assert up.size == 2


def test_L9_chunk_after_a_failure_is_refused() -> None:
    writer = RecordingWriter(write=[err("x")])
    with Uploader(writer, None) as up:
        with pytest.raises(WriterFailure):
            up.send(Chunk(b"ab"))
        with pytest.raises(UploadClosed):
            up.send(Chunk(b"cd"))
    assert writer.names() == ["init", "write_chunk", "close"]


# --- L10: leaving the block ----------------------------------------------------------------------


def test_L10_leaving_the_block_normally_cancels() -> None:
    writer = RecordingWriter()
    with Uploader(writer, None) as up:
        up.send(Chunk(b"abc"))
    assert up.reason == Cancel()
    assert writer.closes() == [Call("close", state=RecState(b"abc", 1), reason=Cancel())]


def test_L10_leaving_the_block_by_exception_cancels_and_keeps_the_exception() -> None:
    writer = RecordingWriter()
    boom = Boom("in the handler")
    with pytest.raises(Boom) as info, Uploader(writer, None):
        raise boom
    assert info.value is boom
    assert [c.reason for c in writer.closes()] == [Cancel()]


def test_L10_leaving_by_keyboard_interrupt_cancels() -> None:
    writer = RecordingWriter()
    with pytest.raises(KeyboardInterrupt), Uploader(writer, None):
        raise KeyboardInterrupt
    assert [c.reason for c in writer.closes()] == [Cancel()]


def test_L10_exit_cancel_failure_is_raised_when_the_block_succeeded() -> None:
    writer = RecordingWriter(close=[err("cannot remove")])
    with pytest.raises(WriterFailure) as info, Uploader(writer, None):
        pass
    assert info.value.during == "close"
    assert len(writer.closes()) == 1


@needs_notes
def test_L10_exit_cancel_failure_is_noted_on_the_callers_exception() -> None:
    writer = RecordingWriter(close=[raises(OSError("cannot remove"))])
    with pytest.raises(Boom) as info, Uploader(writer, None):
        raise Boom
    notes = getattr(info.value, "__notes__", [])
    assert len(notes) == 1
    assert "cancelling the upload on exit also failed" in notes[0]
    assert "cannot remove" in notes[0]
    assert len(writer.closes()) == 1


def test_L10_exit_cancel_failure_without_add_note_keeps_the_callers_exception() -> None:
    class NoNotes(Exception):
        """An exception type without ``add_note``, as on Python 3.10."""

        add_note = None

    writer = RecordingWriter(close=[err("cannot remove")])
    with pytest.raises(NoNotes), Uploader(writer, None):
        raise NoNotes
    assert len(writer.closes()) == 1


# --- L11: raising callbacks ----------------------------------------------------------------------


def test_L11_raising_write_closes_with_error_and_chains_the_exception() -> None:
    boom = OSError("disk on fire")
    writer = RecordingWriter(write=[ok(), raises(boom)])
    with Uploader(writer, None) as up:
        up.send(Chunk(b"ab"))
        with pytest.raises(WriterFailure) as info:
            up.send(Chunk(b"cd"))
    assert info.value.__cause__ is boom
    assert info.value.reason is boom
    # The last good state: the one before the raising write.
    assert writer.closes() == [Call("close", state=RecState(b"ab", 1), reason=Error(boom))]


def test_L11_malformed_write_answer_is_a_writer_failure() -> None:
    writer = RecordingWriter(write=[returns(None)])
    with Uploader(writer, None) as up, pytest.raises(WriterFailure) as info:
        up.send(Chunk(b"ab"))
    assert isinstance(info.value.reason, InvalidEvent)
    assert "write_chunk returned None" in str(info.value)
    assert [c.reason for c in writer.closes()] == [Error(info.value.reason)]


def test_L11_keyboard_interrupt_in_write_chunk_cancels_and_propagates() -> None:
    interrupt = KeyboardInterrupt()
    writer = RecordingWriter(write=[raises(interrupt)])
    with pytest.raises(KeyboardInterrupt) as info, Uploader(writer, None) as up:
        up.send(Chunk(b"ab"))
    assert info.value is interrupt
    assert [c.reason for c in writer.closes()] == [Cancel()]
    assert up.failure is interrupt


def test_L11_raising_close_is_not_closed_again() -> None:
    boom = OSError("flush failed")
    writer = RecordingWriter(close=[raises(boom)])
    with Uploader(writer, None) as up:
        with pytest.raises(WriterFailure) as info:
            up.send(Done())
        assert info.value.__cause__ is boom
        assert info.value.during == "close"
    assert len(writer.closes()) == 1


def test_L11_raising_close_after_a_failed_write_keeps_the_write_failure() -> None:
    writer = RecordingWriter(write=[err("bad")], close=[raises(OSError("worse"))])
    with Uploader(writer, None) as up, pytest.raises(WriterFailure) as info:
        up.send(Chunk(b"ab"))
    assert info.value.reason == "bad"
    assert len(writer.closes()) == 1


@needs_notes
@pytest.mark.parametrize(
    ("limit", "chunk", "write", "expected_error"),
    [
        (2, b"abc", ok(), FileTooLarge),  # close(Cancel()) after a refused chunk
        (None, b"abc", err("bad"), WriterFailure),  # close(Error(...)) after a failed write
    ],
)
def test_L11_raising_close_after_a_failure_is_not_swallowed(
    limit: int | None, chunk: bytes, write: Answer, expected_error: type[Exception]
) -> None:
    boom = OSError("cannot remove the temp file")
    writer = RecordingWriter(write=[write], close=[raises(boom)])
    with Uploader(writer, None, max_size=limit) as up, pytest.raises(expected_error) as info:
        up.send(Chunk(chunk))
    # The first failure is what the caller gets; the close's exception travels
    # with it, so that it is seen (L11: never swallowed).
    notes = getattr(info.value, "__notes__", [])
    assert any(repr(boom) in note for note in notes), notes
    assert len(writer.closes()) == 1


def test_L11_interrupted_close_propagates_the_interrupt() -> None:
    writer = RecordingWriter(close=[raises(KeyboardInterrupt())])
    with Uploader(writer, None) as up, pytest.raises(KeyboardInterrupt):
        up.send(Done())
    assert len(writer.closes()) == 1
    with pytest.raises(UploadFailed):
        up.meta()


def test_L11_malformed_close_answer_is_a_writer_failure() -> None:
    writer = RecordingWriter(close=[returns(42)])
    with Uploader(writer, None) as up, pytest.raises(WriterFailure, match="close returned 42"):
        up.send(Done())
    assert len(writer.closes()) == 1


# --- L12: meta ------------------------------------------------------------------------------------


def test_L12_meta_in_progress_before_close() -> None:
    writer = RecordingWriter()
    with Uploader(writer, None) as up:
        with pytest.raises(UploadInProgress, match="open"):
            up.meta()
        up.send(Chunk(b"abc"))
        with pytest.raises(UploadInProgress):
            up.meta()
        up.send(Done())
        assert up.meta() == {"data": b"abc", "serial": 2}
    assert up.meta() == {"data": b"abc", "serial": 2}
    assert writer.names().count("meta") == 2


def test_L12_meta_failed_after_cancel_or_failure() -> None:
    cancelled = RecordingWriter()
    with Uploader(cancelled, None) as up:
        up.send(Cancel())
    with pytest.raises(UploadFailed):
        up.meta()
    failing = RecordingWriter(write=[err("x")])
    with Uploader(failing, None) as up2, pytest.raises(WriterFailure):
        up2.send(Chunk(b"a"))
    with pytest.raises(UploadFailed, match="failed"):
        up2.meta()
    assert "meta" not in cancelled.names() + failing.names()
    # UploadInProgress and UploadFailed are distinct errors.
    assert not issubclass(UploadFailed, UploadInProgress)
    assert not issubclass(UploadInProgress, UploadFailed)


def test_L12_meta_before_entering_is_in_progress() -> None:
    up = Uploader(RecordingWriter(), None)
    with pytest.raises(UploadInProgress, match="starting"):
        up.meta()


# --- L13: chunk timeout ---------------------------------------------------------------------------


def test_L13_timed_out_is_the_drivers_event_not_the_callers() -> None:
    # The sync driver has no clock. TimedOut is what a driver feeds the
    # reducer (a loop of your own embeds the reducer, which times the upload
    # out the same way); sent to Uploader, it is refused and changes nothing.
    writer = RecordingWriter()
    with Uploader(writer, None) as up:
        up.send(Chunk(b"ab"))
        with pytest.raises(
            InvalidEvent, match="the driver feeds timeouts and leaving the block itself"
        ):
            up.send(TimedOut(2.5))  # type: ignore[arg-type]  # a driver event, sent by hand
        up.send(Done())
    assert [c.reason for c in writer.closes()] == [Done()]
    step = reduce(reduce(reduce(start(), Ok("s")).upload, TimedOut(2.5)).upload, Ok("s"))
    assert isinstance(step.error, ChunkTimeout)
    assert step.error.seconds == 2.5
    assert "2.5 seconds" in str(step.error)


# --- L14: bad input -------------------------------------------------------------------------------


def test_L14_bytearray_and_memoryview_are_copied() -> None:
    writer = RecordingWriter()
    buffer = bytearray(b"abc")
    view_source = bytearray(b"def")
    with Uploader(writer, None) as up:
        up.send(Chunk(buffer))
        buffer[:] = b"XYZ"
        up.send(Chunk(memoryview(view_source)))
        view_source[:] = b"UVW"
        up.send(Done())
    data = [c.data for c in writer.calls if c.name == "write_chunk"]
    assert data == [b"abc", b"def"]
    assert all(type(d) is bytes for d in data)
    assert up.meta()["data"] == b"abcdef"


def test_L14_bad_input_calls_nothing_and_loses_nothing() -> None:
    writer = RecordingWriter()
    with Uploader(writer, None) as up:
        up.send(Chunk(b"ab"))
        with pytest.raises(InvalidEvent):
            up.send(b"raw bytes")  # type: ignore[arg-type]  # the mistake under test
        with pytest.raises(InvalidEvent):
            Chunk("text")  # type: ignore[arg-type]  # the mistake under test
        up.send(Chunk(b"cd"))
        up.send(Done())
    assert writer.names() == ["init", "write_chunk", "write_chunk", "close"]
    assert up.meta()["data"] == b"abcd"
