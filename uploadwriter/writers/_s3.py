"""``S3Writer`` and ``AsyncS3Writer``: an upload streamed into an S3 object, part by part.

The S3 requests themselves, and when each is made, are in ``_s3calls.py``.
The sync writer makes them inline; the async one makes them in a worker
thread (boto3 blocks), only when a part is full or the upload closes, so a
chunk that only fills the buffer costs no thread hop. Either way a request
in progress is never abandoned: the async writer shields it from
cancellation, so that a cancelled task cannot lose an upload id it just got
(the upload would then never be aborted); the cancellation lands right after.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping

import anyio
import anyio.to_thread

from .._errors import safe_repr
from .._events import CloseReason, Done
from .._results import Err, Ok
from ._s3calls import (
    S3Opts,
    S3State,
    S3UploadError,
    abort,
    create,
    default_client,
    finish,
    need_boto3,
    send_part,
    start_args,
)
from ._s3resume import delete_tails, resume_state, suspend_state

__all__ = ("AsyncS3Writer", "S3Opts", "S3State", "S3UploadError", "S3Writer")


def _opts_error(opts: object, who: str) -> Err[None] | None:
    if isinstance(opts, S3Opts):
        return None
    return Err(TypeError(f"{who} needs S3Opts(bucket, key, ...), not {safe_repr(opts)}"), None)


def _start(opts: S3Opts, client: object) -> Ok[S3State]:
    args = start_args(opts, client)
    return Ok(S3State(opts.bucket, opts.key, 0, opts.part_size, args, client, io.BytesIO()))


def _grown(state: S3State, n: int) -> S3State:
    # The per-chunk path: the constructor, without attrs.evolve's introspection.
    return S3State(
        state.bucket,
        state.key,
        state.size + n,
        state.part_size,
        state.args,
        state.client,
        state.buffer,
        state.upload_id,
        state.parts,
        state.etag,
        resumed=state.resumed,
    )


def _meta(state: S3State) -> Mapping[str, object]:
    return {"bucket": state.bucket, "key": state.key, "etag": state.etag, "size": state.size}


def _note(error: BaseException, note: str) -> None:
    add_note = getattr(error, "add_note", None)  # Python 3.11+
    if add_note is not None:  # pragma: no branch - false on Python 3.10 only
        add_note(note)


def _abort_failed(error: BaseException, state: S3State) -> None:
    _note(
        error,
        f"the multipart upload {state.upload_id} of s3://{state.bucket}/{state.key} could not "
        "be aborted: it stays (unbilled parts are still billed) until a bucket lifecycle rule "
        "(AbortIncompleteMultipartUpload) removes it",
    )


def _failed_done(
    state: S3State, error: BaseException, aborted: Callable[[], object]
) -> Err[S3State]:
    """The answer to a ``Done()`` that failed, after trying to abort the upload."""
    try:
        aborted()
    except Exception as second:  # noqa: BLE001 - the first failure is the answer
        _note(error, f"aborting after that failure also failed: {second}")
        _abort_failed(error, state)
    return Err(error, state)


class S3Writer:
    """Stream an upload into an S3 object with boto3: multipart, or one ``PutObject`` if small.

    Meta is ``{"bucket", "key", "etag", "size"}``. Holds one part
    (``S3Opts.part_size``) in memory per open upload. ``Cancel()`` and
    ``Error(...)`` abort the multipart upload; the object, once made, is the
    product: there is no ``discard`` (delete it yourself if you must).
    An S3 call that fails answers ``Err`` with :class:`S3UploadError`.

    Resumable (L16-L18): ``suspend`` puts the bytes past the last full part
    in an object of their own (``<key>.tail/<size>``) and answers plain data
    naming the multipart upload; ``resume`` lists the parts S3 holds
    (``ListParts``) and reads the tail back, so any server with access to the
    bucket resumes it. ``client`` is the boto3 client ``resume`` uses
    (default: the shared ``boto3.client("s3")``).

    Raises:
        ImportError: boto3 is not installed.
    """

    def __init__(self, client: object | None = None) -> None:
        need_boto3("S3Writer")
        self.client = client

    def init(self, opts: S3Opts) -> Ok[S3State] | Err[None]:
        """Get the client ready; nothing is sent to S3 until a part is full or the upload done."""
        refused = _opts_error(opts, "S3Writer")
        if refused is not None:
            return refused
        try:
            client = opts.client if opts.client is not None else default_client()
        except Exception as exc:  # noqa: BLE001 - e.g. botocore's NoRegionError: init's Err
            return Err(exc, None)
        return _start(opts, client)

    def meta(self, state: S3State) -> Mapping[str, object]:
        """``{"bucket", "key", "etag", "size"}`` of the object made."""
        return _meta(state)

    def write_chunk(self, data: bytes, state: S3State) -> Ok[S3State] | Err[S3State]:
        """Buffer ``data``; send each part it fills (``Err(S3UploadError)`` if S3 refuses)."""
        room = state.part_size - state.buffered
        if len(data) < room:
            state.buffer.write(data)
            return Ok(_grown(state, len(data)))
        view = memoryview(data)
        current = state
        try:
            while len(view) >= room:
                current.buffer.write(view[:room])
                current = _grown(current, room)
                view = view[room:]
                if current.upload_id is None:
                    current = create(current)
                current = send_part(current)
                room = current.part_size
            current.buffer.write(view)
            return Ok(_grown(current, len(view)))
        except BaseException as exc:  # noqa: BLE001 - an Err keeps the newest state (L11)
            # Also a KeyboardInterrupt: as an Err, the driver aborts the
            # upload from the state that knows its upload id, then raises it.
            return Err(exc, current)

    def close(self, state: S3State, reason: CloseReason) -> Ok[S3State] | Err[S3State]:
        """``Done()``: make the object; otherwise abort (``Err`` if S3 cannot be told)."""
        try:
            return self._close(state, reason)
        finally:
            if state.resumed:
                delete_tails(state)

    def _close(self, state: S3State, reason: CloseReason) -> Ok[S3State] | Err[S3State]:
        if isinstance(reason, Done):
            try:
                return Ok(finish(state))
            except BaseException as exc:  # noqa: BLE001 - abort first; a KeyboardInterrupt goes on
                return _failed_done(state, exc, lambda: abort(state))
        try:
            return Ok(abort(state))
        except S3UploadError as exc:
            _abort_failed(exc, state)
            return Err(exc, state)

    def suspend(self, state: S3State) -> Ok[dict[str, object]] | Err[S3State]:
        """Put the tail in S3 and answer the saved form (``Err(S3UploadError)`` if S3 refuses)."""
        try:
            return Ok(suspend_state(state))
        except S3UploadError as exc:
            return Err(exc, state)

    def resume(self, saved: object) -> Ok[S3State] | Err[None]:
        """List the parts and read the tail back (``Err`` if S3 no longer holds them)."""
        try:
            client = self.client if self.client is not None else default_client()
            return Ok(resume_state(client, saved))
        except Exception as exc:  # noqa: BLE001 - S3UploadError, ValueError, a client error
            return Err(exc, None)


class AsyncS3Writer:
    """:class:`S3Writer` for :class:`~uploadwriter.AsyncUploader`, on asyncio and trio alike.

    boto3 blocks, so each S3 request runs in a worker thread, and only when a
    part is full or the upload closes: filling the buffer costs no thread.
    A request in progress is shielded from cancellation and finishes (its
    answer counts, so the upload can still be aborted); with botocore's
    default timeouts and retries that can take a while.

    Resumable, as :class:`S3Writer` (its ``suspend`` and ``resume`` in a worker thread).

    Raises:
        ImportError: boto3 is not installed.
    """

    def __init__(self, client: object | None = None) -> None:
        need_boto3("AsyncS3Writer")
        self.client = client

    async def init(self, opts: S3Opts) -> Ok[S3State] | Err[None]:
        """Get the client ready (making the default one in a worker thread)."""
        refused = _opts_error(opts, "AsyncS3Writer")
        if refused is not None:
            return refused
        try:
            client = opts.client
            if client is None:
                client = await anyio.to_thread.run_sync(default_client)
        except Exception as exc:  # noqa: BLE001 - e.g. botocore's NoRegionError: init's Err
            return Err(exc, None)
        return _start(opts, client)

    def meta(self, state: S3State) -> Mapping[str, object]:
        """``{"bucket", "key", "etag", "size"}`` of the object made."""
        return _meta(state)

    async def write_chunk(self, data: bytes, state: S3State) -> Ok[S3State] | Err[S3State]:
        """Buffer ``data``; send each part it fills, in a worker thread."""
        room = state.part_size - state.buffered
        if len(data) < room:
            state.buffer.write(data)
            return Ok(_grown(state, len(data)))
        view = memoryview(data)
        current = state
        with anyio.CancelScope(shield=True):
            try:
                while len(view) >= room:
                    current.buffer.write(view[:room])
                    current = _grown(current, room)
                    view = view[room:]
                    if current.upload_id is None:
                        current = await anyio.to_thread.run_sync(create, current)
                    current = await anyio.to_thread.run_sync(send_part, current)
                    room = current.part_size
            except Exception as exc:  # noqa: BLE001 - an Err keeps the newest state (L11)
                return Err(exc, current)
        current.buffer.write(view)
        return Ok(_grown(current, len(view)))

    async def close(self, state: S3State, reason: CloseReason) -> Ok[S3State] | Err[S3State]:
        """``Done()``: make the object; otherwise abort. In a worker thread, shielded."""
        with anyio.CancelScope(shield=True):
            answer = await self._close(state, reason)
            if state.resumed:
                await anyio.to_thread.run_sync(delete_tails, state)
        # Returned out here: a cancel scope may swallow exceptions, so mypy
        # would take a return inside it for a possible fall-through.
        return answer

    async def _close(self, state: S3State, reason: CloseReason) -> Ok[S3State] | Err[S3State]:
        if isinstance(reason, Done):
            try:
                return Ok(await anyio.to_thread.run_sync(finish, state))
            except Exception as exc:  # noqa: BLE001 - abort first, then answer Err
                failed = exc
            try:
                await anyio.to_thread.run_sync(abort, state)
            except Exception as second:  # noqa: BLE001 - the first failure is the answer
                _note(failed, f"aborting after that failure also failed: {second}")
                _abort_failed(failed, state)
            return Err(failed, state)
        try:
            return Ok(await anyio.to_thread.run_sync(abort, state))
        except S3UploadError as exc:
            _abort_failed(exc, state)
            return Err(exc, state)

    async def suspend(self, state: S3State) -> Ok[dict[str, object]] | Err[S3State]:
        """:meth:`S3Writer.suspend` in a worker thread, shielded."""
        with anyio.CancelScope(shield=True):
            try:
                return Ok(await anyio.to_thread.run_sync(suspend_state, state))
            except S3UploadError as exc:
                return Err(exc, state)
        raise AssertionError("unreachable")  # pragma: no cover - the scope is shielded

    async def resume(self, saved: object) -> Ok[S3State] | Err[None]:
        """:meth:`S3Writer.resume` in a worker thread."""

        def resume() -> S3State:
            client = self.client if self.client is not None else default_client()
            return resume_state(client, saved)

        try:
            return Ok(await anyio.to_thread.run_sync(resume))
        except Exception as exc:  # noqa: BLE001 - S3UploadError, ValueError, a client error
            return Err(exc, None)
