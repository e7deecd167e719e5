"""The entry runs: one entry's upload through a core driver, reported back to its ``Uploads``.

A run does not decide anything about the entry: it starts the driver, and
after every driver call it asks its owner (the :class:`~uploadwriter.Uploads`
that made it) to settle the entry from the driver's upload.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar, cast

import anyio
import anyio.lowlevel

from .._adapters import as_async_writer
from .._async import AsyncUploader
from .._events import Cancel, Event
from .._protocols import UploadWriter, discard
from .._sync import Uploader
from .._values import CLOSED
from ..reducer import completed
from ._config import UploadConfig
from ._entries import UploadEntry
from ._errors import EntryRefused

__all__ = ("AsyncEntryRun", "EntryRun", "RunOwner")

D = TypeVar("D")  # the driver a run uses

_CANCEL = Cancel()


class RunOwner(Protocol):
    """What a run asks of the :class:`~uploadwriter.Uploads` that made it."""

    @property
    def config(self) -> UploadConfig: ...

    def entry(self, ref: str) -> UploadEntry: ...

    def cancel(self, ref: str) -> UploadEntry: ...

    def _begin(self, ref: str) -> tuple[UploadEntry, object, object]: ...

    def _start(self, run: EntryRun | AsyncEntryRun) -> None: ...

    def _settle(self, run: EntryRun | AsyncEntryRun, cause: BaseException | None) -> None: ...

    def _owns(self, run: EntryRun | AsyncEntryRun) -> bool: ...

    def _release(self, run: EntryRun | AsyncEntryRun) -> None: ...


def discard_result(run: EntryRun | AsyncEntryRun) -> None:
    """Release what the run's completed upload holds (a TmpFileWriter's file), if it completed.

    The writer says how, through its optional ``discard`` hook; a failed or
    cancelled upload was cleaned up by the writer's own ``close``.
    """
    driver = run._driver
    if driver is not None and completed(driver.upload):
        discard(run.writer, driver.state)


class _EntryRunBase(Generic[D]):
    """What both entry runs share: the owner, the entry's ref, the writer and the driver."""

    __slots__ = ("_driver", "_owner", "closed_seen", "ref", "writer")

    _block = "with"  # how the driver's block is entered, for messages

    def __init__(self, owner: RunOwner, ref: str) -> None:
        self._owner = owner
        self.ref: str = ref
        self._driver: D | None = None
        #: The writer the factory gave (``None`` until the upload is entered).
        self.writer: object = None
        #: The entry has been settled from a closed upload (its failure is recorded once).
        self.closed_seen: bool = False

    @property
    def driver(self) -> D:
        """The driver running the upload.

        Raises:
            EntryRefused: the upload has not been entered yet.
        """
        if self._driver is None:
            raise EntryRefused(self.ref, f"enter the upload's {self._block} block first")
        return self._driver

    @property
    def entry(self) -> UploadEntry:
        """The entry's current value.

        Raises:
            UnknownEntry: it was cancelled or consumed.
        """
        return self._owner.entry(self.ref)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.ref!r} {self._driver!r}>"


class EntryRun(_EntryRunBase[Uploader[Any, Any]]):
    """Run one entry's upload through :class:`~uploadwriter.Uploader` (a context manager).

    Entering checks that the entry may be uploaded, calls the writer factory
    once, and calls the writer's ``init`` (the expected size is the entry's
    declared size, the limit ``max_file_size``). :meth:`send` forwards events
    to the driver; after each, the entry's progress, ``done`` and errors are
    updated and the ``progress`` callback runs if they changed. A failure is
    recorded on the entry before the driver's error propagates.

    Entering raises the errors below.

    Raises:
        UnknownEntry: there is no such entry.
        EntryRefused: the entry has errors, was already started, or the upload
            has ``too_many_files``.
        InitError: the writer's ``init`` failed (recorded as ``writer_failure``).
        TypeError: the factory did not return ``(writer, opts)``, or the
            writer is not a synchronous writer.
    """

    __slots__ = ()

    def __enter__(self) -> EntryRun:
        if self._driver is not None:
            raise EntryRefused(self.ref, "this upload was entered before; each runs once")
        owner = self._owner
        entry, writer, opts = owner._begin(self.ref)
        self.writer = writer
        driver: Uploader[Any, Any] = Uploader(
            cast("UploadWriter[Any, Any]", writer),
            opts,
            expected_size=entry.client_size,
            max_size=owner.config.max_file_size,
        )
        self._driver = driver
        owner._start(self)
        try:
            driver.__enter__()
        finally:
            owner._settle(self, None)
        return self

    def send(self, event: Event) -> None:
        """Send ``Chunk(data)``, ``Done()``, or ``Cancel()`` (as :meth:`Uploads.cancel`).

        Raises:
            EntryRefused: the upload has not been entered.
            FileTooLarge, WriterFailure, IncompleteUpload: the upload failed;
                the failure is on the entry too.
            UploadClosed: a chunk was sent after the upload closed.
            InvalidEvent: ``event`` is not an event.
        """
        driver = self.driver
        owner = self._owner
        if isinstance(event, Cancel) and owner._owns(self):
            owner.cancel(self.ref)
            return
        try:
            driver.send(event)
        finally:
            owner._settle(self, None)

    def cancel_soon(self) -> None:
        """Cancel the writer (used by :meth:`Uploads.cancel`): at once, or once its call answers.

        A cancel is accepted at any moment: inside a writer callback (a
        ``progress`` hook that cancels), the driver records it, and the writer
        is closed with ``Cancel()`` as soon as the callback has answered.
        """
        driver = self.driver
        if driver.phase is not CLOSED:
            driver.send(_CANCEL)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.driver.__exit__(exc_type, exc, tb)
        finally:
            self._owner._settle(self, exc)


