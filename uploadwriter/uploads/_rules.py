"""The entry rules, pure: an entry at selection, when it may start, what its upload made of it.

No I/O, no session: each function takes values and returns values. :class:`Uploads`
holds the entries and applies these rules; the entry runs report their
drivers' uploads through :func:`settled`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

import attrs

from .._errors import (
    ChunkTimeout,
    FileTooLarge,
    IncompleteUpload,
    InitError,
    WriterFailure,
    safe_repr,
)
from .._values import CLOSED, Upload
from ..reducer import completed
from ._entries import ClientFile, EntryError, UploadEntry

__all__ = (
    "Selection",
    "failure_code",
    "new_entry",
    "refusal",
    "selection_errors",
    "settled",
    "too_many_files",
)


# What each driver failure is called on the entry (Phoenix's atoms, and ours
# for the failures Phoenix does not keep).
_CODES: tuple[tuple[type[BaseException], str], ...] = (
    (FileTooLarge, "too_large"),
    (ChunkTimeout, "chunk_timeout"),
    (WriterFailure, "writer_failure"),
    (InitError, "writer_failure"),
    (IncompleteUpload, "incomplete"),
)


class Selection(Protocol):
    """What the selection rules read of a configuration (an :class:`UploadConfig`)."""

    @property
    def name(self) -> str: ...
    @property
    def max_file_size(self) -> int: ...
    @property
    def max_entries(self) -> int: ...
    @property
    def max_entries_mode(self) -> str: ...
    @property
    def validator(self) -> Any: ...

    def accepts(self, name: str, type: str) -> bool: ...


def failure_code(failure: BaseException | None) -> str:
    """The entry error code for a driver's failure (``incomplete`` for a plain cancel)."""
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


def _as_iterable(value: object) -> Iterable[object]:
    if value is None:
        return ()
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        return (value,)
    return value


def new_entry(config: Selection, file: ClientFile, ref: str, uuid: str) -> UploadEntry:
    """The entry for a selected ``file``, with its selection errors (see :func:`selection_errors`).

    Raises:
        TypeError: the config's validator returned something else than errors.
    """
    entry = UploadEntry(
        ref=ref,
        uuid=uuid,
        upload_config=config.name,
        client_name=file.name,
        client_size=file.size,
        client_type=file.type,
        client_last_modified=file.last_modified,
    )
    return attrs.evolve(entry, errors=selection_errors(config, entry))


def selection_errors(config: Selection, entry: UploadEntry) -> tuple[EntryError, ...]:
    """Check an entry in Phoenix's order, stopping at the first error: size, accept, validator.

    Raises:
        TypeError: the config's validator returned something else than errors.
    """
    if entry.client_size > config.max_file_size:
        return (EntryError("too_large", config.max_file_size),)
    if not config.accepts(entry.client_name, entry.client_type):
        return (EntryError("not_accepted"),)
    if config.validator is not None:
        return tuple(_as_error(value) for value in _as_iterable(config.validator(entry)))
    return ()


def too_many_files(config: Selection, entries: int, consumed: int) -> tuple[EntryError, ...]:
    """``(EntryError("too_many_files", count),)`` while the count is over ``max_entries``."""
    count = entries + (consumed if config.max_entries_mode == "total" else 0)
    if count > config.max_entries:
        return (EntryError("too_many_files", count),)
    return ()


def refusal(entry: UploadEntry, whole: tuple[EntryError, ...], max_entries: int) -> str | None:
    """Why ``entry``'s upload may not start (``whole``: the upload's own errors), or ``None``."""
    if entry.errors:
        return f"it has errors {entry.error_codes}; cancel it"
    if entry.started:
        return "its upload has already started (each entry is uploaded once)"
    if whole:
        return (
            f"the upload has too_many_files ({whole[0].reason} entries counted, "
            f"max_entries={max_entries}); cancel some first"
        )
    return None


def settled(
    entry: UploadEntry, upload: Upload[Any], closed_before: bool, cause: BaseException | None
) -> UploadEntry:
    """The entry after its driver's upload moved to ``upload``.

    Bytes written become ``progress`` (up to 99 until done: the last chunk may
    land and its close still fail); a close with ``Done()`` that answered
    ``Ok`` becomes ``done`` and 100; an upload that closed otherwise adds one
    error, once (when it closes, ``closed_before`` being false): the driver's
    failure, or ``incomplete`` with ``cause`` (the exception that left the
    block) for a plain cancel. No failure is lost, not even a chunk timeout or
    a too-large stream, which Phoenix drops together with the entry.
    """
    progress, done, errors = entry.progress, entry.done, entry.errors
    if upload.phase is CLOSED:
        failure = upload.failure
        if completed(upload):
            done, progress = True, 100
        elif not closed_before:
            reason = failure if failure is not None else cause
            errors = (*errors, EntryError(failure_code(failure), reason))
    if not done and entry.client_size > 0:
        progress = max(progress, min(99, upload.size * 100 // entry.client_size))
    if (progress, done, errors) == (entry.progress, entry.done, entry.errors):
        return entry
    return attrs.evolve(entry, progress=progress, done=done, errors=errors)
