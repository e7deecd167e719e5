"""A Hypothesis state machine drives ``Uploader`` and compares it with a simple model.

The model is the lifecycle rules written out plainly: a size, open or closed,
the close reason, and what the writer received. Rules send chunks, ``Done()``
and ``Cancel()``, and script the writer's next answers (``Ok``, ``Err``, a
raised exception, a malformed answer, an interrupt); invariants compare the
driver, the recording writer and the model after every step.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from uploadwriter import (
    Cancel,
    Chunk,
    CloseReason,
    Done,
    Error,
    FileTooLarge,
    IncompleteUpload,
    InitError,
    UploadClosed,
    Uploader,
    UploadFailed,
    UploadInProgress,
    WriterFailure,
)
from uploadwriter.reducer import Phase

from .recording import Answer, RecordingWriter, RecState, err, ok, raises, returns

KINDS = ("ok", "err", "raise", "malformed")


def _answer(kind: str) -> Answer:
    if kind == "ok":
        return ok()
    if kind == "err":
        return err("scripted failure")
    if kind == "raise":
        return raises(OSError("scripted exception"))
    if kind == "interrupt":
        return raises(KeyboardInterrupt())
    return returns("not a result")


def _same_reason(actual: object, model: CloseReason | None) -> bool:
    # The model writes Error(None) for an exception or a malformed answer,
    # whose exact object it cannot know.
    if isinstance(model, Error) and model.reason is None:
        return isinstance(actual, Error) and isinstance(actual.reason, Exception)
    return actual == model


class UploaderMachine(RuleBasedStateMachine):
    """``Uploader`` against the model."""

    def __init__(self) -> None:
        super().__init__()
        self.writer = RecordingWriter()
        self.up: Uploader[Any, RecState] | None = None
        # The model.
        self.started = False
        self.closed = False
        self.reason: CloseReason | None = None
        self.size = 0
        self.received = b""  # bytes of every write_chunk call
        self.accepted = b""  # bytes of the writes answered Ok
        self.done_ok = False  # closed with Done() and close answered Ok
        self.expected: int | None = None
        self.limit: int | None = None
        self.write_script: list[str] = []
        self.close_script: list[str] = []

    # --- the model's view of the writer's script --------------------------------------

    def _next(self, script: list[str]) -> str:
        return script.pop(0) if script else "ok"

    def _close(self, reason: CloseReason, pending: type[BaseException] | None) -> Any:
        """Model a close; return the error type the caller should get (or None)."""
        answer = self._next(self.close_script)
        self.closed = True
        self.reason = reason
        if answer == "ok":
            self.done_ok = reason == Done()
            return pending
        return pending if pending is not None else WriterFailure

    # --- rules ---------------------------------------------------------------------------

    @initialize(
        expected=st.one_of(st.none(), st.integers(0, 120)),
        maximum=st.one_of(st.none(), st.integers(0, 120)),
        init=st.sampled_from(["ok"] * 6 + ["err", "raise", "malformed"]),
    )
    def enter(self, expected: int | None, maximum: int | None, init: str) -> None:
        self.writer = RecordingWriter(init=[_answer(init)])
        self.up = Uploader(self.writer, None, expected_size=expected, max_size=maximum)
        self.expected = expected
        known = [n for n in (expected, maximum) if n is not None]
        self.limit = min(known) if known else None
        if init == "ok":
            self.up.__enter__()
            self.started = True
            if expected == 0:
                self._close(Done(), None)  # L3: the expected size is reached at once
        else:
            with pytest.raises(InitError):
                self.up.__enter__()
            self.closed = True

    @rule(
        callback=st.sampled_from(["write_chunk", "close"]),
        kind=st.sampled_from(["ok"] * 4 + [*KINDS, "interrupt"]),
    )
    def script(self, callback: str, kind: str) -> None:
        """Queue the writer's answer to a later call of ``callback``."""
        if callback == "close" and kind == "interrupt":
            kind = "raise"  # an interrupted close is a test of its own (test_lifecycle_*)
        self.writer.script[callback].append(_answer(kind))
        (self.write_script if callback == "write_chunk" else self.close_script).append(kind)

    @rule(
        data=st.binary(max_size=12),
        answer=st.sampled_from(["queued"] * 4 + ["ok"] * 4 + [*KINDS, "interrupt"]),
    )
    def send_chunk(self, data: bytes, answer: str) -> None:
        """Send a chunk; the write answers ``answer``, or the next scripted answer."""
        assert self.up is not None
        if answer != "queued" and not self.closed:
            self.writer.script["write_chunk"].insert(0, _answer(answer))
            self.write_script.insert(0, answer)
        expected_error: Any = None
        if self.closed:
            expected_error = UploadClosed
        elif self.limit is not None and self.size + len(data) > self.limit:
            expected_error = self._close(Cancel(), FileTooLarge)
        else:
            self.received += data
            answer = self._next(self.write_script)
            event(f"write answered {answer}")
            if answer == "ok":
                self.size += len(data)
                self.accepted += data
                if self.size == self.expected:
                    expected_error = self._close(Done(), None)
            elif answer == "interrupt":
                expected_error = self._close(Cancel(), KeyboardInterrupt)
            else:
                reason = "scripted failure" if answer == "err" else None
                expected_error = self._close(Error(reason), WriterFailure)
        self._perform(Chunk(data), expected_error)

    @rule(chunks=st.lists(st.binary(max_size=12), min_size=2, max_size=6))
    def send_chunks(self, chunks: list[bytes]) -> None:
        """Send several chunks in a row, each answered by the next scripted answer."""
        for data in chunks:
            self.send_chunk(data, "queued")

    @precondition(lambda self: self.expected is not None and not self.closed)
    @rule(byte=st.binary(min_size=1, max_size=1))
    def send_the_rest(self, byte: bytes) -> None:
        """Send exactly the bytes still expected, so that uploads often complete (L3)."""
        assert self.expected is not None
        self.send_chunk(byte * (self.expected - self.size), "queued")

    @rule(event=st.sampled_from([Done(), Cancel()]))
    def finish(self, event: Done | Cancel) -> None:
        """Send ``Done()`` or ``Cancel()``."""
        expected_error: Any = None
        if not self.closed:
            if event == Cancel():
                expected_error = self._close(Cancel(), None)
            elif self.expected is not None and self.size < self.expected:
                expected_error = self._close(Cancel(), IncompleteUpload)
            else:
                expected_error = self._close(Done(), None)
        self._perform(event, expected_error)

    def _perform(self, event: Chunk | Done | Cancel, expected_error: Any) -> None:
        assert self.up is not None
        if expected_error is None:
            self.up.send(event)
        else:
            with pytest.raises(expected_error):
                self.up.send(event)

    # --- invariants ---------------------------------------------------------------------

    @invariant()
    def driver_matches_the_model(self) -> None:
        up = self.up
        if up is None:
            return
        assert up.size == self.size
        assert up.phase is (Phase.CLOSED if self.closed else Phase.OPEN)
        if self.started:
            assert _same_reason(up.reason, self.reason)
        if not self.closed:
            assert up.state.data == self.accepted

    @invariant()
    def writer_received_what_the_model_says(self) -> None:
        assert self.writer.written() == self.received
        closes = self.writer.closes()
        assert len(closes) == (1 if self.started and self.closed else 0)
        if closes:
            assert _same_reason(closes[0].reason, self.reason)
            calls = [name for name in self.writer.names() if name != "meta"]
            assert calls[-1] == "close", "close is the writer's last call"

    @invariant()
    def meta_only_after_done(self) -> None:
        up = self.up
        if up is None:
            return
        if self.done_ok:
            assert up.meta()["data"] == self.accepted
        elif self.closed:
            with pytest.raises(UploadFailed):
                up.meta()
        else:
            with pytest.raises(UploadInProgress):
                up.meta()

    def teardown(self) -> None:
        up = self.up
        if up is None:
            return
        # Leaving the block: close with Cancel() if still open (L10).
        if self.started and not self.closed:
            expected_error = self._close(Cancel(), None)
            if expected_error is None:
                up.__exit__(None, None, None)
            else:
                with pytest.raises(expected_error):
                    up.__exit__(None, None, None)
        else:
            up.__exit__(None, None, None)
        assert len(self.writer.closes()) == (1 if self.started else 0)


UploaderMachine.TestCase.settings = settings(max_examples=75, stateful_step_count=25, deadline=None)
TestUploader = UploaderMachine.TestCase
