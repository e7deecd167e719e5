"""Properties of the pure reducer over arbitrary event streams and arbitrary writer answers.

A small harness plays the driver: it feeds :func:`reduce` the caller's events
and, whenever a step asks for a writer call, answers it with a drawn answer
(``Ok``, ``Err``, a raised exception, or something malformed). It checks every
step against the lifecycle rules, and finally leaves the block as a driver
does, by sending ``Cancel()``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uploadwriter import (
    Cancel,
    Chunk,
    ChunkTimeout,
    Done,
    Err,
    Error,
    InitError,
    InvalidEvent,
    Ok,
    ResumeError,
    TimedOut,
    UploadBusy,
    UploadClosed,
    UploadError,
    UploadFailed,
    WriterFailure,
)
from uploadwriter.reducer import (
    PENDING,
    TRANSITIONS,
    Kind,
    Phase,
    Step,
    Upload,
    completed,
    kind_of,
    meta_error,
    reduce,
    start,
)

REFUSALS = (UploadBusy, InvalidEvent, UploadClosed)
INTERRUPTS = (KeyboardInterrupt, asyncio.CancelledError)


@attrs.frozen
class ChunkSub(Chunk):
    """A subclass of an event behaves as the event."""


@attrs.frozen
class OkSub(Ok[Any]):
    """A subclass of a result behaves as the result."""


# --- strategies ----------------------------------------------------------------------------


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """Draw from one of the strategies, picked with the given weights."""
    return st.sampled_from([s for weight, s in choices for _ in range(weight)]).flatmap(lambda s: s)


# Small chunks, and now and then a big one, so that streams pass 64 KiB.
small_data = st.binary(max_size=24)
big_data = st.builds(lambda n, b: bytes([b]) * n, st.integers(10_000, 70_000), st.integers(0, 255))
chunk_data = weighted((4, small_data), (1, big_data))


def _chunks(data: bytes, kind: int) -> Chunk:
    if kind == 1:
        return Chunk(bytearray(data))
    if kind == 2:
        return Chunk(memoryview(data))
    if kind == 3:
        return ChunkSub(data)
    return Chunk(data)


chunks = st.builds(_chunks, chunk_data, st.integers(0, 3))

# Things that are not events; built afresh each time (exceptions are mutable).
JUNK: list[Callable[[], object]] = [
    lambda: None,
    lambda: "text",
    lambda: 42,
    lambda: b"raw bytes",
    lambda: Ok("stray"),
    lambda: Err("stray", None),
    lambda: OkSub("stray"),
    lambda: ValueError("stray"),
    KeyboardInterrupt,
    lambda: Error("reason as event"),
    object,
]
junk = st.sampled_from(JUNK).map(lambda make: make())

# Mostly chunks, so that streams get long; Done/Cancel/TimedOut and junk now and then.
user_events = weighted(
    (30, chunks),
    (1, st.just(Done())),
    (1, st.just(Cancel())),
    (1, st.just(TimedOut(1.5))),
    (2, junk),
)

states = st.sampled_from(["s1", "s2", ("t", 3), None])

RAISED: list[Callable[[], BaseException]] = [
    lambda: ValueError("writer bug"),
    lambda: OSError("disk full"),
    KeyboardInterrupt,
    asyncio.CancelledError,
    lambda: UploadClosed(0, 1),  # a library error raised by a writer is still its error
]
raised = st.sampled_from(RAISED).map(lambda make: make())

malformed = st.sampled_from(
    [None, 42, "ok", Done(), Cancel(), Chunk(b"x"), TimedOut(2.0), Error("x")]
)

# Mostly Ok, so that uploads get far; every other kind of answer now and then.
answers = weighted(
    (12, st.builds(Ok, states)),
    (1, st.builds(OkSub, states)),
    (1, st.builds(Err, st.sampled_from(["full", 7, None]), states)),
    (1, raised),
    (1, malformed),
)

limits = weighted((2, st.none()), (1, st.integers(0, 100)), (1, st.integers(0, 200_000)))


# --- the harness ---------------------------------------------------------------------------


class Harness:
    """Plays the driver around :func:`reduce`, and checks every step it takes."""

    def __init__(self, expected_size: int | None, max_size: int | None) -> None:
        self.upload: Upload[Any] = start(expected_size=expected_size, max_size=max_size)
        self.expected = expected_size
        known = [n for n in (expected_size, max_size) if n is not None]
        self.limit = min(known) if known else None
        self.pending: object = "init"  # the writer call awaiting an answer
        self.init_ok = False
        self.calls: list[object] = []  # Chunk / close reason, in order
        self.closes: list[object] = []
        self.sent = b""  # bytes of every chunk the caller sent while nothing was pending
        self.written_ok = b""  # bytes of the writes answered Ok
        self.raised: list[BaseException] = []  # exceptions the writer raised
        self.errors: list[BaseException] = []  # errors given to the caller
        self.close_ok = False

    # Every call to reduce goes through here.
    def feed(self, event: object) -> Step[Any]:
        before = self.upload
        step = reduce(before, event)
        assert isinstance(step, Step)
        # Every step lands in a phase its table row names.
        assert step.upload.phase in TRANSITIONS[before.phase, kind_of(event)].to
        error = step.error
        if isinstance(error, REFUSALS):
            # A refusal changes nothing and calls nothing.
            assert step.upload is before
            assert step.call is None
            return step
        if error is not None:
            self.errors.append(error)
        self.upload = after = step.upload
        call = step.call
        if call is None:
            # Nothing to call: waiting for the caller, closed, refused, or a
            # cancel recorded while a call is pending.
            assert (
                after.phase in (Phase.OPEN, Phase.CLOSED)
                or after is before
                or (after.phase in PENDING and after.requested is not None)
            )
        elif isinstance(call, Chunk):
            assert after.phase is Phase.WRITING
            assert not self.closes, "no write after close"
            self.calls.append(call)
        else:
            assert after.phase is Phase.CLOSING
            assert isinstance(call, (Done, Cancel, Error))
            self.closes.append(call)
            assert len(self.closes) == 1, "close is requested at most once"
            assert after.close_reason == call
            if call == Done():
                assert self.expected is None or after.size == self.expected
            self.calls.append(call)
        return step

    def check(self, upload: Upload[Any]) -> None:
        assert upload.size == len(self.written_ok)
        written = b"".join(c.data for c in self.calls if isinstance(c, Chunk))
        assert self.sent.startswith(written), "bytes written are a prefix of bytes sent"
        if self.limit is not None:
            assert upload.size <= self.limit
            assert len(written) <= self.limit
        if not self.init_ok:
            assert self.calls == []

    def answer(self, answer: object) -> None:
        """Answer the pending writer call with ``answer`` (raised if it is an exception)."""
        pending = self.pending
        assert pending is not None
        before = self.upload
        requested = before.requested
        step = self.feed(answer)
        if isinstance(step.error, REFUSALS) or step.upload is before:
            # Still pending: the answer was refused (a user event, sent too
            # early), or changed nothing (Done/Cancel while closing already).
            return
        if step.call is None and step.upload.phase in PENDING:
            # A Cancel() or a timeout while the call is pending: recorded, and
            # the call is still pending. The first request stands.
            assert isinstance(answer, (Cancel, TimedOut))
            assert step.upload.requested == (requested or answer)
            return
        if requested is not None and isinstance(answer, Ok) and pending != "close":
            # The recorded request closes the writer with Cancel() at once.
            assert step.call == Cancel()
            assert step.upload.state == answer.state
        if isinstance(answer, BaseException):
            self.raised.append(answer)
        if pending == "init":
            self.init_ok = isinstance(answer, Ok)
            if not self.init_ok:
                assert step.upload.phase is Phase.CLOSED
                assert isinstance(
                    step.error, (InitError, KeyboardInterrupt, asyncio.CancelledError)
                ) or (
                    # A cancellation after the chunk timeout was recorded: the
                    # deadline's own (the upload never started).
                    isinstance(requested, TimedOut)
                    and isinstance(answer, asyncio.CancelledError)
                    and isinstance(step.error, ChunkTimeout)
                )
        elif isinstance(pending, Chunk):
            if isinstance(answer, Ok):
                self.written_ok += pending.data
                if step.upload.size == self.expected and requested is None:
                    # (A cancel recorded during that last write wins: checked above.)
                    assert step.call == Done(), "the expected size closes with Done() at once"
            elif not isinstance(answer, TimedOut):
                # A failed write closes with Error(reason), or Cancel() if interrupted.
                assert self.closes, "a failed write closes the writer"
        else:
            self.close_ok = isinstance(answer, Ok)
            assert step.upload.phase is Phase.CLOSED
        self.pending = step.call
        self.check(step.upload)

    def settle(self, data: st.DataObject | None) -> None:
        """Answer writer calls until none is pending: with drawn answers, or all ``Ok``."""
        tries = 0
        while self.pending is not None:
            tries += 1
            drawn = data.draw(answers) if data is not None and tries < 8 else Ok("ok")
            self.answer(drawn)

    def send(self, event: object, data: st.DataObject | None = None) -> None:
        if isinstance(event, Chunk) and self.upload.phase is Phase.OPEN:
            self.sent += event.data
        self.feed(event)
        self.check(self.upload)
        # A user event may start a call (a write, a close).
        self.pending = self.upload_call()
        self.settle(data)

    def upload_call(self) -> object:
        phase = self.upload.phase
        if phase is Phase.WRITING:
            return self.calls[-1]
        if phase is Phase.CLOSING:
            return self.closes[-1]
        return None


def run(data: st.DataObject, expected: int | None, maximum: int | None, n: int) -> Harness:
    h = Harness(expected, maximum)
    h.settle(data)  # init
    for _ in range(n):
        h.send(data.draw(user_events), data)
    h.send(Cancel(), data)  # the driver leaves the block
    return h


# --- properties ------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.data(), limits, limits, st.integers(0, 20))
def test_close_is_requested_exactly_once_after_a_successful_init(
    data: st.DataObject, expected: int | None, maximum: int | None, n: int
) -> None:
    h = run(data, expected, maximum, n)
    assert h.upload.phase is Phase.CLOSED
    assert len(h.closes) == (1 if h.init_ok else 0)
    if h.closes:
        assert h.upload.close_reason == h.closes[0]
        assert isinstance(h.calls[-1], (Done, Cancel, Error))  # close is the last call


@settings(max_examples=300, deadline=None)
@given(st.data(), limits, limits, st.integers(0, 20))
def test_meta_only_after_a_done_close_that_answered_ok(
    data: st.DataObject, expected: int | None, maximum: int | None, n: int
) -> None:
    h = run(data, expected, maximum, n)
    error = meta_error(h.upload)
    done_ok = h.closes == [Done()] and h.close_ok
    assert (error is None) == done_ok
    assert completed(h.upload) == done_ok
    if error is not None:
        assert isinstance(error, UploadFailed)
    if done_ok and h.expected is not None:
        assert h.upload.size == h.expected


@settings(max_examples=300, deadline=None)
@given(st.data(), limits, limits, st.integers(0, 20))
def test_raised_exceptions_reach_the_caller(
    data: st.DataObject, expected: int | None, maximum: int | None, n: int
) -> None:
    h = run(data, expected, maximum, n)
    for exc in h.raised:
        # Re-raised itself, or the cause of an error the caller got, or noted
        # on it (L11). An interrupt raised by close goes on in its place, and
        # then the failure it interrupted stays the upload's recorded failure.
        # A close's own failure after another one is kept as data for the
        # driver, which notes it on the error it raises.
        seen = any(e is exc or e.__cause__ is exc for e in h.errors)
        failure = h.upload.failure
        recorded = failure is not None and exc in (failure, failure.__cause__)
        ending = h.upload.ending
        kept = ending is not None and ending.later_failure is exc
        assert seen or recorded or kept, (exc, h.errors)


@settings(max_examples=200, deadline=None)
@given(st.data(), st.integers(0, 200_000), st.integers(1, 6))
def test_big_streams_past_64_kib_stop_at_the_limit(data: st.DataObject, limit: int, n: int) -> None:
    h = Harness(None, limit)
    h.answer(Ok("s"))
    for _ in range(n):
        h.send(Chunk(data.draw(big_data)), data)
    h.send(Cancel(), data)
    assert h.upload.size <= limit
    assert len(h.closes) == 1


@settings(max_examples=200, deadline=None)
@given(limits, st.lists(chunk_data, max_size=8), st.booleans())
def test_all_ok_writer_writes_everything_within_the_limit(
    maximum: int | None, payload: list[bytes], announce: bool
) -> None:
    total = sum(map(len, payload))
    expected = total if announce else None
    h = Harness(expected, maximum)
    h.settle(None)
    for piece in payload:
        h.send(Chunk(piece))
    h.send(Done())
    if maximum is None or total <= maximum:
        assert h.written_ok == b"".join(payload)
        assert h.closes == [Done()]
        assert meta_error(h.upload) is None
    else:
        assert h.closes == [Cancel()]
        assert isinstance(h.upload.failure, UploadError)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(list(Phase)), st.one_of(user_events, answers))
def test_reduce_is_total_and_refusals_change_nothing(phase: Phase, event: object) -> None:
    upload: Upload[Any] = start(expected_size=10, max_size=20).evolve(phase=phase)
    step = reduce(upload, event)
    assert step.upload.phase in TRANSITIONS[phase, kind_of(event)].to
    if isinstance(step.error, REFUSALS):
        assert step.upload is upload
        assert step.call is None
    if kind_of(event) is Kind.MALFORMED:
        # Not an event, not an answer: with a call pending it is a malformed
        # answer (a broken writer); otherwise it is refused.
        if phase in (Phase.OPEN, Phase.CLOSED, Phase.SUSPENDED):
            assert isinstance(step.error, InvalidEvent)
        elif phase in (Phase.WRITING, Phase.SUSPENDING):
            assert isinstance(step.call, Error)
            assert isinstance(step.call.reason, InvalidEvent)
            assert isinstance(step.upload.failure, WriterFailure)
        else:
            assert isinstance(step.error, (InitError, ResumeError, WriterFailure))
            assert isinstance(step.error.__cause__, InvalidEvent)


def test_write_failure_errors_name_the_writer_call() -> None:
    upload: Upload[Any] = start()
    upload = reduce(upload, Ok("s")).upload
    step = reduce(upload, Chunk(b"abc"))
    step = reduce(step.upload, Err("full", "s2"))
    assert step.call == Error("full")
    assert step.upload.state == "s2"
    step = reduce(step.upload, Ok("s3"))
    assert isinstance(step.error, WriterFailure)
    assert step.error.during == "write_chunk"


def test_a_later_failure_after_another_failure_is_kept_as_data() -> None:
    # reduce is a function of its inputs: the same answer fed again to the same
    # upload gives an equal result, and touches neither its inputs nor the
    # pending error (the driver attaches the close's failure as a note when
    # it raises, see the lifecycle tests).
    upload: Upload[Any] = reduce(start(max_size=1), Ok("s")).upload
    closing = reduce(upload, Chunk(b"ab")).upload
    pending = closing.failure
    boom = OSError("cannot remove")
    first = reduce(closing, boom)
    second = reduce(closing, boom)
    assert first == second
    assert first.error is pending
    assert first.upload.ending is not None
    assert first.upload.ending.later_failure is boom
    assert first.upload.failure is pending
    assert getattr(pending, "__notes__", None) is None


def test_the_table_has_a_row_for_every_phase_and_kind() -> None:
    assert set(TRANSITIONS) == {(phase, kind) for phase in Phase for kind in Kind}
    for (phase, kind), row in TRANSITIONS.items():
        assert row.to, (phase, kind)
        assert row.summary, (phase, kind)


class _Unhashable(type):
    def __hash__(cls) -> int:
        raise TypeError("this class cannot be hashed")

    def __eq__(cls, other: object) -> bool:
        raise TypeError("nor compared")


class _Weird(metaclass=_Unhashable):
    """An event whose class cannot be hashed or compared."""


class _Liar:
    """An object whose __class__ lookup raises."""

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        raise RuntimeError("no class for you")


@pytest.mark.parametrize("phase", list(Phase))
@pytest.mark.parametrize("make", [_Weird, _Liar])
def test_reduce_never_raises_even_for_hostile_objects(phase: Phase, make: type) -> None:
    upload: Upload[Any] = start(expected_size=10).evolve(phase=phase)
    event = make()
    assert kind_of(event) is Kind.MALFORMED
    step = reduce(upload, event)
    assert isinstance(step, Step)
    assert step.upload.phase in TRANSITIONS[phase, Kind.MALFORMED].to


def test_a_cancel_during_a_write_closes_with_cancel_once_the_write_answers() -> None:
    upload: Upload[Any] = reduce(start(expected_size=3), Ok("s0")).upload
    writing = reduce(upload, Chunk(b"abc")).upload
    recorded = reduce(writing, Cancel())
    assert recorded.call is None
    assert recorded.error is None
    assert recorded.upload.phase is Phase.WRITING
    assert recorded.upload.requested == Cancel()
    # The last chunk lands, but the cancel came first: Cancel(), with its state.
    step = reduce(recorded.upload, Ok("s1"))
    assert step.call == Cancel()
    assert step.upload.state == "s1"
    assert step.upload.size == 3
    closed = reduce(step.upload, Ok("s2"))
    assert closed.error is None
    assert isinstance(meta_error(closed.upload), UploadFailed)


def test_a_timeout_during_init_that_then_succeeds_closes_with_chunk_timeout() -> None:
    from uploadwriter import ChunkTimeout

    recorded = reduce(start(), TimedOut(2.0))
    assert recorded.upload.phase is Phase.STARTING
    step = reduce(recorded.upload, Ok("s"))
    assert step.call == Cancel()
    closed = reduce(step.upload, Ok("s"))
    assert isinstance(closed.error, ChunkTimeout)
    # Cut short instead (a cancellation): the upload never started, no close.
    never = reduce(recorded.upload, asyncio.CancelledError())
    assert never.call is None
    assert never.upload.phase is Phase.CLOSED
    assert isinstance(never.error, ChunkTimeout)


def test_ctrl_c_is_never_taken_for_the_chunk_timeout() -> None:
    # A timeout recorded while init or a write was pending, then Ctrl-C: the
    # KeyboardInterrupt goes on as itself (L11); only a cancellation is the
    # deadline's own.
    recorded = reduce(start(), TimedOut(2.0)).upload
    interrupt = KeyboardInterrupt()
    assert reduce(recorded, interrupt).error is interrupt
    assert isinstance(reduce(recorded, asyncio.CancelledError()).error, ChunkTimeout)
    upload = reduce(start(), Ok("s")).upload
    writing = reduce(reduce(upload, Chunk(b"ab")).upload, TimedOut(2.0)).upload
    closing = reduce(writing, interrupt)
    assert closing.call == Cancel()
    assert reduce(closing.upload, Ok("s")).error is interrupt


def test_a_timeout_cutting_a_write_short_keeps_the_cancellation_as_its_cause() -> None:
    # Found by Hypothesis: the cancellation the deadline caused is not lost
    # behind the ChunkTimeout the caller gets (L11).
    upload = reduce(start(), Ok("s1")).upload
    writing = reduce(reduce(upload, Chunk(b"")).upload, TimedOut(2.0)).upload
    cancelled = asyncio.CancelledError()
    closing = reduce(writing, cancelled)
    assert closing.call == Cancel()
    error = reduce(closing.upload, Ok("s1")).error
    assert isinstance(error, ChunkTimeout)
    assert error.__cause__ is cancelled
