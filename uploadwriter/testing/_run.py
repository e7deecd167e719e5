"""Run uploads through the real drivers with a recording proxy that checks every law.

The drivers turn a callback's exception or malformed answer into
``WriterFailure``/``InitError`` (L11), as they must. To see what the writer
itself did, the driver is given a proxy: each callback is forwarded to the
writer, and its raw answer (or exception) is checked against the laws before
being handed on, unchanged, to the driver.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import anyio
import attrs

from .._async import AsyncUploader
from .._errors import InitError, UploadError
from .._events import Done, Event
from .._protocols import check_writer_shape, is_async_writer
from .._results import Err, Ok
from .._sync import Uploader
from ..reducer import meta_error
from ._laws import (
    LAWS,
    Fingerprint,
    InitRefused,
    WriterLawError,
    describe_change,
    fingerprint,
    short,
)
from ._strategies import EventStream, InjectedFailure

__all__ = ("AsyncRun", "Spec", "SyncRun", "make_spec", "replay", "run_stream")

_BACKENDS = ("asyncio", "trio")
_LOG_LINES = 24

Leaks = Callable[[], Iterable[object]]
Invariant = Callable[[Any], object]
Consume = Callable[[Mapping[str, object]], object]


@attrs.frozen
class Spec:
    """What is checked and how: the writer (an instance), its opts, and the hooks."""

    writer: Any
    opts: Any
    asynchronous: bool
    name: str
    packages: frozenset[str]
    leaks: Leaks | None
    invariant: Invariant | None
    consume: Consume | None
    backend: str


def make_spec(
    writer: object,
    opts: object,
    *,
    leaks: Leaks | None = None,
    invariant: Invariant | None = None,
    consume: Consume | None = None,
    backend: str = "asyncio",
) -> Spec:
    """Validate what to check; a writer class is instantiated with no arguments.

    Raises:
        TypeError: ``writer`` is not a sync or async upload writer, or a hook
            is not callable.
        ValueError: ``backend`` is not ``"asyncio"`` or ``"trio"``.
    """
    if isinstance(writer, type):
        writer = writer()
    asynchronous = is_async_writer(writer)
    check_writer_shape(writer, asynchronous=asynchronous)
    for name, hook in (("leaks", leaks), ("invariant", invariant), ("consume", consume)):
        if hook is not None and not callable(hook):
            raise TypeError(f"{name}= must be a function or None, not {short(hook)}")
    if backend not in _BACKENDS:
        raise ValueError(f"backend must be 'asyncio' or 'trio', not {backend!r}")
    cls = type(writer)
    package = cls.__module__.partition(".")[0]
    return Spec(
        writer,
        opts,
        asynchronous,
        f"{cls.__module__}.{cls.__qualname__}",
        frozenset({package}),
        leaks,
        invariant,
        consume,
        backend,
    )


@attrs.define
class _Call:
    name: str
    args: tuple[object, ...]
    outcome: str = ""
    answer: object = None
    raised: BaseException | None = None
    note: str = ""

    def render(self) -> str:
        if self.name == "init":
            args = short(self.args[0], 80)
        elif self.name == "write_chunk":
            data = self.args[0]
            size = len(data) if isinstance(data, bytes) else "?"
            args = f"<{size} bytes>, {short(self.args[1], 60)}"
        elif self.name == "close":
            args = f"{short(self.args[0], 60)}, {short(self.args[1], 60)}"
        else:
            args = short(self.args[0], 60)
        if self.raised is not None:
            result = f"raised {short(self.raised, 100)}"
        else:
            result = short(self.answer, 100)
        return f"{self.name}({args}) -> {result}{self.note}"


class Recorder:
    """Checks each callback's raw answer; keeps the first law broken and a log of calls."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.calls: list[_Call] = []
        self.broken: tuple[str, str, BaseException | None] | None = None
        self.writes = 0
        self.fail_write_at: int | None = None
        self.fail_reason: object = None

    def violate(self, law: str, detail: str, cause: BaseException | None = None) -> None:
        if self.broken is None:
            self.broken = (law, detail, cause)

    def before(self, name: str, args: tuple[object, ...]) -> tuple[_Call, Fingerprint]:
        call = _Call(name, args)
        self.calls.append(call)
        watched = args[0] if name in ("init", "close", "meta") else args[1]
        return call, fingerprint(watched, self.spec.packages)

    def raised(self, call: _Call, exc: Exception) -> None:
        call.raised = exc
        law = "e" if call.name == "close" else "d"
        self.violate(law, f"{_signature(call)} raised {type(exc).__name__}: {exc}", exc)

    def returned(self, call: _Call, snapshot: Fingerprint, answer: object) -> object:
        call.answer = answer
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
                f"{_signature(call)} returned {short(answer)} ({type(answer).__name__}), "
                "not Ok(state) or Err(reason, state)",
            )
        watched_name = "opts" if name == "init" else "state"
        watched = call.args[1] if name == "write_chunk" else call.args[0]
        after = fingerprint(watched, self.spec.packages)
        if after != snapshot:
            self.violate(
                "b",
                f"{_signature(call)} mutated the {watched_name} it was given: "
                f"{describe_change(snapshot, after, watched_name)} "
                "(build a new state, e.g. with attrs.evolve, and return Ok(new_state))",
            )
        if name == "close" and isinstance(answer, Err) and call.args[1] != Done():
            self.violate(
                "e",
                f"close(state, {short(call.args[1])}) returned {short(answer)}: closing "
                "with Cancel() or Error(...) must clean up and answer Ok",
            )
        if isinstance(answer, Ok) and self.spec.invariant is not None:
            self._check_invariant(call, answer.state)
        if name == "write_chunk":
            index = self.writes
            self.writes += 1
            if index == self.fail_write_at and isinstance(answer, Ok):
                call.note = f" (made Err({short(self.fail_reason, 60)}, state) by the check)"
                return Err(self.fail_reason, answer.state)
        return answer

    def _check_invariant(self, call: _Call, state: object) -> None:
        invariant = self.spec.invariant
        assert invariant is not None
        try:
            verdict = invariant(state)
        except Exception as exc:  # noqa: BLE001 - any failure of the user's invariant is the report
            self.violate(
                "g",
                f"the invariant failed on the state {call.name} returned, {short(state)}: "
                f"{type(exc).__name__}: {exc}",
                exc,
            )
            return
        if verdict is False:
            self.violate(
                "g",
                f"the invariant returned False for the state {call.name} returned: {short(state)}",
            )


