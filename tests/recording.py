"""Recording writers for the tests: they log every call and answer as scripted.

A :class:`RecordingWriter` (sync) or :class:`AsyncRecordingWriter` (async)
keeps a log of every callback it receives, in order, in ``calls``. Each
callback answers ``Ok`` by default; a test scripts other answers per callback,
consumed one call at a time::

    writer = RecordingWriter(write=[ok(), err("disk full")], close=[raises(OSError())])

The writer's state is a :class:`RecState`: the bytes written so far and a
serial number that grows with every answer, so a test can tell exactly which
state a callback was given.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Literal, cast

import anyio
import attrs

from uploadwriter import CloseReason, Err, Ok

__all__ = (
    "Answer",
    "AsyncRecordingWriter",
    "Call",
    "RecState",
    "RecordingWriter",
    "err",
    "ok",
    "raises",
    "returns",
)


@attrs.frozen
class RecState:
    """A recording writer's state: the bytes written so far, and a serial number."""

    data: bytes = b""
    serial: int = 0


@attrs.frozen
class Answer:
    """One scripted answer of a callback.

    ``kind`` is ``ok`` (``Ok(state)``), ``err`` (``Err(reason, state)``),
    ``raise`` (raise ``value``) or ``return`` (return ``value`` as is: a
    malformed answer). ``state`` replaces the state the writer would have
    answered with; ``delay`` seconds pass first (``anyio.sleep`` in the async
    writer, ``time.sleep`` in the sync one); the async writer then waits for
    ``gate`` to be set, if given.
    """

    kind: Literal["ok", "err", "raise", "return"] = "ok"
    value: object = None
    state: object = attrs.field(default=None)
    delay: float = 0.0
    gate: anyio.Event | None = None


def ok(*, state: object = None, delay: float = 0.0, gate: anyio.Event | None = None) -> Answer:
    """Answer ``Ok``: with ``state`` if given, else the writer's next state."""
    return Answer("ok", None, state, delay, gate)


def err(reason: object, *, state: object = None, delay: float = 0.0) -> Answer:
    """Answer ``Err(reason, ...)``: with ``state`` if given, else the writer's next state."""
    return Answer("err", reason, state, delay)


def raises(exc: BaseException, *, delay: float = 0.0) -> Answer:
    """Raise ``exc`` instead of answering."""
    return Answer("raise", exc, None, delay)


def returns(value: object, *, delay: float = 0.0) -> Answer:
    """Return ``value`` itself: something that is not ``Ok``/``Err``."""
    return Answer("return", value, None, delay)


@attrs.frozen
class Call:
    """One callback the writer received: its name and arguments (data, state, reason, opts)."""

    name: Literal["init", "write_chunk", "close", "meta"]
    data: bytes | None = None
    state: object = None
    reason: CloseReason | None = None
    opts: object = None


class _Recorder:
    """The script and the log shared by the sync and the async recording writers."""

    def __init__(
        self,
        *,
        init: Iterable[Answer] = (),
        write: Iterable[Answer] = (),
        close: Iterable[Answer] = (),
    ) -> None:
        self.script: dict[str, list[Answer]] = {
            "init": list(init),
            "write_chunk": list(write),
            "close": list(close),
        }
        self.calls: list[Call] = []
        #: Names of the callbacks that ran to the end (after their delay).
        self.finished: list[str] = []

    # --- what the tests read --------------------------------------------------

    def names(self) -> list[str]:
        """The names of the callbacks received, in order."""
        return [call.name for call in self.calls]

    def closes(self) -> list[Call]:
        """The ``close`` calls received."""
        return [call for call in self.calls if call.name == "close"]

    def written(self) -> bytes:
        """All the bytes ``write_chunk`` was given, joined."""
        return b"".join(c.data for c in self.calls if c.name == "write_chunk" and c.data)

    # --- scripting --------------------------------------------------------------

    def _next(self, name: str) -> Answer:
        answers = self.script[name]
        return answers.pop(0) if answers else Answer()

    def _answer(self, name: str, answer: Answer, next_state: object) -> object:
        self.finished.append(name)
        state = next_state if answer.state is None else answer.state
        if answer.kind == "ok":
            return Ok(state)
        if answer.kind == "err":
            return Err(answer.value, None if name == "init" else state)
        if answer.kind == "raise":
            assert isinstance(answer.value, BaseException)
            raise answer.value
        return answer.value

    @staticmethod
    def _after_write(data: bytes, state: RecState) -> RecState:
        return RecState(state.data + data, state.serial + 1)

    @staticmethod
    def _after(state: RecState) -> RecState:
        return RecState(state.data, state.serial + 1)

    def meta(self, state: RecState) -> Mapping[str, object]:
        """``{"data": ..., "serial": ...}`` of ``state``; logged as a call."""
        self.calls.append(Call("meta", state=state))
        return {"data": state.data, "serial": state.serial}


