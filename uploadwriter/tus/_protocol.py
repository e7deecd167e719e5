"""The tus 1.0.0 protocol, one HTTP request at a time, as a sans-IO state machine.

Theory of operation
-------------------
An :class:`Exchange` is one request's protocol state, and every decision tus
makes is taken here: which status, which headers, whether bytes are written
and where they become durable (pure helpers check what a request says,
``_requests``, and spell the responses, ``_replies``). It does no I/O and
reads no clock (the driver passes ``now``). The driver reads the request line and headers, builds
the exchange, and performs what each call answers, in order:

* :class:`Reply`: send this response; the exchange is over.
* :class:`CreateUpload`: make a new upload in the store (its writer's
  ``init``, suspended at once so the store holds its saved form, and the
  upload's lock taken); answer with :meth:`Exchange.created`.
* :class:`LoadUpload`: read the upload's record (taking its lock if
  ``lock``); answer :meth:`~Exchange.loaded`, or :meth:`~Exchange.busy` if
  another request holds the lock.
* :class:`StartWriting`: resume the upload's writer at ``offset`` (L17).
* :class:`Write`: give these bytes to the writer.
* :class:`Checkpoint`: make the bytes so far durable: suspend the writer,
  save the upload at ``offset``, resume it. A process killed after a
  checkpoint loses at most the bytes since.
* :class:`Commit`: the request's bytes end here and are kept: suspend and
  save at ``offset``, or, if ``complete``, close the writer with ``Done()``.
* :class:`Drop`: the request's bytes are not kept (a checksum mismatch, or
  an interrupted request whose checksum cannot be checked): suspend without
  saving; the saved offset stays where it was, and the next ``resume`` cuts
  what was written after it.
* :class:`Terminate`: resume the upload and close it with ``Cancel()``
  (L18), its data removed, and keep a tombstone; answer
  :meth:`~Exchange.terminated`.

The body of a ``PATCH`` (or of a ``POST`` with creation-with-upload) is fed
with :meth:`~Exchange.receive_data` and ended with
:meth:`~Exchange.end_of_body`, or :meth:`~Exchange.disconnected` when the
client went away: an interrupted request is a suspension, not a cancel.
Without ``Upload-Checksum``, bytes are made durable every
``checkpoint_every`` bytes of the upload (at offsets that are multiples of
it, so that an S3 store checkpoints on its part boundaries).
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping

from . import _replies as replies
from ._headers import BadHeader, read_checksum, read_metadata, read_size
from ._outputs import (
    Checkpoint,
    Commit,
    CreateUpload,
    Drop,
    LoadUpload,
    LocalProtocolError,
    Output,
    StartWriting,
    Terminate,
    Write,
)
from ._replies import CHECKSUM_MISMATCH, EXTENSIONS, TUS_VERSION, Headers
from ._requests import OFFSET_TYPE, body_size, lower, offset_type, refusal
from ._values import TusConfig, UploadInfo

__all__ = ("EXTENSIONS", "TUS_VERSION", "Exchange")


class _Phase(enum.Enum):
    BEGIN = "begin"
    CREATING = "creating"
    LOADING = "loading"
    WRITING = "writing"
    TERMINATING = "terminating"
    OVER = "over"


class Exchange:
    """One tus request's protocol state (sans-IO; see the module docstring).

    ``method`` and ``headers`` are the request's; ``upload_id`` the path
    segment after the endpoint (``None`` for the endpoint itself); ``location``
    the URL path of the endpoint, ending in ``/`` (``Location`` is it plus the
    new id); ``now`` the time, in seconds since the epoch.
    """

    def __init__(
        self,
        config: TusConfig,
        method: str,
        upload_id: str | None,
        headers: Mapping[str, str] | list[tuple[str, str]],
        *,
        location: str = "/files/",
        now: float,
    ) -> None:
        self._config = config
        self._headers = lower(headers)
        override = self._headers.get("x-http-method-override")
        self._method = (override or method).upper()
        self._id = upload_id
        self._location = location
        self._now = now
        self._phase = _Phase.BEGIN
        self._info: UploadInfo | None = None
        self._offset = 0
        self._end = 0  # the offset past which no byte of this request is taken
        self._checksum: tuple[str, bytes] | None = None
        self._hash: hashlib._Hash | None = None
        self._wrote = False
        self._created: Headers = ()

    # --- reading --------------------------------------------------------------------

    @property
    def method(self) -> str:
        """The request's method (after ``X-HTTP-Method-Override``)."""
        return self._method

    @property
    def over(self) -> bool:
        """Whether the exchange has given its :class:`Reply` (or the client went away)."""
        return self._phase is _Phase.OVER

    @property
    def offset(self) -> int:
        """The upload's offset as this request has taken it so far."""
        return self._offset

    @property
    def info(self) -> UploadInfo | None:
        """The upload this request is about, once created or loaded."""
        return self._info

    # --- the request ------------------------------------------------------------------

    def begin(self) -> list[Output]:
        """Read the request's method and headers; return what to do first."""
        self._expect(_Phase.BEGIN, "begin")
        method = self._method
        if method == "OPTIONS":
            return self._reply(204, replies.options_headers(self._config.max_size))
        refused = refusal(method, self._id, self._headers)
        if refused is not None:
            self._phase = _Phase.OVER
            return [refused]
        try:
            if method == "POST":
                return self._create()
            if method == "PATCH":
                return self._patch()
        except BadHeader as exc:
            return self._error(400, "malformed", str(exc))
        return self._load(lock=method == "DELETE")

    def _create(self) -> list[Output]:
        headers = self._headers
        if "upload-defer-length" in headers:
            return self._error(
                400, "malformed", "Upload-Defer-Length is not supported: send Upload-Length"
            )
        if "upload-length" not in headers:
            return self._error(400, "malformed", "POST needs Upload-Length (the upload's size)")
        length = read_size("Upload-Length", headers["upload-length"])
        metadata = read_metadata(headers.get("upload-metadata", ""))
        if length > self._config.max_size:
            return self._error(
                413,
                "too_large",
                f"Upload-Length {length} is above Tus-Max-Size {self._config.max_size}",
            )
        body = body_size(self._method, self._headers)
        if body and not offset_type(self._headers):
            return self._error(
                415,
                "not_accepted",
                f"creation-with-upload needs Content-Type: {OFFSET_TYPE}",
            )
        if body and length and offset_type(self._headers):
            self._take_checksum()
        self._phase = _Phase.CREATING
        return [CreateUpload(length, metadata, self._expiry())]

    def _patch(self) -> list[Output]:
        if not offset_type(self._headers):
            return self._error(415, "not_accepted", f"PATCH needs Content-Type: {OFFSET_TYPE}")
        if "upload-offset" not in self._headers:
            return self._error(400, "malformed", "PATCH needs Upload-Offset")
        self._offset = read_size("Upload-Offset", self._headers["upload-offset"])
        self._take_checksum()
        return self._load(lock=True)

    def _load(self, *, lock: bool) -> list[Output]:
        assert self._id is not None
        self._phase = _Phase.LOADING
        return [LoadUpload(self._id, lock)]

    # --- the driver's answers -------------------------------------------------------------

    def refuse(self, message: str) -> list[Output]:
        """The driver refuses to create this upload (its type, say): answer 415 with ``message``."""
        self._expect(_Phase.CREATING, "refuse")
        return self._error(415, "not_accepted", message)

    def created(self, info: UploadInfo) -> list[Output]:
        """The upload is created (and locked); return what follows (the body, or the reply)."""
        self._expect(_Phase.CREATING, "created")
        self._info = info
        self._offset = info.offset
        extra = (("Location", self._location + info.id),)
        if info.length == 0 or (
            offset_type(self._headers) and body_size(self._method, self._headers) != 0
        ):
            # An empty upload is complete at once: its (empty) body ends it.
            return self._start_body(extra)
        return self._reply(201, extra + replies.expires_header(info.expires))

    def loaded(self, info: UploadInfo | None) -> list[Output]:
        """The upload's record (``None``: there is none); return what follows."""
        self._expect(_Phase.LOADING, "loaded")
        self._info = info
        if info is None:
            return self._error(404, "not_found", f"no upload {self._id!r} here")
        if info.state == "terminated":
            return self._error(410, "gone", f"the upload {info.id!r} was terminated or expired")
        expired = info.state == "open" and info.expires is not None and info.expires <= self._now
        if expired or self._method == "DELETE":
            self._phase = _Phase.TERMINATING
            return [Terminate(info.id, "expired" if expired else "terminated")]
        if self._method == "HEAD":
            return self._reply(200, replies.upload_headers(info))
        return self._patch_loaded(info)

    def _patch_loaded(self, info: UploadInfo) -> list[Output]:
        if self._offset != info.offset:
            return self._error(
                409,
                "conflict",
                f"Upload-Offset is {self._offset} but the upload stands at {info.offset}: "
                "ask HEAD for the offset and send from there",
                extra=(("Upload-Offset", str(info.offset)),),
            )
        body = body_size(self._method, self._headers)
        if body is not None and info.offset + body > info.length:
            return self._error(
                413,
                "too_large",
                f"{body} bytes at offset {info.offset} pass Upload-Length {info.length}",
            )
        if info.state == "completed":
            return self._reply(204, replies.offset_headers(info.offset, None))
        return self._start_body(())

    def busy(self) -> list[Output]:
        """Another request holds the upload's lock: answer 423 (retry later)."""
        self._expect(_Phase.LOADING, "busy")
        return self._error(
            423,
            "locked",
            f"another request is writing upload {self._id!r}; retry once it is done "
            "(ask HEAD for the offset first)",
        )

    def terminated(self) -> list[Output]:
        """The upload was closed with ``Cancel()`` and its data removed; answer."""
        self._expect(_Phase.TERMINATING, "terminated")
        info = self._info
        assert info is not None
        if self._method == "DELETE":
            return self._reply(204, ())
        return self._error(410, "gone", f"the upload {info.id!r} expired")

    # --- the body ---------------------------------------------------------------------------

    def _start_body(self, extra: Headers) -> list[Output]:
        info = self._info
        assert info is not None
        self._phase = _Phase.WRITING
        self._end = info.length
        self._created = extra
        return [StartWriting(info.offset)]

    def receive_data(self, data: bytes) -> list[Output]:
        """Feed the next bytes of the request's body; return the writes and checkpoints."""
        self._expect(_Phase.WRITING, "receive_data")
        room = self._end - self._offset
        if len(data) > room:
            data = data[:room]  # past Upload-Length: not taken (as tusd's limited reader)
        if not data:
            return []
        if self._hash is not None:
            self._hash.update(data)
        out: list[Output] = []
        every = self._config.checkpoint_every
        start, size = 0, len(data)
        while start < size:
            take = size - start
            if every is not None and self._checksum is None:
                take = min(take, every - self._offset % every)
            # The chunk itself unless a checkpoint splits it: no copy on the common path.
            piece = data if take == size else data[start : start + take]
            start += take
            self._offset += take
            self._wrote = True
            out.append(Write(piece))
            if (
                every is not None
                and self._checksum is None
                and self._offset % every == 0
                and self._offset < self._end
            ):
                out.append(Checkpoint(self._offset, self._expiry()))
        return out

    def end_of_body(self) -> list[Output]:
        """The body is complete: keep its bytes (or drop them on a checksum mismatch); answer."""
        self._expect(_Phase.WRITING, "end_of_body")
        return self._finish(interrupted=False)

    def disconnected(self) -> list[Output]:
        """The body stopped short (the client went away, or stalled): keep what arrived.

        An interrupted request is a suspension, not a cancel. Its bytes are
        kept, unless the request has ``Upload-Checksum``, which cannot be
        checked on part of a body. The reply is for a client still there.
        """
        if self._phase is not _Phase.WRITING:
            self._phase = _Phase.OVER
            return []
        return self._finish(interrupted=True)

    def failed(self, message: str) -> list[Output]:
        """Storage failed (the writer, the store): answer 500 instead of any reply not yet sent."""
        return self._error(500, "writer_failure", message)

    def _finish(self, *, interrupted: bool) -> list[Output]:
        info = self._info
        assert info is not None
        if self._checksum is not None and self._wrote:
            algorithm, expected = self._checksum
            assert self._hash is not None
            if interrupted or self._hash.digest() != expected:
                self._offset = info.offset
                why = (
                    "the request was interrupted, so its checksum could not be checked"
                    if interrupted
                    else f"the {algorithm} of the body is not the one in Upload-Checksum"
                )
                return [
                    Drop(why),
                    *self._error(
                        CHECKSUM_MISMATCH,
                        "checksum_mismatch",
                        f"{why}; its bytes were not kept (the offset stays {info.offset})",
                    ),
                ]
        complete = self._offset == info.length
        expires = None if complete else self._expiry()
        out: list[Output] = [Commit(self._offset, complete, expires)]
        status = 201 if self._method == "POST" else 204
        out.extend(
            self._reply(status, self._created + replies.offset_headers(self._offset, expires))
        )
        return out

    # --- helpers ----------------------------------------------------------------------------

    def _expect(self, phase: _Phase, call: str) -> None:
        if self._phase is not phase:
            raise LocalProtocolError(
                f"{call}() is not allowed while the exchange is {self._phase.value} "
                f"(it needs {phase.value})"
            )

    def _take_checksum(self) -> None:
        value = self._headers.get("upload-checksum")
        if value is not None:
            self._checksum = read_checksum(value)
            self._hash = hashlib.new(self._checksum[0])

    def _expiry(self) -> float | None:
        after = self._config.expires_after
        return None if after is None else self._now + after

    def _reply(self, status: int, headers: Headers) -> list[Output]:
        self._phase = _Phase.OVER
        return [replies.reply(status, headers)]

    def _error(self, status: int, code: str, message: str, *, extra: Headers = ()) -> list[Output]:
        self._phase = _Phase.OVER
        head = self._method == "HEAD"
        return [replies.error(status, code, message, extra=extra, head=head)]
