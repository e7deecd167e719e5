"""Record each writer call; judge its answer.

The drivers turn a callback's exception or malformed answer into
``WriterFailure``/``InitError`` (L11), as they must. To see what the writer
itself did, the driver is given a proxy: each callback is forwarded to the
writer, and its raw answer (or exception) is checked against the laws before
being handed on, unchanged (unless :class:`~._faults.Faults` says this write
fails), to the driver.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import attrs

from .._events import Done
from .._results import Err, Ok
from ._faults import Faults
from ._laws import short
from ._snapshot import DISPLAY_BUDGET, Fingerprint, describe_change, fingerprint, shown
from ._spec import Spec

__all__ = ("AsyncProxy", "Call", "Recorder", "SyncProxy", "signature")


@attrs.define
class Call:
    """One writer call as it happened: its arguments, and its answer or exception."""

    name: str
    args: tuple[object, ...]
    answer: object = None
    raised: BaseException | None = None
    note: str = ""
    #: Snapshots of the state (or opts) given, when the call was made, and of
    #: the answer, when it returned: a report shows them as they were then.
    given: Fingerprint | None = None
    returned: Fingerprint | None = None

    @property
    def watched(self) -> object:
        """The argument the call must not mutate: the opts of ``init``, else the state."""
        return self.args[1] if self.name == "write_chunk" else self.args[0]


def signature(call: Call) -> str:
    """The call's name and parameters, e.g. ``close(state, Cancel())``."""
    return {
        "init": "init(opts)",
        "write_chunk": "write_chunk(data, state)",
        "close": f"close(state, {short(call.args[-1], 60)})",
        "meta": "meta(state)",
    }[call.name]


class Recorder:
    """Checks each callback's raw answer; keeps the first law broken and a log of calls."""

    def __init__(self, spec: Spec, faults: Faults | None = None) -> None:
        self.spec = spec
        self.faults = Faults() if faults is None else faults
        self.calls: list[Call] = []
        self.broken: tuple[str, str, BaseException | None] | None = None

    def violate(self, law: str, detail: str, cause: BaseException | None = None) -> None:
        """Note that ``law`` broke (only the first broken law is kept)."""
        if self.broken is None:
            self.broken = (law, detail, cause)

    def before(self, name: str, args: tuple[object, ...]) -> tuple[Call, Fingerprint]:
        """Log a call about to be made; snapshot what it must not mutate."""
        call = Call(name, args)
        self.calls.append(call)
        call.given = fingerprint(call.watched, self.spec.packages)
        return call, call.given

    def injected(self, call: Call) -> Exception | None:
        """The exception the check raises in place of this call, if it is the write that raises."""
        if call.name != "write_chunk":
            return None
        exc = self.faults.before_write()
        if exc is not None:
            call.raised = exc
            call.note = " (raised by the check in place of the writer's write_chunk)"
        return exc

    def show(self, value: object, limit: int = 160) -> str:
        """``value`` for a message, bounded even if it holds megabytes."""
        return shown(value, fingerprint(value, self.spec.packages), self.spec.packages, limit)

    def raised(self, call: Call, exc: Exception) -> None:
        """The writer's callback raised ``exc``: law e for ``close``, d for the others."""
        call.raised = exc
        law = "e" if call.name == "close" else "d"
        self.violate(law, f"{signature(call)} raised {type(exc).__name__}: {exc}", exc)

    def returned(self, call: Call, snapshot: Fingerprint, answer: object) -> object:
        """Judge the callback's answer; return what the driver gets."""
        call.answer = answer
        packages = self.spec.packages
        # Only to show the answer as it was: a bounded snapshot will do.
        call.returned = fingerprint(answer, packages, budget=DISPLAY_BUDGET)
        name = call.name
        if name == "meta":
            if not isinstance(answer, Mapping):
                self.violate(
                    "c",
                    f"meta returned {short(answer)} ({type(answer).__name__}), not a mapping "
                    "such as a dict",
                )
        elif not isinstance(answer, (Ok, Err)):
            self.violate(
                "a",
                f"{signature(call)} returned {self.show(answer)} ({type(answer).__name__}), "
                "not Ok(state) or Err(reason, state)",
            )
        watched_name = "opts" if name == "init" else "state"
        after = fingerprint(call.watched, packages)
        if after != snapshot:
            self.violate(
                "b",
                f"{signature(call)} mutated the {watched_name} it was given: "
                f"{describe_change(snapshot, after, watched_name)} "
                "(build a new state, e.g. with attrs.evolve, and return Ok(new_state))",
            )
        if name == "close" and isinstance(answer, Err) and call.args[1] != Done():
            self.violate(
                "e",
                f"close(state, {short(call.args[1])}) returned {self.show(answer)}: closing "
                "with Cancel() or Error(...) must clean up and answer Ok",
            )
        if isinstance(answer, Ok) and self.spec.hooks.invariant is not None:
            self._check_invariant(call, answer.state)
        if name == "write_chunk":
            answer, call.note = self.faults.after_write(answer)
        return answer

    def _check_invariant(self, call: Call, state: object) -> None:
        invariant = self.spec.hooks.invariant
        assert invariant is not None
        try:
            verdict = invariant(state)
        except Exception as exc:  # noqa: BLE001 - any failure of the user's invariant is the report
            self.violate(
                "g",
                f"the invariant failed on the state {call.name} returned, {self.show(state)}: "
                f"{type(exc).__name__}: {exc}",
                exc,
            )
            return
        if verdict is False:
            self.violate(
                "g",
                "the invariant returned False for the state "
                f"{call.name} returned: {self.show(state)}",
            )


