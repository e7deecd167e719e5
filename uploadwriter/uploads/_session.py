"""``Uploads``: the entries of one configured upload, from selection to consumption.

Theory of operation
-------------------
An :class:`Uploads` owns one :class:`UploadConfig` and its entries, which are
immutable :class:`UploadEntry` values it replaces as things happen (Phoenix's
``@uploads.name``). It decides nothing itself: the entry rules are the pure
functions of :mod:`._rules` (what a selected file becomes, when an entry may
start, what an upload's end makes of its entry), and each entry's upload runs
through a core driver in an entry run (:mod:`._runs`), which reports back
after every driver call.

Not thread-safe: use one ``Uploads`` from one thread (or one event loop).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeAlias, TypeVar, overload

import attrs

from .._adapters import writer_and_opts
from .._errors import UploadFailed, safe_repr
from .._values import CLOSED
from ._config import UploadConfig
from ._entries import ClientFile, EntryError, Postpone, UploadEntry
from ._errors import EntryInProgress, EntryRefused, UnknownEntry
from ._rules import new_entry, refusal, settled, too_many_files
from ._runs import AsyncEntryRun, EntryRun, discard_result

__all__ = ("Uploads",)

T = TypeVar("T")
R = TypeVar("R")

#: ``fn(meta, entry)``: what a consume function is given, and returns.
ConsumeFn: TypeAlias = Callable[[Mapping[str, object], UploadEntry], R]


def _check_ref(ref: object) -> None:
    if not isinstance(ref, str):
        raise TypeError(
            f"entry refs are strings: {str(ref)!r}, not {safe_repr(ref)} "
            f"({type(ref).__name__}); use the ref of the entry, e.g. entry.ref"
        )


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
        return too_many_files(self._config, len(self._entries), self._consumed)

    def entry(self, ref: str) -> UploadEntry:
        """Return the entry ``ref``.

        Raises:
            UnknownEntry: there is none (never selected, or cancelled or consumed).
            TypeError: ``ref`` is not a string (refs are strings: ``"0"``, not ``0``).
        """
        _check_ref(ref)
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
            created.append(new_entry(self._config, file, ref, str(uuid.uuid4())))
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

    # --- uploading -------------------------------------------------------------

    def upload(self, ref: str) -> EntryRun:
        """Return the context manager that runs entry ``ref``'s upload with :class:`Uploader`.

        Entering it checks the entry, calls the writer factory once, and
        starts the writer (see :class:`EntryRun`).
        """
        _check_ref(ref)
        return EntryRun(self, ref)

    def upload_async(self, ref: str) -> AsyncEntryRun:
        """Return the async context manager running entry ``ref``'s upload (async driver)."""
        _check_ref(ref)
        return AsyncEntryRun(self, ref)

    def _begin(self, ref: str) -> tuple[UploadEntry, object, object]:
        entry = self.entry(ref)
        why = refusal(entry, self.errors, self._config.max_entries)
        if why is not None:
            raise EntryRefused(ref, why)
        writer, opts = writer_and_opts(
            self._config.writer(self._config.name, entry),
            f"the writer factory of upload {self._config.name!r}",
        )
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

    def _settle(self, run: EntryRun | AsyncEntryRun, cause: BaseException | None) -> None:
        """Settle the entry from its run's upload; call ``progress`` if it changed."""
        if not self._owns(run):
            return  # cancelled or consumed meanwhile: nothing to report on
        upload = run.driver.upload
        entry = settled(self._entries[run.ref], upload, run.closed_seen, cause)
        run.closed_seen = upload.phase is CLOSED
        self._replace(entry)

    def _owns(self, run: EntryRun | AsyncEntryRun) -> bool:
        return self._runs.get(run.ref) is run

    # --- cancel and consume ----------------------------------------------------

    def _drop(self, ref: str) -> tuple[UploadEntry, EntryRun | AsyncEntryRun | None]:
        entry = self._entries.pop(ref)
        return entry, self._runs.pop(ref, None)

    def _release(self, run: EntryRun | AsyncEntryRun) -> None:
        """Drop the entry of ``run`` (cancelled from its own block)."""
        self._drop(run.ref)

    def cancel(self, ref: str) -> UploadEntry:
        """Cancel entry ``ref`` and drop it; return it, with ``cancelled=True``.

        An open writer is closed with ``Cancel()``: at once for a sync upload
        (or, from inside a writer callback, as soon as it has answered); an
        async upload's block is cancelled and its writer closed when the block
        exits. What a completed entry holds is released (the writer's
        ``discard`` hook: a temp file is removed). ``too_many_files`` is
        recomputed.

        Raises:
            UnknownEntry: there is no entry ``ref``.
            WriterFailure: closing the writer with ``Cancel()`` failed (the
                entry is dropped all the same).
        """
        entry = self.entry(ref)
        _, run = self._drop(ref)
        if run is not None:
            try:
                run.cancel_soon()
            finally:
                discard_result(run)
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
                discard_result(run)

    def __repr__(self) -> str:
        return f"<Uploads {self._config.name!r} entries={len(self._entries)}>"