class RecordingWriter(_Recorder):
    """A synchronous writer that logs every call and answers as scripted (after ``time.sleep``)."""

    def _next(self, name: str) -> Answer:
        answer = super()._next(name)
        if answer.delay:
            time.sleep(answer.delay)  # a blocking writer, e.g. behind ThreadedWriter
        return answer

    def init(self, opts: object) -> Ok[RecState] | Err[None]:
        """Log the call; answer ``Ok(RecState())`` unless scripted otherwise."""
        self.calls.append(Call("init", opts=opts))
        answer = self._answer("init", self._next("init"), RecState())
        return cast("Ok[RecState] | Err[None]", answer)  # possibly malformed, on purpose

    def write_chunk(self, data: bytes, state: RecState) -> Ok[RecState] | Err[RecState]:
        """Log the call; answer ``Ok`` with ``data`` appended unless scripted otherwise."""
        self.calls.append(Call("write_chunk", data=data, state=state))
        answer = self._answer(
            "write_chunk", self._next("write_chunk"), self._after_write(data, state)
        )
        return cast("Ok[RecState] | Err[RecState]", answer)  # possibly malformed, on purpose

    def close(self, state: RecState, reason: CloseReason) -> Ok[RecState] | Err[RecState]:
        """Log the call; answer ``Ok`` unless scripted otherwise."""
        self.calls.append(Call("close", state=state, reason=reason))
        answer = self._answer("close", self._next("close"), self._after(state))
        return cast("Ok[RecState] | Err[RecState]", answer)  # possibly malformed, on purpose


class AsyncRecordingWriter(_Recorder):
    """An async writer that logs every call and answers as scripted, after an optional delay."""

    async def _wait(self, answer: Answer) -> None:
        if answer.delay:
            await anyio.sleep(answer.delay)
        if answer.gate is not None:
            await answer.gate.wait()

    async def init(self, opts: object) -> Ok[RecState] | Err[None]:
        """Log the call; answer ``Ok(RecState())`` unless scripted otherwise."""
        self.calls.append(Call("init", opts=opts))
        scripted = self._next("init")
        await self._wait(scripted)
        answer = self._answer("init", scripted, RecState())
        return cast("Ok[RecState] | Err[None]", answer)  # possibly malformed, on purpose

    async def write_chunk(self, data: bytes, state: RecState) -> Ok[RecState] | Err[RecState]:
        """Log the call; answer ``Ok`` with ``data`` appended unless scripted otherwise."""
        self.calls.append(Call("write_chunk", data=data, state=state))
        scripted = self._next("write_chunk")
        await self._wait(scripted)
        answer = self._answer("write_chunk", scripted, self._after_write(data, state))
        return cast("Ok[RecState] | Err[RecState]", answer)  # possibly malformed, on purpose

    async def close(self, state: RecState, reason: CloseReason) -> Ok[RecState] | Err[RecState]:
        """Log the call; answer ``Ok`` unless scripted otherwise."""
        self.calls.append(Call("close", state=state, reason=reason))
        scripted = self._next("close")
        await self._wait(scripted)
        answer = self._answer("close", scripted, self._after(state))
        return cast("Ok[RecState] | Err[RecState]", answer)  # possibly malformed, on purpose
