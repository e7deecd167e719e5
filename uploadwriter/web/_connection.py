"""One connection of the upload channel: a thin driver over ``Channel`` and ``Uploads``.

Each connection has a :class:`~uploadwriter.web.Channel` (the protocol) and
its own :class:`~uploadwriter.uploads.Uploads` (the entries). The driver only
carries things between them: frames from the client go into the channel;
what the channel answers is performed here (frames sent, files selected,
entries started, chunks handed to their upload, entries cancelled), and what
the uploads do (a chunk written, an entry completed, failed or cancelled) is
reported back to the channel.

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
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any, TypeAlias

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .._errors import UploadError, safe_repr
from .._events import Chunk, Done
from ..uploads import (
    ClientFile,
    EntryError,
    Postpone,
    UnknownEntry,
    UploadConfig,
    UploadEntry,
    Uploads,
)
from ._channel import Channel
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
from ._wire import CloseCode

__all__ = ("Connection", "ConsumeFn", "Message", "Receive", "Scope", "SendFn")

Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
SendFn: TypeAlias = Callable[[Message], Awaitable[None]]

#: ``consume(meta, entry)``: called once per completed entry; its JSON-able
#: return value (or the value its awaitable gives) goes to the client.
ConsumeFn: TypeAlias = Callable[[Mapping[str, object], UploadEntry], object]

log = logging.getLogger("uploadwriter.web")

# Seconds to wait for the client's close frame once the server has sent its own.
_CLOSING_WAIT = 2.0


class Connection:
    """One WebSocket connection: its channel, its uploads, its entry tasks."""

    def __init__(
        self,
        config: UploadConfig,
        receive: Receive,
        send: SendFn,
        *,
        consume: ConsumeFn,
        window: int,
    ) -> None:
        self._consume_fn = consume
        self._window = window
        self._receive = receive
        self._send = send
        self._send_lock = anyio.Lock(fast_acquire=True)
        self._gone = False  # the client is gone, or we closed: send nothing more
        self._disconnected = False  # the server told us the connection has ended
        # Each started entry's chunk buffer (the sending side; its task reads the other).
        self._buffers: dict[str, MemoryObjectSendStream[bytes]] = {}
        self.channel = Channel(config, window=window)
        self.uploads = Uploads(config)
        self._tasks: TaskGroup | None = None
        self._waiting: anyio.CancelScope | None = None  # the read that the idle deadline ends
        # No chunk timeout (None): no idle deadline either.
        self._timeout = math.inf if config.chunk_timeout is None else config.chunk_timeout

    async def serve(self) -> None:
        """Accept the connection (its ``websocket.connect`` was read) and serve it to the end."""
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
            late: Message | None = None
            # One cancel scope serves the reads until its idle deadline fires
            # (a scope per read cost a tenth of the channel's time per chunk).
            # The deadline covers the reads only: while a message is handled,
            # it is lifted and _waiting is None, so that no task arms it.
            with anyio.CancelScope() as waiting:
                while not channel.closed:
                    self._waiting = waiting
                    self._idle_deadline()
                    message = await self._receive()
                    self._waiting = None
                    if waiting.cancel_called:
                        late = message  # it came as the deadline passed: handled below
                        break
                    if waiting.deadline != math.inf:
                        waiting.deadline = math.inf
                    await self._handle(message)
            self._waiting = None
            if late is not None:
                await self._handle(late)
            elif waiting.cancelled_caught:
                await self._apply(channel.timed_out())

    async def _handle(self, message: Message) -> None:
        """Feed one message from the client to the channel, and perform what it answers."""
        channel = self.channel
        if message["type"] == "websocket.disconnect":
            self._gone = self._disconnected = True
            await self._apply(channel.receive_close())
        elif (data := message.get("bytes")) is not None:
            outputs = channel.receive_bytes(data)
            if len(outputs) == 1 and isinstance(chunk := outputs[0], WriteChunk):
                # A chunk, the common case: into its entry's buffer (as _apply_now).
                self._buffers[chunk.ref].send_nowait(chunk.data)
            else:
                await self._apply(outputs)
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
        # The deadline is lifted as each message arrives, and only the
        # reader's handling of a message makes the channel busy: here it is
        # armed, or left as it is (forever).
        waiting = self._waiting
        if waiting is not None and self.channel.idle:
            waiting.deadline = anyio.current_time() + self._timeout

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
        buffer, chunks = anyio.create_memory_object_stream[bytes](self._window)
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
                    try:
                        data = chunks.receive_nowait()
                    except anyio.WouldBlock:
                        data = await chunks.receive()
                    await up.send(Chunk(data))
                    written = channel.written(ref, driver.size, up.entry.progress)
                    if len(written) == 1 and isinstance(ack := written[0], Send):
                        await self._send_text(ack.text)  # the ack, the common case
                    else:
                        await self._apply(written)
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
        consume = self._consume_fn
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
