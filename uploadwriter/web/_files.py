"""What the receivers share: the file a client sends, the file received, the writer it goes to."""

from __future__ import annotations

import logging
import typing
from collections.abc import Mapping
from typing import Any, TypeAlias

import attrs

from .._adapters import as_async_writer, writer_and_opts
from .._async import AsyncUploader
from .._errors import FileTooLarge, IncompleteUpload, InitError, WriterFailure
from .._protocols import AsyncUploadWriter, UploadWriter, discard
from ..reducer import completed
from ._errors import UploadRejected
from ._limits import HttpLimits

__all__ = (
    "FilePart",
    "PartWriterFactory",
    "ReceivedFile",
    "ReceivedForm",
    "check_part",
    "discard_completed",
    "rejection",
    "start_upload",
    "timed_out",
)

logger = logging.getLogger("uploadwriter.web")


@attrs.frozen
class FilePart:
    """A file as the client sends it, given to the writer factory before its first byte is read.

    ``client_name`` is the client's file name made safe to keep as text (see
    :func:`~uploadwriter.web.safe_client_name`): still never a path.
    ``field`` is the form field of a ``multipart/form-data`` part (``None``
    for a raw body); ``declared_size`` the size the client announced
    (``Content-Length`` of a raw body or of a part, ``None`` if it did not);
    ``headers`` the part's own headers; ``index`` its place among the files
    of the request (0 for the first). Nothing here is verified: a client
    says what it wants.
    """

    client_name: str
    content_type: str = ""
    field: str | None = None
    declared_size: int | None = None
    headers: tuple[tuple[str, str], ...] = ()
    index: int = 0


#: ``writer(part) -> (writer, opts)``: the writer of each file, sync or async.
#: A sync writer runs in worker threads (:class:`~uploadwriter.ThreadedWriter`);
#: wrap one that never blocks in :class:`~uploadwriter.InlineWriter` to call it
#: on the event loop instead.
# typing.Callable, as the uploads layer's public aliases: on Python 3.10 a
# subscripted collections.abc.Callable passes inspect.isclass().
PartWriterFactory: TypeAlias = typing.Callable[
    [FilePart], tuple[UploadWriter[Any, Any] | AsyncUploadWriter[Any, Any], Any]
]


@attrs.frozen
class ReceivedFile:
    """A file received whole: its writer closed with ``Done()`` and answered ``Ok``.

    ``meta`` is the writer's meta (a :class:`~uploadwriter.writers.TmpFileWriter`'s
    ``{"path": ...}``). What the writer made is now the application's: move it,
    or give it up with :meth:`discard`.
    """

    client_name: str
    content_type: str
    field: str | None
    size: int
    meta: Mapping[str, object]
    _writer: object = attrs.field(default=None, kw_only=True, repr=False, eq=False)
    _state: object = attrs.field(default=None, kw_only=True, repr=False, eq=False)

    def discard(self) -> None:
        """Release what the writer made for this file (its ``discard`` hook: a temp file goes).

        Does nothing for a writer without that hook: what it made stays.
        """
        discard(self._writer, self._state)


@attrs.frozen
class ReceivedForm:
    """A whole ``multipart/form-data`` body: its files, and its text fields as ``(name, value)``."""

    files: tuple[ReceivedFile, ...]
    fields: tuple[tuple[str, str], ...] = ()

    def field(self, name: str) -> str | None:
        """Return the first value of the text field ``name``, or ``None`` if there is none."""
        return next((value for key, value in self.fields if key == name), None)


def check_part(part: FilePart, limits: HttpLimits) -> None:
    """Refuse a file before any byte of it is read: a type not accepted, a declared size too large.

    Raises:
        UploadRejected: ``not_accepted`` or ``too_large``.
    """
    if not limits.accepts(part.client_name, part.content_type):
        accepted = limits.accept if limits.accept == "any" else ", ".join(limits.accept)
        raise UploadRejected(
            "not_accepted",
            f"file {part.client_name!r} of type {part.content_type or 'unknown'!r} is not "
            f"accepted here; accepted: {accepted}",
        )
    if part.declared_size is not None and part.declared_size > limits.max_file_size:
        raise UploadRejected(
            "too_large",
            f"file {part.client_name!r} declares {part.declared_size} bytes, more than the "
            f"limit of {limits.max_file_size} bytes",
        )


def start_upload(
    factory: PartWriterFactory, part: FilePart, limits: HttpLimits
) -> tuple[object, AsyncUploader[Any, Any]]:
    """Call the writer factory; return its writer and the driver that runs it (not entered).

    The driver's limit is ``max_file_size``, or the declared size when it is
    smaller; the chunk timeout is the receiver's (see :class:`.Body`), not the
    driver's.

    Raises:
        TypeError: the factory did not return ``(writer, opts)``, or the writer
            is not an upload writer.
    """
    writer, opts = writer_and_opts(factory(part), "the writer factory")
    driver: AsyncUploader[Any, Any] = AsyncUploader(
        as_async_writer(writer),
        opts,
        expected_size=part.declared_size,
        max_size=limits.max_file_size,
        chunk_timeout=None,
    )
    return writer, driver


def discard_completed(writer: object, driver: AsyncUploader[Any, Any]) -> None:
    """Discard what the writer made if its upload completed (its request failed later)."""
    if completed(driver.upload):
        discard(writer, driver.state)


def received(part: FilePart, writer: object, driver: AsyncUploader[Any, Any]) -> ReceivedFile:
    """The completed upload of ``part`` as a :class:`ReceivedFile`."""
    return ReceivedFile(
        part.client_name,
        part.content_type,
        part.field,
        driver.size,
        driver.meta(),
        writer=writer,
        state=driver.state,
    )


def timed_out(limits: HttpLimits) -> UploadRejected:
    """The rejection of a request whose client sent nothing for ``chunk_timeout`` seconds."""
    return UploadRejected(
        "chunk_timeout",
        f"no data arrived for {limits.chunk_timeout:g} seconds; the upload was cancelled",
    )


def rejection(error: BaseException, part: FilePart) -> UploadRejected | None:
    """Translate a driver's error about ``part`` into the client's answer; ``None`` if none fits."""
    name = part.client_name
    if isinstance(error, FileTooLarge):
        if error.limit == part.declared_size:
            return UploadRejected(
                "too_large", f"file {name!r} sent more than the {error.limit} bytes it declared"
            )
        return UploadRejected(
            "too_large", f"file {name!r} is larger than the limit of {error.limit} bytes"
        )
    if isinstance(error, IncompleteUpload):
        return UploadRejected(
            "incomplete",
            f"file {name!r} ended after {error.size} of the {error.expected_size} bytes "
            "it declared",
        )
    if isinstance(error, (WriterFailure, InitError)):
        # The client learns that storing failed, not why (a path, a bucket...):
        # that goes to the server's log.
        logger.error("uploadwriter.web: could not store file %r", name, exc_info=error)
        return UploadRejected(
            "writer_failure", f"file {name!r} could not be stored; the upload was cancelled"
        )
    return None
