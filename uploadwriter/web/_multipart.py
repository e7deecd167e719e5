"""``receive_multipart``: every file part of a ``multipart/form-data`` body, streamed to its writer.

The body is fed, as it arrives, to ``multipart``'s sans-IO
``PushMultipartParser`` (chosen by measurement over python-multipart's: see
``bench/multipart_parsers.py``), whose events drive one upload per file part:
a part's headers make the writer (through the factory), its bytes are the
chunks, its end is ``Done()``. Text fields are kept in memory, capped.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from typing import Final, Literal, TypeAlias

import anyio
from multipart import MultipartError, MultipartSegment, PushMultipartParser, parse_options_header
from starlette.requests import Request

from .._errors import FileTooLarge, IncompleteUpload
from .._events import Chunk, Done
from ._body import Body
from ._errors import UploadRejected
from ._files import (
    FilePart,
    PartWriterFactory,
    ReceivedFile,
    ReceivedForm,
    check_part,
    discard_completed,
    received,
    rejection,
    start_upload,
    timed_out,
)
from ._limits import HttpLimits
from ._names import safe_client_name

__all__ = ("receive_multipart",)

_LIMITS = HttpLimits()

# Bounds on a part's headers: 8 lines (the parser's default), of up to 256 KiB
# each, far above its default of 4 KiB: a file name is recorded, made safe and
# cut to 255 characters, rather than refused, even when a client sends 100,000
# of them (percent-encoded in filename*, three bytes each).
_MAX_HEADER_SIZE: Final = 256 * 1024
_MAX_HEADER_COUNT: Final = 8


class _Marker(enum.Enum):
    END = enum.auto()  # the end of the body, after the closing boundary
    EXHAUSTED = enum.auto()  # the parser needs more of the body


Event: TypeAlias = MultipartSegment | bytes | Literal[_Marker.END] | None
"""A parser event (a part's headers, some of its bytes, its end), or the end of the body."""


def boundary(content_type: str) -> str:
    """Return the boundary of a ``multipart/form-data`` Content-Type header.

    Raises:
        UploadRejected: ``not_accepted``: another content type;
            ``malformed``: no boundary.
    """
    kind, options = parse_options_header(content_type)
    if kind != "multipart/form-data":
        raise UploadRejected(
            "not_accepted",
            f"this route takes a multipart/form-data body, not {kind or 'one without a type'}",
        )
    found = options.get("boundary", "")
    if not found:
        raise UploadRejected(
            "malformed", "the multipart/form-data Content-Type header has no boundary"
        )
    return found


class _Events:
    """The parser's events, reading more of the body whenever it needs more."""

    __slots__ = ("_body", "_events", "_max_body", "_parser", "parts")

    def __init__(self, body: Body, parser: PushMultipartParser, max_body: int) -> None:
        self._body = body
        self._parser = parser
        self._events: Iterator[MultipartSegment | bytes | None] = iter(())
        self._max_body = max_body
        #: Parts begun so far.
        self.parts = 0

    async def next(self) -> Event:
        """Return the next event; ``_Marker.END`` after the closing boundary and the body's end.

        Raises:
            MultipartError: the body is not valid multipart.
            UploadRejected: ``incomplete``: the body ended before the closing
                boundary; ``too_large``: it is longer than any the limits allow.
        """
        while True:
            event = next(self._events, _Marker.EXHAUSTED)
            if event is not _Marker.EXHAUSTED:
                if type(event) is MultipartSegment:
                    self.parts += 1
                return event
            data = await self._body.read()
            if not data:
                try:
                    self._parser.close()
                except MultipartError:
                    if not self.parts:
                        raise UploadRejected(
                            "malformed",
                            "the body is not multipart/form-data: no part starts with its boundary",
                        ) from None
                    raise UploadRejected(
                        "incomplete", "the multipart body ended before its closing boundary"
                    ) from None
                return _Marker.END
            if self._body.received > self._max_body:
                raise UploadRejected(
                    "too_large",
                    f"the request body is longer than the {self._max_body} bytes its limits "
                    "allow (max_entries files of max_file_size, max_fields fields of "
                    "max_field_size)",
                )
            self._events = self._parser.parse(data)


def _max_body(limits: HttpLimits) -> int:
    # Everything the limits allow, with room for each part's headers and
    # delimiters, and for a preamble and an epilogue, which the parser skips.
    parts = limits.max_entries + limits.max_fields
    overhead = parts * (_MAX_HEADER_SIZE + 1024) + 64 * 1024
    files = limits.max_entries * limits.max_file_size
    return files + limits.max_fields * limits.max_field_size + overhead


async def _field(events: _Events, segment: MultipartSegment, limits: HttpLimits) -> tuple[str, str]:
    name = segment.name or ""
    value = bytearray()
    while type(event := await events.next()) is bytes:
        if len(value) + len(event) > limits.max_field_size:
            raise UploadRejected(
                "too_large",
                f"text field {name!r} is longer than {limits.max_field_size} bytes "
                "(max_field_size)",
            )
        value += event
    charset = segment.charset or "utf-8"
    try:
        return name, value.decode(charset)
    except (UnicodeDecodeError, LookupError):
        raise UploadRejected(
            "malformed", f"text field {name!r} is not valid text in {charset!r}"
        ) from None


def _declared(segment: MultipartSegment) -> int | None:
    value = segment.header("Content-Length")
    # The parser has checked it: a whole number of bytes.
    return None if value is None else int(value)


def _declared_mismatch(segment: MultipartSegment, part: FilePart) -> UploadRejected | None:
    # The parser checks a part's Content-Length itself, before it hands over
    # the bytes past it, or at the part's end: the same failures as the
    # driver's, said the same way.
    declared = part.declared_size
    if declared is None:
        return None
    if segment.bytes_received > declared:
        return rejection(FileTooLarge(declared, declared, segment.bytes_received - declared), part)
    return rejection(IncompleteUpload(declared, segment.bytes_received), part)


async def _file(
    events: _Events,
    segment: MultipartSegment,
    factory: PartWriterFactory,
    limits: HttpLimits,
    index: int,
) -> ReceivedFile | None:
    part = FilePart(
        safe_client_name(segment.filename or ""),
        segment.content_type or "",
        segment.name or "",
        _declared(segment),
        tuple(segment.headerlist),
        index,
    )
    try:
        event = await events.next()
    except MultipartError as exc:
        answer = _declared_mismatch(segment, part)
        if answer is None:
            raise
        raise answer from exc
    if event is None and not segment.filename:
        return None  # a file input left empty: browsers send it without a name or a byte
    if index >= limits.max_entries:
        raise UploadRejected(
            "too_many_files",
            f"the request carries more files than the {limits.max_entries} allowed (max_entries)",
        )
    check_part(part, limits)
    writer, driver = start_upload(factory, part, limits)
    try:
        async with driver:
            while type(event) is bytes:
                await driver.send(Chunk(event))
                event = await events.next()
            await driver.send(Done())
    except BaseException as exc:
        discard_completed(writer, driver)
        answer = rejection(exc, part)
        if answer is None and isinstance(exc, MultipartError):
            answer = _declared_mismatch(segment, part)
        if answer is None:
            raise
        raise answer from exc
    return received(part, writer, driver)


async def _parts(
    events: _Events,
    factory: PartWriterFactory,
    limits: HttpLimits,
    files: list[ReceivedFile],
    fields: list[tuple[str, str]],
) -> None:
    """Read every part of the body: files to ``files``, text fields to ``fields``."""
    others = 0  # text fields, and file inputs left empty
    while (event := await events.next()) is not _Marker.END:
        assert isinstance(event, MultipartSegment)  # the parser starts each part with one
        if event.filename is not None:
            file = await _file(events, event, factory, limits, len(files))
            if file is not None:
                files.append(file)
                continue
        else:
            fields.append(await _field(events, event, limits))
        others += 1
        if others > limits.max_fields:
            raise UploadRejected(
                "too_large",
                f"the request carries more text fields than the {limits.max_fields} allowed "
                "(max_fields)",
            )


async def receive_multipart(
    request: Request, writer: PartWriterFactory, *, limits: HttpLimits = _LIMITS
) -> ReceivedForm:
    """Stream every file of a ``multipart/form-data`` body into a writer from ``writer(part)``.

    Each file part goes to its own writer chunk by chunk as it arrives (never
    spooled, never whole in memory), held to ``limits``: its type is checked
    against ``accept`` and its declared size (a part's ``Content-Length``)
    against ``max_file_size`` before the writer is made, its bytes against
    ``max_file_size`` (or the declared size) as they come. A part without a
    ``filename`` is a text field, kept in memory up to ``max_field_size``. A
    file input left empty (no name, no byte) is skipped.

    All or nothing: if anything fails, the open writer is closed with
    ``Cancel()`` (or ``Error(...)``), the files already received are
    discarded (:meth:`ReceivedFile.discard`), and :class:`UploadRejected` says
    why, with its HTTP status.

    Raises:
        UploadRejected: the code says why: ``not_accepted`` (also a body that
            is not ``multipart/form-data``), ``too_large``, ``too_many_files``,
            ``incomplete`` (also :class:`ClientDisconnected`),
            ``chunk_timeout``, ``writer_failure``, ``malformed``.
        TypeError: the factory did not return ``(writer, opts)`` of a writer.
    """
    try:
        parser = PushMultipartParser(
            boundary(request.headers.get("content-type", "")),
            max_header_size=_MAX_HEADER_SIZE,
            max_header_count=_MAX_HEADER_COUNT,
        )
    except MultipartError as exc:
        raise UploadRejected("malformed", f"the multipart boundary is not valid: {exc}") from exc
    files: list[ReceivedFile] = []
    fields: list[tuple[str, str]] = []
    with anyio.CancelScope() as scope:
        body = Body(request.receive, scope, limits.chunk_timeout)
        events = _Events(body, parser, _max_body(limits))
        try:
            await _parts(events, writer, limits, files, fields)
        except BaseException as exc:
            for file in files:
                file.discard()
            if isinstance(exc, MultipartError):
                raise UploadRejected(
                    "malformed", f"the multipart body is malformed: {exc}"
                ) from exc
            raise
    if scope.cancelled_caught:
        raise timed_out(limits)
    return ReceivedForm(tuple(files), tuple(fields))