def _signature(call: _Call) -> str:
    return {
        "init": "init(opts)",
        "write_chunk": "write_chunk(data, state)",
        "close": f"close(state, {short(call.args[-1], 60)})",
        "meta": "meta(state)",
    }[call.name]


class SyncProxy:
    """A synchronous writer that forwards to the checked writer through a :class:`Recorder`."""

    def __init__(self, writer: Any, recorder: Recorder) -> None:
        self._writer = writer
        self._recorder = recorder

    def _forward(self, name: str, *args: object) -> Any:
        recorder = self._recorder
        call, snapshot = recorder.before(name, args)
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
        try:
            awaitable = getattr(self._writer, name)(*args)
            if not inspect.isawaitable(awaitable):
                recorder.violate(
                    "a",
                    f"async {_signature(call)} returned {short(awaitable)}, not an awaitable",
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


class _Run:
    """One upload under check. Subclasses drive it through Uploader or AsyncUploader."""

    up: Uploader[Any, Any] | AsyncUploader[Any, Any]

    def __init__(
        self,
        spec: Spec,
        stream: EventStream | None = None,
        *,
        shrunk: bool = False,
        expected_size: int | None = None,
        max_size: int | None = None,
    ) -> None:
        if stream is not None:
            expected_size, max_size = stream.expected_size, stream.max_size
        self.spec = spec
        self.stream = stream
        self.shrunk = shrunk
        self.expected_size, self.max_size = expected_size, max_size
        self.recorder = Recorder(spec)
        if stream is not None:
            self.recorder.fail_write_at = stream.fail_write_at
            self.recorder.fail_reason = stream.fail_reason
        self.sent: list[Event] = []
        self.entered = False
        self.leaks_before: list[object] = []

    # -- reporting ---------------------------------------------------------

    def current_stream(self) -> EventStream:
        if self.stream is not None:
            return self.stream
        recorder = self.recorder
        return EventStream(
            tuple(self.sent),
            self.expected_size,
            self.max_size,
            recorder.fail_write_at,
            recorder.fail_reason if recorder.fail_write_at is not None else None,
        )

    def check(self) -> None:
        """Raise the first law broken so far, as a :class:`WriterLawError`."""
        broken = self.recorder.broken
        if broken is None:
            return
        law, detail, cause = broken
        error = WriterLawError(
            law, self.spec.name, self._report(law, detail), self.current_stream()
        )
        raise error from cause

    def _report(self, law: str, detail: str) -> str:
        spec = self.spec
        stream = self.current_stream()
        calls = [f"    {call.render()}" for call in self.recorder.calls]
        if len(calls) > _LOG_LINES:
            skipped = len(calls) - _LOG_LINES + 1
            calls = [calls[0], f"    ... {skipped} calls not shown ...", *calls[-_LOG_LINES + 2 :]]
        imports = (
            "EventStream, InjectedFailure, replay"
            if _uses_injected(stream)
            else ("EventStream, replay")
        )
        hooks = [
            f"{name}=..."
            for name in ("leaks", "invariant", "consume")
            if getattr(spec, name) is not None
        ]
        if spec.asynchronous and spec.backend != "asyncio":
            hooks.append(f"backend={spec.backend!r}")
        extra = "".join(f", {h}" for h in hooks)
        if self.stream is None:
            which = "of the failing upload, as sent; Hypothesis shows the steps to it"
        elif self.shrunk:
            which = "the smallest found"
        else:
            which = "as given"
        return "\n".join(
            [
                f"{spec.name} breaks law {law}: {LAWS[law]}.",
                f"  {detail}",
                "",
                f"Event stream ({which}):",
                f"    {stream!r}",
                "",
                f"Writer calls ({'async' if spec.asynchronous else 'sync'} writer), in order:",
                *calls,
                "",
                f"Reproduce (writer = the {type(spec.writer).__name__} instance checked):",
                "    from uploadwriter import Cancel, Chunk, Done",
                f"    from uploadwriter.testing import {imports}",
                f"    replay(writer, {short(spec.opts, 200)}, {stream!r}{extra})",
                "Running the same check again replays this example first (Hypothesis's database).",
            ]
        )

    # -- after the upload: meta (law c), consume, leaks (law f) ----------

    def snapshot_leaks(self) -> None:
        leaks = self.spec.leaks
        self.leaks_before = _items(leaks) if leaks is not None else []

    def after_upload(self) -> None:
        spec = self.spec
        done = meta_error(self.up.upload) is None
        if done:
            first = self._meta()
            second = self._meta()
            self.check()
            try:
                same = bool(first == second)
            except Exception:  # noqa: BLE001 - an __eq__ that raises is no answer either
                same = False
            if not same:
                self.recorder.violate(
                    "c",
                    f"meta returned {short(first)}, then {short(second)} for the same state",
                )
                self.check()
            if spec.consume is not None:
                spec.consume(first)
        if spec.leaks is not None:
            before = self.leaks_before
            left = [item for item in _items(spec.leaks) if item not in before]
            if left:
                hint = ""
                if done and spec.consume is None:
                    hint = (
                        " (if that is what a completed upload hands over, release it in "
                        "consume=, as your application does)"
                    )
                self.recorder.violate(
                    "f", f"after the upload, leaks= still reports {short(left, 400)}{hint}"
                )
                self.check()

    def _meta(self) -> Mapping[str, object]:
        try:
            return self.up.meta()
        finally:
            # If meta raised, the recorder has it as law d: report that.
            self.check()

    def init_refused(self) -> InitRefused:
        failure = self.up.failure
        reason = failure.reason if isinstance(failure, InitError) else failure
        return InitRefused(
            f"{self.spec.name}.init refused the opts {short(self.spec.opts)}: {short(reason)}; "
            "the check needs opts the writer accepts"
        )


def _uses_injected(stream: EventStream) -> bool:
    return isinstance(stream.fail_reason, InjectedFailure)


def _items(leaks: Leaks) -> list[object]:
    items = leaks()
    if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
        raise TypeError(f"leaks= must return a list of what is open, not {short(items)}")
    return list(items)


class SyncRun(_Run):
    """One upload through :class:`~uploadwriter.Uploader`."""

    up: Uploader[Any, Any]

    def __init__(
        self,
        spec: Spec,
        stream: EventStream | None = None,
        *,
        shrunk: bool = False,
        expected_size: int | None = None,
        max_size: int | None = None,
    ) -> None:
        super().__init__(
            spec, stream, shrunk=shrunk, expected_size=expected_size, max_size=max_size
        )
        proxy = SyncProxy(spec.writer, self.recorder)
        self.up = Uploader(
            proxy, spec.opts, expected_size=self.expected_size, max_size=self.max_size
        )

    def start(self) -> bool:
        """Call init; return whether the upload started."""
        self.snapshot_leaks()
        try:
            self.up.__enter__()
        except InitError:
            self.check()
            return False
        self.entered = True
        self.check()
        return True

    def send(self, event: Event) -> None:
        self.sent.append(event)
        with contextlib.suppress(UploadError):
            self.up.send(event)
        self.check()

    def finish(self) -> None:
        if self.entered:
            self.entered = False
            with contextlib.suppress(UploadError):
                self.up.__exit__(None, None, None)
            self.check()
        self.after_upload()

    def abort(self, exc: BaseException) -> None:
        if self.entered:
            self.entered = False
            self.up.__exit__(type(exc), exc, exc.__traceback__)


class AsyncRun(_Run):
    """One upload through :class:`~uploadwriter.AsyncUploader` (no chunk timeout)."""

    up: AsyncUploader[Any, Any]

    def __init__(
        self,
        spec: Spec,
        stream: EventStream | None = None,
        *,
        shrunk: bool = False,
        expected_size: int | None = None,
        max_size: int | None = None,
    ) -> None:
        super().__init__(
            spec, stream, shrunk=shrunk, expected_size=expected_size, max_size=max_size
        )
        proxy = AsyncProxy(spec.writer, self.recorder)
        # No chunk timeout: the check must not depend on the machine's speed,
        # and the state machine enters and leaves the upload in separate tasks.
        self.up = AsyncUploader(
            proxy,
            spec.opts,
            expected_size=self.expected_size,
            max_size=self.max_size,
            chunk_timeout=None,
        )

    async def start(self) -> bool:
        """Await init; return whether the upload started."""
        self.snapshot_leaks()
        try:
            await self.up.__aenter__()
        except InitError:
            self.check()
            return False
        self.entered = True
        self.check()
        return True

    async def send(self, event: Event) -> None:
        self.sent.append(event)
        with contextlib.suppress(UploadError):
            await self.up.send(event)
        self.check()

    async def finish(self) -> None:
        if self.entered:
            self.entered = False
            with contextlib.suppress(UploadError):
                await self.up.__aexit__(None, None, None)
            self.check()
        self.after_upload()

    async def abort(self, exc: BaseException) -> None:
        if self.entered:
            self.entered = False
            await self.up.__aexit__(type(exc), exc, exc.__traceback__)


def _run_sync(spec: Spec, stream: EventStream, *, shrunk: bool, probe: bool) -> None:
    run = SyncRun(spec, stream, shrunk=shrunk)
    if run.start():
        try:
            for event in stream.events:
                run.send(event)
        except WriterLawError as exc:
            run.abort(exc)
            raise
    elif probe:
        run.finish()
        raise run.init_refused()
    run.finish()


async def _run_async(spec: Spec, stream: EventStream, shrunk: bool, probe: bool) -> None:
    run = AsyncRun(spec, stream, shrunk=shrunk)
    if await run.start():
        try:
            for event in stream.events:
                await run.send(event)
        except WriterLawError as exc:
            await run.abort(exc)
            raise
    elif probe:
        await run.finish()
        raise run.init_refused()
    await run.finish()


def run_stream(
    spec: Spec, stream: EventStream, *, shrunk: bool = False, probe: bool = False
) -> None:
    """Run one upload; raise :class:`WriterLawError` if a law breaks.

    With ``probe``, raise :class:`InitRefused` if ``init`` refuses the opts.
    """
    if spec.asynchronous:
        anyio.run(_run_async, spec, stream, shrunk, probe, backend=spec.backend)
    else:
        _run_sync(spec, stream, shrunk=shrunk, probe=probe)


def replay(
    writer: object,
    opts: object,
    stream: EventStream,
    *,
    leaks: Leaks | None = None,
    invariant: Invariant | None = None,
    consume: Consume | None = None,
    backend: str = "asyncio",
) -> None:
    """Run one upload, ``stream``, through ``writer`` with every check of :func:`check_writer`.

    This is how a failure that ``check_writer`` reported is reproduced; it also
    lets a test of your own drive ``@given(event_streams())`` streams through it.

    Raises:
        WriterLawError: the writer broke a law on this stream.
        TypeError: ``writer`` is not an upload writer, or ``stream`` not an ``EventStream``.
    """
    if not isinstance(stream, EventStream):
        raise TypeError(f"stream must be an EventStream, not {short(stream)}")
    spec = make_spec(
        writer, opts, leaks=leaks, invariant=invariant, consume=consume, backend=backend
    )
    run_stream(spec, stream)
