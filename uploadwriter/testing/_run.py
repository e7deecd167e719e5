"""Drive one upload through the drivers.

A run sends an upload's events through the real :class:`~uploadwriter.Uploader`
or :class:`~uploadwriter.AsyncUploader`, whose writer is a recording proxy of
the checked one (:mod:`._recorder`); after the upload it asks for meta
(law c), hands over what a completed upload made (``consume=``), and
compares what is open (``leaks=``, law f).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from typing import Any

import anyio

from .._async import AsyncUploader
from .._errors import InitError, UploadError
from .._events import Event
from .._sync import Uploader
from ..reducer import meta_error
from ._faults import Faults
from ._laws import InitRefused, WriterLawError, short
from ._recorder import AsyncProxy, Recorder, SyncProxy
from ._report import law_report
from ._spec import Consume, Hooks, Invariant, Leaks, Spec, make_spec
from ._streams import EventStream

__all__ = ("AsyncRun", "SyncRun", "replay", "run_stream")


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
        faults = Faults()
        if stream is not None:
            expected_size, max_size = stream.expected_size, stream.max_size
            faults = Faults(stream.fail_write_at, stream.fail_reason)
        self.spec = spec
        self.stream = stream
        self.shrunk = shrunk
        self.expected_size, self.max_size = expected_size, max_size
        self.recorder = Recorder(spec, faults)
        self.sent: list[Event] = []
        self.entered = False
        self.leaks_before: list[object] = []

    # -- reporting ---------------------------------------------------------

    def current_stream(self) -> EventStream:
        """The upload as given, or (in the state machine) as sent so far."""
        if self.stream is not None:
            return self.stream
        faults = self.recorder.faults
        return EventStream(
            tuple(self.sent),
            self.expected_size,
            self.max_size,
            faults.fail_write_at,
            faults.reason if faults.fail_write_at is not None else None,
        )

    def check(self) -> None:
        """Raise the first law broken so far, as a :class:`WriterLawError`."""
        broken = self.recorder.broken
        if broken is None:
            return
        law, detail, cause = broken
        if self.stream is None:
            which = "of the failing upload, as sent; Hypothesis shows the steps to it"
        elif self.shrunk:
            which = "the smallest found"
        else:
            which = "as given"
        stream = self.current_stream()
        message = law_report(
            self.spec, law, detail, stream=stream, calls=self.recorder.calls, which=which
        )
        raise WriterLawError(law, self.spec.name, message, stream) from cause

    def init_refused(self) -> InitRefused:
        """The error for opts that ``init`` refused, when the check cannot go on without."""
        failure = self.up.failure
        reason = failure.reason if isinstance(failure, InitError) else failure
        return InitRefused(
            f"{self.spec.name}.init refused the opts {short(self.spec.opts)}: {short(reason)}; "
            "the check needs opts the writer accepts"
        )

    # -- after the upload: meta (law c), consume, leaks (law f) ----------

    def snapshot_leaks(self) -> None:
        leaks = self.spec.hooks.leaks
        self.leaks_before = _items(leaks) if leaks is not None else []

    def after_upload(self) -> None:
        hooks = self.spec.hooks
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
            if hooks.consume is not None:
                hooks.consume(first)
        if hooks.leaks is not None:
            before = self.leaks_before
            left = [item for item in _items(hooks.leaks) if item not in before]
            if left:
                hint = ""
                if done and hooks.consume is None:
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
        anyio.run(_run_async, spec, stream, shrunk, probe, backend=spec.hooks.backend)
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
    hooks = Hooks(leaks=leaks, invariant=invariant, consume=consume, backend=backend)
    run_stream(make_spec(writer, opts, hooks), stream)
