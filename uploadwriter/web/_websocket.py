"""``UploadChannel``: the ASGI endpoint of the upload channel, a thin driver over ``Channel``.

Each connection gets a :class:`~uploadwriter.web._channel.Channel` (the
protocol) and its own :class:`~uploadwriter.uploads.Uploads` (the entries).
The driver only carries things between them: frames from the client go into
the channel; what the channel answers is performed here (frames sent,
files selected, entries started, chunks handed to their upload, entries
cancelled), and what the uploads do (a chunk written, an entry completed,
failed or cancelled) is reported back to the channel.

Every started entry runs in its own task, inside
:meth:`Uploads.upload_async <uploadwriter.uploads.Uploads.upload_async>`, so
its chunk timeout starts with it and its writer is closed exactly once
whatever happens. Its chunks reach it through a buffer of ``window`` chunks,
which the channel's flow control never lets overflow.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import math
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from typing import Any, TypeAlias

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .._errors import UploadError, safe_repr
from .._events import Chunk, Done
from ..uploads import ClientFile, EntryError, Postpone, UnknownEntry, UploadConfig, UploadEntry
from ..uploads import Uploads as _Uploads
from ._channel import DEFAULT_WINDOW, Channel
from ._messages import entry_message
from ._outputs import (
    CancelEntry,
    CloseConnection,
    Output,
    SelectFiles,
    Send,
    StartEntry,
    WriteChunk,
)
from ._wire import CloseCode, positive_int

__all__ = ("ConsumeFn", "UploadChannel")

Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
SendFn: TypeAlias = Callable[[Message], Awaitable[None]]

#: ``consume(meta, entry)``: called once per completed entry; its JSON-able
#: return value (or the value its awaitable gives) goes to the client.
ConsumeFn: TypeAlias = Callable[[Mapping[str, object], UploadEntry], object]

log = logging.getLogger("uploadwriter.web")

# Close code sent (before accepting) to a refused Origin: servers answer 403.
_POLICY_VIOLATION = 1008
# Seconds to wait for the client's close frame once the server has sent its own.
_CLOSING_WAIT = 2.0


def default_consume(meta: Mapping[str, object], entry: UploadEntry) -> object:
    """The default ``consume``: tell the client the entry's name and size (the file is dropped)."""
    return {"name": entry.client_name, "size": entry.client_size}


def _origin(value: str) -> str | None:
    """Normalise an origin (``"https://Example.com:443/"`` -> ``"https://example.com"``).

    ``None`` if it is not one (a bad port, no host).
    """
    parts = urllib.parse.urlsplit(value.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    if port is not None and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    return f"{scheme}://{host}"


def _check_origins(value: object) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise TypeError(
            "allowed_origins must be a list of origins such as ['https://example.com'] "
            f"(or ['*'] for any, or None for the page's own origin), not {safe_repr(value)}"
        )
    origins: set[str] = set()
    for item in value:
        if item == "*":
            origins.add("*")
            continue
        if not isinstance(item, str):
            raise TypeError(f"allowed_origins holds strings, not {safe_repr(item)}")
        parts = urllib.parse.urlsplit(item)
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.path not in ("", "/")
        ):
            raise ValueError(
                f"allowed_origins: {item!r} is not an origin; write scheme://host[:port], "
                "such as 'https://example.com' or 'http://127.0.0.1:8000', or '*' for any"
            )
        normal = _origin(item)
        assert normal is not None  # checked just above
        origins.add(normal)
    return frozenset(origins)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