class SyncProxy:
    """A synchronous writer that forwards to the checked writer through a :class:`Recorder`."""

    def __init__(self, writer: Any, recorder: Recorder) -> None:
        self._writer = writer
        self._recorder = recorder

    def _forward(self, name: str, *args: object) -> Any:
        recorder = self._recorder
        call, snapshot = recorder.before(name, args)
        injected = recorder.injected(call)
        if injected is not None:
            raise injected
        try:
            answer = getattr(self._writer, name)(*args)
        except Exception as exc:
            recorder.raised(call, exc)
            raise
        return recorder.returned(call, snapshot, answer)

    def init(self, opts: object) -> Any:
        return self._forward("init", opts)

    def write_chunk(self, data: bytes, state: object) -> Any:
        return self._forward("write_chunk", data, state)

    def close(self, state: object, reason: object) -> Any:
        return self._forward("close", state, reason)

    def meta(self, state: object) -> Any:
        return self._forward("meta", state)


class AsyncProxy:
    """An async writer that forwards to the checked writer through a :class:`Recorder`."""

    def __init__(self, writer: Any, recorder: Recorder) -> None:
        self._writer = writer
        self._recorder = recorder

    async def _forward(self, name: str, *args: object) -> Any:
        recorder = self._recorder
        call, snapshot = recorder.before(name, args)
        injected = recorder.injected(call)
        if injected is not None:
            raise injected
        try:
            awaitable = getattr(self._writer, name)(*args)
            if not inspect.isawaitable(awaitable):
                recorder.violate(
                    "a",
                    f"async {signature(call)} returned {short(awaitable)}, not an awaitable",
                )
                call.answer = awaitable
                return awaitable
            answer = await awaitable
        except Exception as exc:
            recorder.raised(call, exc)
            raise
        return recorder.returned(call, snapshot, answer)

    async def init(self, opts: object) -> Any:
        return await self._forward("init", opts)

    async def write_chunk(self, data: bytes, state: object) -> Any:
        return await self._forward("write_chunk", data, state)

    async def close(self, state: object, reason: object) -> Any:
        return await self._forward("close", state, reason)

    def meta(self, state: object) -> Any:
        recorder = self._recorder
        call, snapshot = recorder.before("meta", (state,))
        try:
            answer = self._writer.meta(state)
        except Exception as exc:
            recorder.raised(call, exc)
            raise
        return recorder.returned(call, snapshot, answer)
