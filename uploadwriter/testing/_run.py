"""Drive one upload through the drivers.

A run sends an upload's events through the real :class:`~uploadwriter.Uploader`
or :class:`~uploadwriter.AsyncUploader`, whose writer is a recording proxy of
the checked one (:mod:`._recorder`); after the upload it asks for meta
(law c), hands over what a completed upload made (``consume=``, or the
writer's ``discard`` hook), and
compares what is open (``leaks=``, law f).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from typing import Any

from .._async import AsyncUploader
from .._errors import InitError, UploadClosed, UploadError
from .._events import Cancel, Chunk, Done, Event
from .._protocols import discard
from .._sync import Uploader
from ..reducer import meta_error
from ._faults import Faults
from ._laws import InitRefused, WriterLawError, short
from ._paths import When, close_path
from ._recorder import AsyncProxy, Call, Recorder, SyncProxy
from ._report import AS_GIVEN, Origin, law_report
from ._spec import Leaks, Spec
from ._streams import EventStream

__all__ = ("AsyncRun", "SyncRun")

_WHEN: dict[type[Event], When] = {Chunk: "chunk", Done: "done", Cancel: "cancel"}


class _Run:
    """One upload under check. Subclasses drive it through Uploader or AsyncUploader."""

    up: Uploader[Any, Any] | AsyncUploader[Any, Any]

    def __init__(
        self,
        spec: Spec,
        stream: EventStream | None = None,
        *,
        origin: Origin = AS_GIVEN,
        expected_size: int | None = None,
        max_size: int | None = None,
    ) -> None:
        faults = Faults()
        if stream is not None:
            expected_size, max_size = stream.expected_size, stream.max_size
            faults = Faults(stream.fail_write_at, stream.fail_reason, stream.fail_raises)
        self.spec = spec
        self.stream = stream
        #: Where the stream comes from, as the report says it.
        self.origin = origin
        self.expected_size, self.max_size = expected_size, max_size
        self.recorder = Recorder(spec, faults)
        self.sent: list[Event] = []
        self.entered = False
        self.leaks_before: list[object] = []
        #: When the upload closed ("start", "chunk", "done", "cancel", "exit"),
        #: and the error the driver raised then: which close path it took.
        self.when: When | None = None
        self.error: UploadError | None = None
        #: The close paths this upload took (see CLOSE_PATHS).
        self.paths: set[str] = set()

    # -- which close path --------------------------------------------------

    def sent_one(self, event: Event, error: UploadError | None) -> None:
        """Note what sending ``event`` did: closed the upload, or was refused after close."""
        if self.when is None and self.up.reason is not None:
            self.when, self.error = _WHEN[type(event)], error
        if isinstance(event, Chunk) and isinstance(error, UploadClosed):
            self.paths.add("after-close")

    def closed_on(self, when: When) -> None:
        """Note that the upload closed while starting or leaving, if it did."""
        if self.when is None and self.up.reason is not None:
            self.when = when

    def note_path(self) -> None:
        path = close_path(self.up.reason, self.when, self.error, raised=self.recorder.faults.raised)
        if path is not None:
            self.paths.add(path)

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
            fail_raises=faults.raises and faults.fail_write_at is not None,
        )

    def check(self) -> None:
        """Raise the first law broken so far, as a :class:`WriterLawError`."""
        broken = self.recorder.broken
        if broken is None:
            return
        law, detail, cause = broken
        stream = self.current_stream()
        message = law_report(
            self.spec, law, detail, stream=stream, calls=self.recorder.calls, origin=self.origin
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
        self.note_path()
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
            else:
                self._discard()
        if hooks.leaks is not None:
            before = self.leaks_before
            left = [item for item in _items(hooks.leaks) if item not in before]
            if left:
                hint = ""
                if done and hooks.consume is None and not _has_discard(self.spec.writer):
                    hint = (
                        " (if that is what a completed upload hands over, release it in "
                        "consume=, as your application does)"
                    )
                self.recorder.violate(
                    "f", f"after the upload, leaks= still reports {short(left, 400)}{hint}"
                )
                self.check()

    def _discard(self) -> None:
        # What a completed upload made, nobody takes: the writer's own hook
        # releases it, as the uploads layer does after consume.
        writer = self.spec.writer
        if not _has_discard(writer):
            return
        state = self.up.state
        call = Call("discard", (state,))
        self.recorder.calls.append(call)
        try:
            discard(writer, state)
        except Exception as exc:  # noqa: BLE001 - law d: reported, with the exception as cause
            call.raised = exc
            self.recorder.violate("d", f"discard(state) raised {type(exc).__name__}: {exc}", exc)
            self.check()

    def _meta(self) -> Mapping[str, object]:
        try:
            return self.up.meta()
        finally:
            # If meta raised, the recorder has it as law d: report that.
            self.check()


def _has_discard(writer: object) -> bool:
    return getattr(writer, "discard", None) is not None


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
        origin: Origin = AS_GIVEN,
        expected_size: int | None = None,
        max_size: int | None = None,
    ) -> None:
        super().__init__(
            spec, stream, origin=origin, expected_size=expected_size, max_size=max_size
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
        self.closed_on("start")
        self.check()
        return True

    def send(self, event: Event) -> None:
        self.sent.append(event)
        try:
            self.up.send(event)
        except UploadError as exc:
            self.sent_one(event, exc)
        else:
            self.sent_one(event, None)
        self.check()

    def finish(self) -> None:
        if self.entered:
            self.entered = False
            with contextlib.suppress(UploadError):
                self.up.__exit__(None, None, None)
            self.closed_on("exit")
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
        origin: Origin = AS_GIVEN,
        expected_size: int | None = None,
        max_size: int | None = None,
    ) -> None:
        super().__init__(
            spec, stream, origin=origin, expected_size=expected_size, max_size=max_size
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
        self.closed_on("start")
        self.check()
        return True

    async def send(self, event: Event) -> None:
        self.sent.append(event)
        try:
            await self.up.send(event)
        except UploadError as exc:
            self.sent_one(event, exc)
        else:
            self.sent_one(event, None)
        self.check()

    async def finish(self) -> None:
        if self.entered:
            self.entered = False
            with contextlib.suppress(UploadError):
                await self.up.__aexit__(None, None, None)
            self.closed_on("exit")
            self.check()
        self.after_upload()

    async def abort(self, exc: BaseException) -> None:
        if self.entered:
            self.entered = False
            await self.up.__aexit__(type(exc), exc, exc.__traceback__)