class AsyncEntryRun(_EntryRunBase[AsyncUploader[Any, Any]]):
    """Run one entry's upload through :class:`~uploadwriter.AsyncUploader` (``async with``).

    As :class:`EntryRun`, under asyncio or trio. A synchronous writer from
    the factory runs in worker threads (:class:`~uploadwriter.ThreadedWriter`);
    the chunk timeout is the config's ``chunk_timeout``, and a timeout is
    recorded on the entry as ``chunk_timeout`` before ``ChunkTimeout``
    propagates. :meth:`Uploads.cancel` cancels the block's body (which then
    ends quietly, as under ``move_on_after``) and the writer is closed with
    ``Cancel()`` as the block exits — once a pending write has answered.
    """

    __slots__ = ("_cancel_requested", "_scope")

    _block = "async with"

    def __init__(self, owner: RunOwner, ref: str) -> None:
        super().__init__(owner, ref)
        self._scope: anyio.CancelScope | None = None
        self._cancel_requested = False

    async def __aenter__(self) -> AsyncEntryRun:
        if self._driver is not None:
            raise EntryRefused(self.ref, "this upload was entered before; each runs once")
        owner = self._owner
        config = owner.config
        entry, writer, opts = owner._begin(self.ref)
        self.writer = writer
        driver: AsyncUploader[Any, Any] = AsyncUploader(
            as_async_writer(writer),
            opts,
            expected_size=entry.client_size,
            max_size=config.max_file_size,
            chunk_timeout=config.chunk_timeout,
        )
        self._driver = driver
        owner._start(self)
        try:
            await driver.__aenter__()
        finally:
            owner._settle(self, None)
        # Our own scope inside the driver's: cancelling it ends the body
        # without touching the driver's chunk-timeout deadline.
        scope = self._scope = anyio.CancelScope()
        scope.__enter__()
        if self._cancel_requested:
            scope.cancel()
        return self

    async def send(self, event: Event) -> None:
        """Send ``Chunk(data)``, ``Done()``, or ``Cancel()`` (drop the entry, close the writer now).

        Raises:
            EntryRefused: the upload has not been entered.
            FileTooLarge, WriterFailure, IncompleteUpload, ChunkTimeout: the
                upload failed; the failure is on the entry too.
            UploadClosed: a chunk was sent after the upload closed.
            InvalidEvent: ``event`` is not an event.
        """
        driver = self.driver
        owner = self._owner
        if isinstance(event, Cancel) and owner._owns(self):
            # Cancelled from the body itself: close the writer now, let the body go on.
            owner._release(self)
            try:
                await driver.send(event)
            finally:
                discard_result(self)
            return
        if self._cancel_requested:
            await anyio.lowlevel.checkpoint()  # our scope is cancelled: this ends the body
        try:
            await driver.send(event)
        finally:
            owner._settle(self, None)

    def cancel_soon(self) -> None:
        """Cancel the block's body; the writer is closed with ``Cancel()`` as it exits."""
        self._cancel_requested = True
        if self._scope is not None:
            self._scope.cancel()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        scope = self._scope
        assert scope is not None  # set by __aenter__, the only way in
        self._scope = None
        swallowed = False
        try:
            # Our own cancel (Uploads.cancel): the body ends quietly.
            swallowed = bool(scope.__exit__(exc_type, exc, tb)) and exc is not None
        finally:
            # Whatever the scope's exit did (it raises when left from another
            # task), the driver's block is left, which closes the writer (L10).
            if swallowed:
                exc_type, exc, tb = None, None, None
            driver = self.driver
            try:
                suppressed = await driver.__aexit__(exc_type, exc, tb)
            finally:
                self._owner._settle(self, exc)
                if self._cancel_requested:
                    discard_result(self)
        return swallowed or suppressed