class UploadChannel:
    """An ASGI app for the WebSocket upload channel (mount it in Starlette or FastAPI).

    ``config`` is an :class:`~uploadwriter.uploads.UploadConfig`, or a function
    returning one for each connection. Each connection gets its own
    :class:`~uploadwriter.uploads.Uploads`. Each completed entry is consumed
    with ``consume(meta, entry)`` (default: its name and size; the writer's
    result is then dropped): its return value, or what it awaits to, must be
    JSON and is sent to the client in the entry's ``done`` message. ``consume``
    runs on the event loop: keep a synchronous one quick.

    ``allowed_origins``: the browser origins that may connect (``"*"`` for
    any); ``None`` allows the page's own origin (the ``Origin`` header's host
    is the ``Host`` header). Clients that send no ``Origin`` (not browsers)
    are allowed. A refused origin gets HTTP 403.

    ``window`` is the flow-control window: chunks a client may have
    unacknowledged (see "Flow control" in the protocol reference).

    Raises:
        TypeError: an option has the wrong type.
        ValueError: an origin is not ``scheme://host[:port]``, or ``window`` is less than 1.
    """

    def __init__(
        self,
        config: UploadConfig | Callable[[], UploadConfig],
        *,
        consume: ConsumeFn | None = None,
        allowed_origins: Sequence[str] | None = None,
        window: int = DEFAULT_WINDOW,
    ) -> None:
        if not isinstance(config, UploadConfig) and not callable(config):
            raise TypeError(
                "config must be an UploadConfig or a function returning one, "
                f"not {safe_repr(config)}"
            )
        if consume is not None and not callable(consume):
            raise TypeError(f"consume must be a callable or None, not {safe_repr(consume)}")
        self._config = config
        self._consume: ConsumeFn = consume if consume is not None else default_consume
        self._origins = _check_origins(allowed_origins)
        self._window = positive_int("window", window)

    def config(self) -> UploadConfig:
        """Return the configuration for a new connection.

        Raises:
            TypeError: the config function did not return an ``UploadConfig``.
        """
        config = self._config
        if isinstance(config, UploadConfig):
            return config
        made = config()
        if not isinstance(made, UploadConfig):
            raise TypeError(f"the config function returned {safe_repr(made)}, not an UploadConfig")
        return made

    def origin_allowed(self, scope: Scope) -> bool:
        """Return whether the connection's ``Origin`` header is allowed."""
        origin = _header(scope, b"origin")
        if origin is None:
            return True  # not a browser: Origin guards browsers against other sites' pages
        allowed = self._origins
        if allowed is not None and "*" in allowed:
            return True
        normal = _origin(origin)
        if normal is None:
            return False  # a malformed Origin is nobody's
        if allowed is None:
            host = _header(scope, b"host")
            scheme = urllib.parse.urlsplit(origin).scheme
            return host is not None and normal == _origin(f"{scheme}://{host}")
        return normal in allowed

    async def __call__(self, scope: Scope, receive: Receive, send: SendFn) -> None:
        """Serve one ASGI connection: a WebSocket; plain HTTP gets 426 Upgrade Required."""
        kind = scope["type"]
        if kind == "websocket":
            await _Connection(self, scope, receive, send).serve()
        elif kind == "http":
            body = b"This is the uploadwriter upload channel: connect with a WebSocket.\n"
            await send(
                {
                    "type": "http.response.start",
                    "status": 426,
                    "headers": [
                        (b"content-type", b"text/plain; charset=utf-8"),
                        (b"upgrade", b"websocket"),
                        (b"connection", b"Upgrade"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
        elif kind == "lifespan":  # served on its own, not mounted
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return


class _Connection:
    """One WebSocket connection: its channel, its uploads, its entry tasks."""

    def __init__(self, app: UploadChannel, scope: Scope, receive: Receive, send: SendFn) -> None:
        self._app = app
        self._scope = scope
        self._receive = receive
        self._send = send
        self._send_lock = anyio.Lock()
        self._gone = False  # the client is gone, or we closed: send nothing more
        self._disconnected = False  # the server told us the connection has ended
        # Each started entry's chunk buffer (the sending side; its task reads the other).
        self._buffers: dict[str, MemoryObjectSendStream[bytes]] = {}
        self._channel: Channel | None = None
        self._uploads: _Uploads | None = None
        self._tasks: TaskGroup | None = None
        self._waiting: anyio.CancelScope | None = None  # the read that the idle deadline ends
        self._timeout = math.inf

    @property
    def channel(self) -> Channel:
        assert self._channel is not None
        return self._channel

    @property
    def uploads(self) -> _Uploads:
        assert self._uploads is not None
        return self._uploads

    async def serve(self) -> None:
        await self._receive()  # websocket.connect: the first message of the scope
        if not self._app.origin_allowed(self._scope):
            log.warning("refused a WebSocket from origin %r", _header(self._scope, b"origin"))
            await self._send({"type": "websocket.close", "code": _POLICY_VIOLATION})
            return
        config = self._app.config()
        self._uploads = _Uploads(config)
        self._channel = Channel(config, window=self._app._window)
        # No chunk timeout (None): no idle deadline either.
        self._timeout = math.inf if config.chunk_timeout is None else config.chunk_timeout
        await self._send({"type": "websocket.accept"})
        try:
            async with anyio.create_task_group() as tasks:
                self._tasks = tasks
                try:
                    await self._read()
                except Exception:
                    log.exception("the upload channel failed")
                    await self._apply(self.channel.close_for_error("the server failed"))
                finally:
                    # The connection has ended: the entries still running are
                    # cancelled, their writers closed (shielded) as they unwind.
                    tasks.cancel_scope.cancel()
            if self.channel.close_code is not None and not self._disconnected:
                await self._closing_handshake()
        finally:
            if not self.channel.closed:  # the app itself was cancelled (shutdown)
                self._apply_now(self.channel.receive_close())
                # Tell the client, if it can still be told: 1001, going away.
                with anyio.CancelScope(shield=True), anyio.move_on_after(1):
                    await self._close(CloseCode.GOING_AWAY)
            self._gone = True
            # Whatever is left (a completed entry whose consume was cut short)
            # is dropped, and its file with it.
            for entry in self.uploads.entries:
                self.uploads.cancel(entry.ref)

    async def _read(self) -> None:
        channel = self.channel
        while not channel.closed:
            message: Message | None = None
            with anyio.CancelScope() as self._waiting:
                self._idle_deadline()
                message = await self._receive()
            self._waiting = None
            if message is None:
                await self._apply(channel.timed_out())
            elif message["type"] == "websocket.disconnect":
                self._gone = self._disconnected = True
                await self._apply(channel.receive_close())
            elif message.get("bytes") is not None:
                await self._apply(channel.receive_bytes(message["bytes"]))
            else:
                await self._apply(channel.receive_text(message.get("text") or ""))

    async def _closing_handshake(self) -> None:
        """After our close frame, read on (dropping frames) until the client's close.

        Closing at once, with frames of the client unread (a client sending
        chunks as it is closed), makes the kernel reset the connection, and a
        reset can destroy our close frame and the error before it, unread.
        RFC 6455 has the server wait for the client's close instead.
        """
        with anyio.move_on_after(_CLOSING_WAIT):
            while (await self._receive())["type"] != "websocket.disconnect":
                pass
        self._disconnected = True

    def _idle_deadline(self) -> None:
        """While no entry runs, the read waits at most the chunk timeout (else forever)."""
        waiting = self._waiting
        if waiting is not None:
            idle = self.channel.idle
            waiting.deadline = anyio.current_time() + self._timeout if idle else math.inf

    # --- performing what the channel asks --------------------------------------------

    async def _apply(self, outputs: list[Output]) -> None:
        for output in outputs:
            if isinstance(output, Send):
                await self._send_text(output.text)
            elif isinstance(output, CloseConnection):
                await self._close(output.code)
            elif isinstance(output, SelectFiles):
                await self._apply(self._select(output.files))
            elif isinstance(output, CancelEntry):
                await self._apply(self._cancel(output.ref))
            else:
                self._apply_now([output])

    def _apply_now(self, outputs: list[Output]) -> None:
        """Perform outputs without waiting; frames are not sent (the connection has ended)."""
        for output in outputs:
            if isinstance(output, StartEntry):
                self._start(output.ref)
            elif isinstance(output, WriteChunk):
                # Never full: the channel's window bounds what is unacknowledged.
                # And open: its task reports how the entry ended before closing it.
                self._buffers[output.ref].send_nowait(output.data)
            elif isinstance(output, CancelEntry):
                self._apply_now(self._cancel(output.ref))

    async def _send_text(self, text: str) -> None:
        async with self._send_lock:
            if self._gone:
                return
            try:
                await self._send({"type": "websocket.send", "text": text})
            except Exception:  # noqa: BLE001 - any failure to send means the client is gone
                self._gone = True
                if self._tasks is not None:
                    self._tasks.cancel_scope.cancel()

    async def _close(self, code: int) -> None:
        async with self._send_lock:
            if self._gone:
                return
            self._gone = True
            # It fails if the client went away first: then there is nothing to close.
            with contextlib.suppress(Exception):
                await self._send({"type": "websocket.close", "code": code})

    def _select(self, files: tuple[ClientFile, ...]) -> list[Output]:
        """Select the announced files in the uploads; return the channel's verdicts."""
        uploads, channel = self.uploads, self.channel
        before = {entry.ref for entry in uploads.entries}
        created = uploads.select(files)
        out: list[Output] = []
        # Invalid entries are refused and dropped at once (the client shows the
        # error; they count no more), then the last valid ones past max_entries.
        for entry in created:
            if entry.errors:
                uploads.cancel(entry.ref)
                out += channel.refuse(entry.ref, *self._error(entry.errors[0], entry))
        valid = [entry for entry in created if entry.valid]
        excess: list[UploadEntry] = []
        while uploads.errors and valid:
            entry = valid.pop()
            uploads.cancel(entry.ref)
            excess.append(entry)
        for entry in valid:
            out += channel.accept(entry.ref)
        too_many = EntryError("too_many_files", uploads.config.max_entries)
        for entry in reversed(excess):
            out += channel.refuse(entry.ref, *self._error(too_many, entry))
        # With max_entries=1 a new file replaces the entry before it (Phoenix).
        for ref in before - {entry.ref for entry in uploads.entries}:
            out += self._cancel(ref)
        return out

    def _error(self, error: EntryError, entry: UploadEntry) -> tuple[str, str]:
        return error.code, entry_message(error, entry, self.uploads.config)

    def _start(self, ref: str) -> None:
        buffer, chunks = anyio.create_memory_object_stream[bytes](self._app._window)
        self._buffers[ref] = buffer
        assert self._tasks is not None
        self._tasks.start_soon(self._run_entry, ref, chunks, name=f"upload entry {ref}")
        self._idle_deadline()

    def _cancel(self, ref: str) -> list[Output]:
        """Cancel entry ``ref``; return the channel's outputs if it is cancelled at once."""
        uploads = self.uploads
        try:
            entry: UploadEntry | None = uploads.entry(ref)
        except UnknownEntry:
            entry = None  # cancelled or consumed already: its task reports how it ended
        if entry is not None and not entry.done:
            # A done entry is being consumed: too late to cancel, "done" follows.
            # (Cancelling an async upload only cancels its task: its block closes
            # the writer, and its task reports.)
            uploads.cancel(ref)
        if ref in self._buffers:
            return []  # it runs: its task reports the cancel as it ends
        return self.channel.cancelled(ref)

    # --- one entry's upload ----------------------------------------------------------

    async def _run_entry(self, ref: str, chunks: MemoryObjectReceiveStream[bytes]) -> None:
        channel = self.channel
        try:
            with chunks:
                ended = await self._upload(ref, chunks)
        except anyio.get_cancelled_exc_class():
            # Cancelled with the connection: the block closed the writer.
            self._buffers.pop(ref).close()
            self._apply_now(channel.cancelled(ref))
            raise
        except Exception as exc:
            log.exception("the upload of entry %r failed", ref)
            ended = self._failed(ref, exc)
        self._buffers.pop(ref).close()
        await self._apply(ended)
        self._idle_deadline()

    async def _upload(self, ref: str, chunks: MemoryObjectReceiveStream[bytes]) -> list[Output]:
        """Run entry ``ref``'s upload; return the channel's outputs for how it ended."""
        channel, uploads = self.channel, self.uploads
        try:
            async with uploads.upload_async(ref) as up:
                driver = up.driver
                if up.entry.client_size == 0:
                    await up.send(Done())
                while driver.reason is None:
                    await up.send(Chunk(await chunks.receive()))
                    await self._apply(channel.written(ref, driver.size, up.entry.progress))
        except UploadError as failure:
            return self._failed(ref, failure)
        # Left quietly: completed, or cancelled (the entry is gone then).
        try:
            uploads.entry(ref)
        except UnknownEntry:
            return channel.cancelled(ref)
        return await self._consume(ref)

    def _failed(self, ref: str, failure: BaseException) -> list[Output]:
        channel, uploads = self.channel, self.uploads
        try:
            entry = uploads.entry(ref)
        except UnknownEntry:
            return channel.cancelled(ref)
        error = entry.errors[0] if entry.errors else EntryError("writer_failure", failure)
        if error.code == "writer_failure":
            log.warning("the upload of %r failed: %s", entry.client_name, safe_repr(error.reason))
        uploads.cancel(ref)  # reported: it counts no more
        return channel.failed(ref, *self._error(error, entry))

    async def _consume(self, ref: str) -> list[Output]:
        channel, uploads = self.channel, self.uploads
        consume = self._app._consume
        pending: list[Awaitable[object]] = []

        def call(meta: Mapping[str, object], entry: UploadEntry) -> object:
            value = consume(meta, entry)
            if inspect.isawaitable(value):
                # Keep the entry (and its file) until the awaitable is done.
                pending.append(value)
                return Postpone(None)
            return value

        entry = uploads.entry(ref)
        try:
            result = uploads.consume_uploaded_entry(ref, call)
            if pending:
                try:
                    result = await pending[0]
                finally:
                    with contextlib.suppress(UnknownEntry):
                        uploads.consume_uploaded_entry(ref, _drop)
            return channel.completed(ref, result)
        except Exception as exc:
            log.exception("consume failed for the upload of %r", entry.client_name)
            return channel.failed(ref, *self._error(EntryError("writer_failure", exc), entry))


def _drop(meta: Mapping[str, object], entry: UploadEntry) -> None:
    """Consume an entry for nothing (its writer's result is discarded)."""
