"""``TusEndpoint``: the ASGI app of the tus protocol, a thin driver over :class:`Exchange`.

It reads a request's line and headers, builds an :class:`Exchange`, and
performs what the exchange asks: the store's reads and writes, its locks,
and the writer calls, through :class:`~uploadwriter.AsyncUploader` with
``resumable=True`` (L16-L18), so that every rule of the upload's lifecycle
is the reducer's. The decisions are all the exchange's.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

import anyio
import attrs

from .._async import AsyncUploader
from .._errors import ResumeError, UploadError
from .._events import Cancel, Chunk, Done, Suspend
from .._saved import SavedUpload
from .._values import Phase
from ._headers import Metadata
from ._locks import Lock, Locked
from ._outputs import (
    Checkpoint,
    Commit,
    CreateUpload,
    Drop,
    LoadUpload,
    Output,
    Reply,
    StartWriting,
    Terminate,
    Write,
)
from ._protocol import Exchange
from ._stores import Stored, UploadStore, new_id, valid_id
from ._values import TusConfig, UploadInfo

__all__ = ("Accept", "OnComplete", "TusEndpoint")

log = logging.getLogger("uploadwriter.tus")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

#: Called with a completed upload and its writer's meta; what it returns is kept
#: in the upload's record (a mapping of JSON values), e.g. where the file went.
OnComplete = Callable[[UploadInfo, Mapping[str, object]], Awaitable[Mapping[str, object] | None]]
#: Called with a new upload's metadata: ``None`` accepts it, a message refuses it (415).
Accept = Callable[[Metadata], str | None]


class _Failed(Exception):
    """The store or the writer failed; the message goes to the client as a 500."""


class TusEndpoint:
    """An ASGI app serving tus 1.0.0 uploads from ``store`` (mount it at ``/files``).

    ``max_size`` is ``Tus-Max-Size``; ``expires_after`` the seconds an
    unfinished upload lives after its last change (``None``: forever);
    ``chunk_timeout`` the seconds a request's body may stall before the upload
    is suspended. ``on_complete(info, meta)`` is awaited once per completed
    upload (meta is the store writer's), and what it returns is kept in the
    upload's record. ``accept(metadata)`` may refuse a new upload (415) by
    returning why. Expired uploads are closed with ``Cancel()`` and their
    data removed when a request meets them, and by a sweep run after a
    ``POST`` at most every ``sweep_every`` seconds.
    """

    def __init__(
        self,
        store: UploadStore,
        *,
        max_size: int = 2**40,
        expires_after: float | None = 24 * 3600.0,
        chunk_timeout: float = 30.0,
        on_complete: OnComplete | None = None,
        accept: Accept | None = None,
        sweep_every: float = 60.0,
    ) -> None:
        self.store = store
        self.config: TusConfig = TusConfig(max_size, expires_after, store.checkpoint_every)
        self.chunk_timeout = chunk_timeout
        self.on_complete = on_complete
        self.accept = accept
        self.sweep_every = sweep_every
        self._last_sweep = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one HTTP request (other scopes are ignored)."""
        if scope["type"] != "http":
            return
        root = str(scope.get("root_path", ""))
        rest = str(scope["path"]).removeprefix(root).strip("/")
        upload_id = rest or None
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        exchange = Exchange(
            self.config,
            str(scope["method"]),
            upload_id,
            headers,
            location=root.rstrip("/") + "/",
            now=time.time(),
        )
        if upload_id is not None and not valid_id(upload_id):
            outputs = exchange.begin()
            if not exchange.over:
                outputs = exchange.loaded(None)  # a name no store makes: 404
        else:
            outputs = exchange.begin()
        request = _Request(self, exchange, receive, send)
        try:
            await request.perform(outputs)
        finally:
            request.release()
        if exchange.method == "POST":
            await self._maybe_sweep()

    async def _maybe_sweep(self) -> None:
        now = time.time()
        if now - self._last_sweep < self.sweep_every:
            return
        self._last_sweep = now
        try:
            await self.sweep(now)
        except Exception:
            log.exception("uploadwriter tus: the sweep of expired uploads failed")

    async def sweep(self, now: float | None = None) -> list[str]:
        """Terminate every expired upload that no request holds; return their ids.

        Tombstones (terminated uploads) past their own expiry are removed.
        """
        now = time.time() if now is None else now
        ended: list[str] = []
        store = self.store
        for upload_id in await store.ids():
            stored = await store.read(upload_id)
            info = None if stored is None else stored.info
            if info is None or info.state == "completed":
                continue
            if info.expires is None or info.expires > now:
                continue
            try:
                lock = await store.locker.acquire(upload_id)
            except Locked:
                continue  # a request holds it: it meets the expiry itself
            try:
                stored = await store.read(upload_id)  # again, under the lock
                if stored is None:  # pragma: no cover - removed meanwhile
                    continue
                if stored.info.state == "terminated":
                    await store.remove(upload_id)
                else:
                    await terminate(store, stored, self.chunk_timeout, now + self.sweep_every)
                    ended.append(upload_id)
            finally:
                lock.release()
        return ended


async def terminate(
    store: UploadStore, stored: Stored, chunk_timeout: float, tombstone_until: float | None
) -> None:
    """Resume the upload and close it with ``Cancel()`` (L18); keep a tombstone."""
    if stored.saved is not None:
        uploader = AsyncUploader.resume(store.writer, stored.saved, chunk_timeout=chunk_timeout)
        try:
            async with uploader as up:
                await up.send(Cancel())
        except ResumeError:
            log.warning("uploadwriter tus: %s could not be resumed to be removed", stored.info.id)
    info = attrs.evolve(stored.info, state="terminated", expires=tombstone_until)
    await store.write(Stored(info, None))


class _Request:
    """One request being served: the exchange, and what the driver holds for it."""

    def __init__(self, endpoint: TusEndpoint, exchange: Exchange, receive: Receive, send: Send):
        self.endpoint = endpoint
        self.store = endpoint.store
        self.exchange = exchange
        self.receive = receive
        self.send = send
        self.lock: Lock | None = None
        self.stored: Stored | None = None
        self._pending: deque[Output] = deque()
        self._body_done = False

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    async def perform(self, outputs: list[Output]) -> None:
        queue: deque[Output] = deque(outputs)
        while queue:
            output = queue.popleft()
            try:
                more = await self._one(output)
            except _Failed as exc:
                more = self.exchange.failed(str(exc))
            queue.extend(more)

    async def _one(self, output: Output) -> list[Output]:
        exchange = self.exchange
        if isinstance(output, Reply):
            await self._reply(output)
            return []
        if isinstance(output, CreateUpload):
            return await self._create(output)
        if isinstance(output, LoadUpload):
            if output.lock:
                try:
                    self.lock = await self.store.locker.acquire(output.upload_id)
                except Locked:
                    return exchange.busy()
            self.stored = await self.store.read(output.upload_id)
            return exchange.loaded(None if self.stored is None else self.stored.info)
        if isinstance(output, Terminate):
            assert self.stored is not None
            await terminate(self.store, self.stored, self.endpoint.chunk_timeout, self._expiry())
            return exchange.terminated()
        if isinstance(output, StartWriting):
            return await self._write_body()
        raise AssertionError(f"{output!r} outside a body")  # pragma: no cover

    async def _create(self, output: CreateUpload) -> list[Output]:
        accept = self.endpoint.accept
        refused = None if accept is None else accept(output.metadata)
        if refused is not None:
            return self.exchange.refuse(refused)
        return self.exchange.created(await self._make(output))

    async def _make(self, output: CreateUpload) -> UploadInfo:
        store = self.store
        upload_id = new_id()
        self.lock = await store.locker.acquire(upload_id)
        info = UploadInfo(upload_id, output.length, 0, output.metadata, output.expires)
        try:
            uploader = AsyncUploader(
                store.writer,
                store.writer_opts(upload_id),
                max_size=output.length,
                chunk_timeout=self.endpoint.chunk_timeout,
                resumable=True,
            )
            async with uploader:
                pass  # init, then suspended on leaving: the store holds its saved form
            self.stored = Stored(info, uploader.saved())
            await store.write(self.stored)
        except UploadError as exc:
            log.warning("uploadwriter tus: creating an upload failed: %s", exc)
            raise _Failed(f"the upload could not be created: {exc}") from exc
        return info

    # --- the body: writes, checkpoints, and how it ends ------------------------------------

    async def _write_body(self) -> list[Output]:
        """Write the body through the resumed writer, checkpoint by checkpoint, to its end."""
        stored = self.stored
        assert stored is not None
        assert stored.saved is not None
        saved: SavedUpload = stored.saved
        while True:
            uploader = AsyncUploader.resume(
                self.store.writer, saved, chunk_timeout=self.endpoint.chunk_timeout
            )
            try:
                async with uploader as up:
                    stop = await self._write_until_stop(up)
            except ResumeError as exc:
                raise _Failed(f"the upload could not be resumed: {exc}") from exc
            except UploadError as exc:
                return await self._interrupted(uploader, exc)
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await self._interrupted(uploader, None)
                raise
            if isinstance(stop, Checkpoint):
                await self._save(uploader, stop.expires)
                saved = uploader.saved()
                continue
            if isinstance(stop, Commit):
                if stop.complete:
                    await self._complete(uploader)
                else:
                    await self._save(uploader, stop.expires)
            return list(self._pending)

    async def _next_output(self) -> Output | None:
        """The next thing to do with the body, reading it from the client as needed."""
        exchange = self.exchange
        while not self._pending:
            if self._body_done:  # pragma: no cover - a body ends with a commit or a drop
                return None
            message = await self.receive()
            if message["type"] == "http.request":
                self._pending.extend(exchange.receive_data(message.get("body", b"")))
                if not message.get("more_body", False):
                    self._body_done = True
                    self._pending.extend(exchange.end_of_body())
            else:  # http.disconnect: the client went away
                self._body_done = True
                self._pending.extend(exchange.disconnected())
        return self._pending.popleft()

    async def _write_until_stop(
        self, up: AsyncUploader[Any, Any]
    ) -> Checkpoint | Commit | Drop | None:
        """Write until a checkpoint or the end: suspend there (or close, if complete)."""
        while (output := await self._next_output()) is not None:
            if isinstance(output, Write):
                await up.send(Chunk(output.data))
            elif isinstance(output, (Checkpoint, Commit, Drop)):
                complete = isinstance(output, Commit) and output.complete
                await up.send(Done() if complete else Suspend())
                return output
            else:  # pragma: no cover - a reply comes after the commit or drop
                self._pending.appendleft(output)
                return None
        return None  # pragma: no cover - a body always ends with a commit or a drop

    async def _save(self, uploader: AsyncUploader[Any, Any], expires: float | None) -> None:
        stored = self.stored
        assert stored is not None
        saved = uploader.saved()
        info = attrs.evolve(stored.info, offset=saved.size, expires=expires)
        self.stored = Stored(info, saved)
        await self.store.write(self.stored)

    async def _complete(self, uploader: AsyncUploader[Any, Any]) -> None:
        stored = self.stored
        assert stored is not None
        info = attrs.evolve(stored.info, offset=uploader.size, state="completed", expires=None)
        result: Mapping[str, object] | None = None
        on_complete = self.endpoint.on_complete
        if on_complete is not None:
            try:
                result = await on_complete(info, uploader.meta())
            except Exception as exc:
                log.exception("uploadwriter tus: keeping the completed upload %s failed", info.id)
                raise _Failed(f"the completed upload could not be kept: {exc}") from exc
        self.stored = Stored(info, None, result)
        await self.store.write(self.stored)

    async def _interrupted(
        self, uploader: AsyncUploader[Any, Any], error: UploadError | None
    ) -> list[Output]:
        """The body stopped on an error or a cancellation: keep what the writer saved."""
        exchange = self.exchange
        stored = self.stored
        assert stored is not None
        if uploader.phase is Phase.SUSPENDED:
            # Suspended on the way out (L16): a stall, a cancellation. What the
            # exchange says of an interrupted body decides whether it is kept.
            outputs = exchange.disconnected()
            if not any(isinstance(o, Drop) for o in outputs):
                await self._save(uploader, self._expiry())
            return [o for o in outputs if isinstance(o, Reply)]
        # The writer was closed (it failed): the upload cannot go on.
        log.warning("uploadwriter tus: upload %s failed: %s", stored.info.id, error)
        self.stored = Stored(attrs.evolve(stored.info, state="terminated"), None)
        await self.store.write(self.stored)
        return exchange.failed(f"the upload failed and was removed: {error}")

    def _expiry(self) -> float | None:
        after = self.endpoint.config.expires_after
        return None if after is None else time.time() + after

    async def _reply(self, reply: Reply) -> None:
        headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers]
        if reply.status != 204:
            headers.append((b"content-length", str(len(reply.body)).encode()))
        await self.send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await self.send({"type": "http.response.body", "body": reply.body})
