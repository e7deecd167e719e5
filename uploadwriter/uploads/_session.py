"""``Uploads``: the entries of one configured upload, from selection to consumption.

Theory of operation
-------------------
An :class:`Uploads` owns one :class:`UploadConfig` and its entries, which are
immutable :class:`UploadEntry` values it replaces as things happen (Phoenix's
``@uploads.name``). It decides nothing about an upload's lifecycle: each
entry's upload runs through the core drivers (:class:`~uploadwriter.Uploader`
or :class:`~uploadwriter.AsyncUploader`), and after every driver call the
session reads the driver's state back into the entry (:meth:`Uploads._settle`):
bytes written become ``progress``, a close with ``Done()`` becomes ``done``, and
whatever failure the driver recorded becomes an error on the entry, so no
failure is lost (not even a chunk timeout or a too-large stream, which Phoenix
drops together with the entry).

Not thread-safe: use one ``Uploads`` from one thread (or one event loop).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Generic, TypeAlias, TypeVar, cast, overload

import anyio
import anyio.lowlevel
import attrs

from .._async import AsyncUploader, ThreadedWriter
from .._errors import (
    ChunkTimeout,
    FileTooLarge,
    IncompleteUpload,
    InitError,
    UploadFailed,
    WriterFailure,
    safe_repr,
)
from .._events import Cancel, Done, Event
from .._protocols import AsyncUploadWriter, UploadWriter, discard, is_async_writer
from .._sync import Uploader
from ..reducer import CLOSED, OPEN
from ._config import UploadConfig, as_iterable_errors
from ._entries import ClientFile, EntryError, Postpone, UploadEntry
from ._errors import EntryInProgress, EntryRefused, UnknownEntry

__all__ = ("AsyncEntryRun", "EntryRun", "Uploads")

T = TypeVar("T")
R = TypeVar("R")
D = TypeVar("D")  # the driver an entry upload runs

#: ``fn(meta, entry)``: what a consume function is given, and returns.
ConsumeFn: TypeAlias = Callable[[Mapping[str, object], UploadEntry], R]

_DONE = Done()
_CANCEL = Cancel()

# What each driver failure is called on the entry (Phoenix's atoms, and ours
# for the failures Phoenix does not keep).
_CODES: tuple[tuple[type[BaseException], str], ...] = (
    (FileTooLarge, "too_large"),
    (ChunkTimeout, "chunk_timeout"),
    (WriterFailure, "writer_failure"),
    (InitError, "writer_failure"),
    (IncompleteUpload, "incomplete"),
)


def _code(failure: BaseException | None) -> str:
    for kind, code in _CODES:
        if isinstance(failure, kind):
            return code
    # Closed with Cancel() without a failure of its own: the block was left
    # (or the task cancelled) before the upload completed.
    return "incomplete"


def _as_error(value: object) -> EntryError:
    if isinstance(value, EntryError):
        return value
    if isinstance(value, str) and value:
        return EntryError(value)
    raise TypeError(
        "validator must return None, an error code (a non-empty str), an EntryError, or an "
        f"iterable of them; it returned {safe_repr(value)}"
    )


def _discard(run: EntryRun | AsyncEntryRun) -> None:
    # What a completed upload holds (a TmpFileWriter's file) is released once
    # nobody will take it: after consume, or when the entry is cancelled. The
    # writer says how, through its optional discard hook.
    driver = run.driver
    if driver.phase is CLOSED and driver.reason == _DONE and driver.failure is None:
        discard(run.writer, driver.state)


def _unpack(name: str, result: object) -> tuple[object, object]:
    if not isinstance(result, tuple) or len(result) != 2:
        raise TypeError(
            f"the writer factory of upload {name!r} must return a (writer, opts) tuple, "
            f"not {safe_repr(result)}"
        )
    return result[0], result[1]


class Uploads:
    """The entries of one configured upload: select, upload, cancel, consume.

    ::

        uploads = Uploads(UploadConfig("avatar", accept=[".jpg"]))
        (entry,) = uploads.select([ClientFile("me.jpg", 3, "image/jpeg")])
        with uploads.upload(entry.ref) as up:
            up.send(Chunk(b"abc"))
        uploads.consume_uploaded_entries(lambda meta, entry: meta["path"])

    Raises:
        TypeError: ``config`` is not an :class:`UploadConfig`.
    """

    __slots__ = ("_config", "_consumed", "_entries", "_next_ref", "_runs")

    def __init__(self, config: UploadConfig) -> None:
        if not isinstance(config, UploadConfig):
            raise TypeError(f"Uploads needs an UploadConfig, not {safe_repr(config)}")
        self._config = config
        self._entries: dict[str, UploadEntry] = {}
        self._runs: dict[str, EntryRun | AsyncEntryRun] = {}
        self._consumed = 0
        self._next_ref = 0

    # --- reading -------------------------------------------------------------

    @property
    def config(self) -> UploadConfig:
        """The configuration."""
        return self._config

    @property
    def entries(self) -> tuple[UploadEntry, ...]:
        """The current entries, in selection order (cancelled and consumed ones are gone)."""
        return tuple(self._entries.values())

    @property
    def consumed(self) -> int:
        """How many entries have been consumed (``max_entries_mode="total"`` counts them)."""
        return self._consumed

    @property
    def errors(self) -> tuple[EntryError, ...]:
        """Errors of the upload as a whole: ``too_many_files`` while the count is over the limit.

        The count is the current entries (``max_entries_mode="selected"``), plus
        the consumed ones (``"total"``). The error clears itself once the count
        fits again (an entry cancelled, or consumed in ``"selected"`` mode).
        """
        count = len(self._entries)
        if self._config.max_entries_mode == "total":
            count += self._consumed
        if count > self._config.max_entries:
            return (EntryError("too_many_files", count),)
        return ()

    def entry(self, ref: str) -> UploadEntry:
        """Return the entry ``ref``.

        Raises:
            UnknownEntry: there is none (never selected, or cancelled or consumed).
        """
        try:
            return self._entries[ref]
        except KeyError:
            raise UnknownEntry(ref, self._config.name) from None

    def uploaded_entries(self) -> tuple[tuple[UploadEntry, ...], tuple[UploadEntry, ...]]:
        """Return ``(done, in_progress)``: completed entries, and valid ones not done yet."""
        entries = self._entries.values()
        return (
            tuple(e for e in entries if e.done),
            tuple(e for e in entries if e.valid and not e.done),
        )

    # --- selection -------------------------------------------------------------

    def select(self, files: Iterable[ClientFile]) -> tuple[UploadEntry, ...]:
        """Add the files the client selected as entries, validated; return the new entries.

        Each entry is checked in Phoenix's order, stopping at the first error:
        its declared size (``too_large``), then ``accept`` (``not_accepted``),
        then the config's ``validator``. A file whose ``ref`` is already an
        entry is skipped (a client re-sending its selection). With
        ``max_entries=1``, selecting one file replaces the sole entry (which is
        cancelled). Then ``too_many_files`` is in :attr:`errors` if the count
        is over ``max_entries``.

        Raises:
            TypeError: an item is not a :class:`ClientFile`, or the validator
                returned something else than errors.
            ValueError: two files of the selection have the same ``ref``.
        """
        batch = list(files)
        refs: set[str] = set()
        for file in batch:
            if not isinstance(file, ClientFile):
                raise TypeError(f"select takes ClientFile values, not {safe_repr(file)}")
            if file.ref is not None:
                if file.ref in refs:
                    raise ValueError(f"two selected files have the same ref {file.ref!r}")
                refs.add(file.ref)
        new = [f for f in batch if f.ref is None or f.ref not in self._entries]
        # Build and validate them all before changing anything: a validator
        # that raises leaves the session as it was.
        taken = set(self._entries) | refs
        created: list[UploadEntry] = []
        for file in new:
            ref = file.ref if file.ref is not None else self._free_ref(taken)
            taken.add(ref)
            created.append(self._validated(file, ref))
        if self._config.max_entries == 1 and len(self._entries) == 1 and len(new) == 1:
            (sole,) = self._entries
            self.cancel(sole)
        for entry in created:
            self._entries[entry.ref] = entry
        return tuple(created)

    def _free_ref(self, taken: set[str]) -> str:
        while str(self._next_ref) in taken:
            self._next_ref += 1
        ref = str(self._next_ref)
        self._next_ref += 1
        return ref

    def _validated(self, file: ClientFile, ref: str) -> UploadEntry:
        config = self._config
        entry = UploadEntry(
            ref=ref,
            uuid=str(uuid.uuid4()),
            upload_config=config.name,
            client_name=file.name,
            client_size=file.size,
            client_type=file.type,
            client_last_modified=file.last_modified,
        )
        errors: tuple[EntryError, ...] = ()
        if entry.client_size > config.max_file_size:
            errors = (EntryError("too_large", config.max_file_size),)
        elif not config.accepts(entry.client_name, entry.client_type):
            errors = (EntryError("not_accepted"),)
        elif config.validator is not None:
            answer = as_iterable_errors(config.validator(entry))
            errors = tuple(_as_error(value) for value in answer)
        return attrs.evolve(entry, errors=errors)

    # --- uploading -------------------------------------------------------------

    def upload(self, ref: str) -> EntryRun:
        """Return the context manager that runs entry ``ref``'s upload with :class:`Uploader`.

        Entering it checks the entry, calls the writer factory once, and
        starts the writer (see :class:`EntryRun`).
        """
        return EntryRun(self, ref)

    def upload_async(self, ref: str) -> AsyncEntryRun:
        """Return the async context manager running entry ``ref``'s upload (async driver)."""
        return AsyncEntryRun(self, ref)

    def _begin(self, ref: str) -> tuple[UploadEntry, object, object]:
        entry = self.entry(ref)
        if entry.errors:
            raise EntryRefused(ref, f"it has errors {entry.error_codes}; cancel it")
        if entry.started:
            raise EntryRefused(ref, "its upload has already started (each entry is uploaded once)")
        too_many = self.errors
        if too_many:
            raise EntryRefused(
                ref,
                f"the upload has too_many_files ({too_many[0].reason} entries counted, "
                f"max_entries={self._config.max_entries}); cancel some first",
            )
        writer, opts = _unpack(self._config.name, self._config.writer(self._config.name, entry))
        return entry, writer, opts

    def _start(self, run: EntryRun | AsyncEntryRun) -> None:
        # The driver accepted the writer: from here on the entry's upload has started.
        self._entries[run.ref] = attrs.evolve(self._entries[run.ref], started=True)
        self._runs[run.ref] = run

    def _replace(self, new: UploadEntry) -> None:
        old = self._entries[new.ref]
        self._entries[new.ref] = new
        callback = self._config.progress
        if callback is not None and (old.progress, old.done, old.errors) != (
            new.progress,
            new.done,
            new.errors,
        ):
            callback(self._config.name, new, self)

    def _settle(self, run: EntryRun | AsyncEntryRun, exc: BaseException | None) -> None:
        """Read the driver's state back into the entry; call ``progress`` if it changed."""
        ref = run.ref
        if self._runs.get(ref) is not run:
            return  # cancelled or consumed meanwhile: nothing to report on
        entry = self._entries[ref]
        driver = run.driver
        upload = driver.upload
        progress, done, errors = entry.progress, entry.done, entry.errors
        if upload.phase is CLOSED:
            if upload.failure is None and upload.reason == _DONE:
                done, progress = True, 100
            elif not run._recorded:
                failure = upload.failure
                errors = (
                    *errors,
                    EntryError(_code(failure), failure if failure is not None else exc),
                )
        run._recorded = upload.phase is CLOSED
        if not done and entry.client_size > 0:
            # 100 is kept for done: the last chunk may land and its close still fail.
            progress = max(progress, min(99, driver.size * 100 // entry.client_size))
        self._replace(attrs.evolve(entry, progress=progress, done=done, errors=errors))

    # --- cancel and consume ----------------------------------------------------

    def _drop(self, ref: str) -> tuple[UploadEntry, EntryRun | AsyncEntryRun | None]:
        entry = self._entries.pop(ref)
        return entry, self._runs.pop(ref, None)

    def cancel(self, ref: str) -> UploadEntry:
        """Cancel entry ``ref`` and drop it; return it, with ``cancelled=True``.

        An open writer is closed with ``Cancel()`` (at once for a sync upload;
        an async upload's block is cancelled and its writer closed when the
        block exits, at its next checkpoint). A completed entry's temp file is
        removed. ``too_many_files`` is recomputed.

        Raises:
            UnknownEntry: there is no entry ``ref``.
            WriterFailure: closing the writer with ``Cancel()`` failed (the
                entry is dropped all the same).
        """
        entry = self.entry(ref)
        _, run = self._drop(ref)
        if run is not None:
            try:
                run._cancel_soon()
            finally:
                _discard(run)
        return attrs.evolve(entry, cancelled=True)

    @overload
    def consume_uploaded_entries(self, fn: ConsumeFn[Postpone[T]]) -> list[T]: ...
    @overload
    def consume_uploaded_entries(self, fn: ConsumeFn[T | Postpone[T]]) -> list[T]: ...
    def consume_uploaded_entries(self, fn: ConsumeFn[Any]) -> list[Any]:
        """Hand each completed entry's meta and the entry to ``fn``; return what it returned.

        Entries with errors are left alone (show them, then cancel them). A
        consumed entry is dropped and its temp file removed; if ``fn`` returns
        ``Postpone(value)`` the entry stays, with its file and writer state, and
        its meta is computed again next time. If ``fn`` raises, that entry is
        still consumed and the exception propagates (later entries stay).

        Raises:
            EntryInProgress: a valid entry is not done yet (nothing is consumed).
        """
        entries = list(self._entries.values())
        pending = [e.ref for e in entries if e.valid and not e.done]
        if pending:
            raise EntryInProgress(pending)
        # The condition is checked as each entry comes: fn may have cancelled
        # or consumed a later entry meanwhile.
        return [
            self._consume(entry, fn)
            for entry in entries
            if entry.done and self._entries.get(entry.ref) is entry
        ]

    @overload
    def consume_uploaded_entry(self, ref: str, fn: ConsumeFn[Postpone[T]]) -> T: ...
    @overload
    def consume_uploaded_entry(self, ref: str, fn: ConsumeFn[T | Postpone[T]]) -> T: ...
    def consume_uploaded_entry(self, ref: str, fn: ConsumeFn[Any]) -> Any:
        """Consume entry ``ref`` as :meth:`consume_uploaded_entries` does; return ``fn``'s value.

        Raises:
            UnknownEntry: there is no entry ``ref``.
            EntryInProgress: its upload has not completed.
            UploadFailed: it has errors, so it has nothing to consume.
        """
        entry = self.entry(ref)
        if not entry.done:
            if entry.errors:
                first = entry.errors[0].reason
                raise UploadFailed(
                    f"entry {ref!r} has errors {entry.error_codes}, so it has nothing to "
                    "consume; cancel it",
                    first if isinstance(first, BaseException) else None,
                )
            raise EntryInProgress([ref])
        return self._consume(entry, fn)

    def _consume(self, entry: UploadEntry, fn: ConsumeFn[Any]) -> Any:
        run = self._runs[entry.ref]
        meta = run.driver.meta()
        keep = False
        try:
            result = fn(meta, entry)
            if isinstance(result, Postpone):
                keep = True
                return result.value
            return result
        finally:
            # fn may itself have cancelled or consumed this entry: count it once.
            if not keep and self._runs.get(entry.ref) is run:
                self._drop(entry.ref)
                self._consumed += 1
            if not keep:
                _discard(run)

    def __repr__(self) -> str:
        return f"<Uploads {self._config.name!r} entries={len(self._entries)}>"


class _EntryRunBase(Generic[D]):
    """What both entry uploads share: the session, the entry's ref and its driver."""

    __slots__ = ("_driver", "_recorded", "_uploads", "ref", "writer")

    _block = "with"  # how the driver's block is entered, for messages

    def __init__(self, uploads: Uploads, ref: str) -> None:
        self._uploads = uploads
        self.ref: str = ref
        self._driver: D | None = None
        #: The writer the factory gave (``None`` until the upload is entered).
        self.writer: object = None
        #: The failure of the closed upload was recorded on the entry.
        self._recorded = False

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
        return self._uploads.entry(self.ref)

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
        uploads = self._uploads
        entry, writer, opts = uploads._begin(self.ref)
        self.writer = writer
        driver: Uploader[Any, Any] = Uploader(
            cast("UploadWriter[Any, Any]", writer),
            opts,
            expected_size=entry.client_size,
            max_size=uploads.config.max_file_size,
        )
        self._driver = driver
        uploads._start(self)
        try:
            driver.__enter__()
        finally:
            uploads._settle(self, None)
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
        if isinstance(event, Cancel) and self._uploads._runs.get(self.ref) is self:
            self._uploads.cancel(self.ref)
            return
        try:
            driver.send(event)
        finally:
            self._uploads._settle(self, None)

    def _cancel_soon(self) -> None:
        """Close the writer with ``Cancel()`` now if it is open (used by :meth:`Uploads.cancel`)."""
        driver = self.driver
        if driver.phase is OPEN:
            driver.send(_CANCEL)
        # Otherwise it is closed already, or a writer call is running (we are
        # inside it): leaving the with block cancels it (L10).

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.driver.__exit__(exc_type, exc, tb)
        finally:
            self._uploads._settle(self, exc)


class AsyncEntryRun(_EntryRunBase[AsyncUploader[Any, Any]]):
    """Run one entry's upload through :class:`~uploadwriter.AsyncUploader` (``async with``).

    As :class:`EntryRun`, under asyncio or trio. A synchronous writer from
    the factory runs in worker threads (:class:`~uploadwriter.ThreadedWriter`);
    the chunk timeout is the config's ``chunk_timeout``, and a timeout is
    recorded on the entry as ``chunk_timeout`` before ``ChunkTimeout``
    propagates. :meth:`Uploads.cancel` cancels the block's body (which then
    ends quietly, as under ``move_on_after``) and the writer is closed with
    ``Cancel()`` as the block exits.
    """

    __slots__ = ("_cancel_requested", "_scope")

    _block = "async with"

    def __init__(self, uploads: Uploads, ref: str) -> None:
        super().__init__(uploads, ref)
        self._scope: anyio.CancelScope | None = None
        self._cancel_requested = False

    async def __aenter__(self) -> AsyncEntryRun:
        if self._driver is not None:
            raise EntryRefused(self.ref, "this upload was entered before; each runs once")
        uploads = self._uploads
        config = uploads.config
        entry, writer, opts = uploads._begin(self.ref)
        self.writer = writer
        if is_async_writer(writer):
            async_writer = cast("AsyncUploadWriter[Any, Any]", writer)
        else:
            async_writer = ThreadedWriter(cast("UploadWriter[Any, Any]", writer))
        driver: AsyncUploader[Any, Any] = AsyncUploader(
            async_writer,
            opts,
            expected_size=entry.client_size,
            max_size=config.max_file_size,
            chunk_timeout=config.chunk_timeout,
        )
        self._driver = driver
        uploads._start(self)
        try:
            await driver.__aenter__()
        finally:
            uploads._settle(self, None)
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
        uploads = self._uploads
        if isinstance(event, Cancel) and uploads._runs.get(self.ref) is self:
            # Cancelled from the body itself: close the writer now, let the body go on.
            uploads._drop(self.ref)
            try:
                await driver.send(event)
            finally:
                _discard(self)
            return
        if self._cancel_requested:
            if driver.phase is OPEN:
                await driver.send(_CANCEL)
            await anyio.lowlevel.checkpoint()  # our scope is cancelled: this ends the body
        try:
            await driver.send(event)
        finally:
            uploads._settle(self, None)

    def _cancel_soon(self) -> None:
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
        swallowed = False
        scope = self._scope
        assert scope is not None  # set by __aenter__, the only way in
        self._scope = None
        if scope.__exit__(exc_type, exc, tb):
            swallowed = True  # our own cancel (Uploads.cancel): the body ends quietly
            exc_type, exc, tb = None, None, None
        driver = self.driver
        try:
            suppressed = await driver.__aexit__(exc_type, exc, tb)
        finally:
            self._uploads._settle(self, exc)
            if self._cancel_requested:
                _discard(self)
        return swallowed or suppressed
