"""Embed the pure reducer in an event loop of your own: a ``selectors`` TCP server.

No driver here: each connection holds an immutable ``Upload`` value, and the
loop feeds it events with :func:`uploadwriter.reducer.reduce`, performing the
writer calls each step asks for.

The protocol is tiny. The client sends its size as a decimal line, then the
bytes, then ends its side of the connection (``shutdown(SHUT_WR)``; ``nc -N``
does it at the end of its input). The server answers one JSON line, the
writer's meta or the error, and closes the connection. TCP delivers bytes,
not messages: the size line may come alone or split, the body in pieces of
any size; the reply waits for the end of the stream, so that bytes past the
announced size are seen and refused as too large. An upload that fails (or a
client that disconnects early) is cancelled at once, and its temp file is
removed; a completed upload whose reply cannot be delivered is discarded.

Run it: ``python examples/selectors_server.py`` then, in another shell,
``(wc -c < FILE; cat FILE) | nc -N 127.0.0.1 8765``.
"""

from __future__ import annotations

import contextlib
import json
import selectors
import socket
from typing import Any

from uploadwriter import Cancel, Chunk, Done, FileTooLarge
from uploadwriter.reducer import Step, Upload, meta_error, reduce, start
from uploadwriter.writers import TmpFileOpts, TmpFileState, TmpFileWriter

writer = TmpFileWriter()

MAX_SIZE_LINE = 20  # bytes, newline included: a size line longer than this is refused


def perform(upload: Upload[Any], event: object) -> Step[Any]:
    """Feed ``event`` and make every writer call the reducer asks for."""
    step = reduce(upload, event)
    while step.call is not None:
        state = step.upload.state
        try:
            if isinstance(step.call, Chunk):
                answer: object = writer.write_chunk(step.call.data, state)
            else:
                answer = writer.close(state, step.call)
        except Exception as exc:  # noqa: BLE001 - a raising callback is an answer too (L11)
            answer = exc
        step = reduce(step.upload, answer)
    return step


class Connection:
    """One client: its size line, then its upload, then the end of its stream.

    Bytes in, one reply out; no socket here, so the protocol can be tested
    with the stream cut anywhere.
    """

    def __init__(self, opts: TmpFileOpts) -> None:
        self.opts = opts
        self.header = b""
        self.announced = 0  # the size the client announced
        self.upload: Upload[TmpFileState] | None = None
        self.error: str | None = None  # the reply, once the upload has failed

    def received(self, data: bytes) -> None:
        """Take the next bytes the client sent (any number, at least one)."""
        if self.error is not None:
            return  # failed already: the rest of the stream is read and dropped
        if self.upload is None:
            self.header += data
            line, newline, data = self.header.partition(b"\n")
            if not newline:
                if len(self.header) >= MAX_SIZE_LINE:
                    self.error = "the size line is too long"
                return
            self.upload = self.start(line)
            if self.upload is None or not data:
                return  # refused, or the size line came alone: the body follows
        if meta_error(self.upload) is None:
            # Complete already (the announced size was reached, L3): more is too much.
            self.error = str(FileTooLarge(self.announced, self.announced, len(data)))
            self.discard()
            return
        step = perform(self.upload, Chunk(data))
        self.upload = step.upload
        if step.error is not None:
            self.error = str(step.error)

    def start(self, line: bytes) -> Upload[TmpFileState] | None:
        """Start the upload the size line announces (None, and the error recorded, if not)."""
        try:
            self.announced = int(line)
            upload = start(expected_size=self.announced)
        except ValueError as exc:
            self.error = str(exc)
            return None
        step = perform(upload, writer.init(self.opts))
        if step.error is not None:
            self.error = str(step.error)
            return None
        return step.upload

    def finished(self) -> str:
        """The client has sent everything: return the reply (one JSON line, no newline)."""
        if self.error is None and self.upload is None:
            self.error = "the stream ended before the size line"
        if self.error is None and self.upload is not None:
            step = perform(self.upload, Done())  # nothing to do if already complete (L8)
            self.upload = step.upload
            if step.error is not None:
                self.error = str(step.error)
        if self.error is not None or self.upload is None:
            return json.dumps({"ok": False, "error": self.error})
        return json.dumps({"ok": True, "meta": dict(writer.meta(self.upload.state))})

    def ended(self, *, told: bool) -> None:
        """The connection is closed; ``told``: the client got our reply.

        An open upload is cancelled (its file removed). A completed one is kept
        only if the client was told where it is; otherwise nobody will ever
        take it, and it is discarded.
        """
        if self.upload is None:
            return
        self.upload = perform(self.upload, Cancel()).upload  # a no-op once closed (L8)
        if not told:
            self.discard()

    def discard(self) -> None:
        """Release a completed upload that nobody will take (the writer's discard hook)."""
        if self.upload is not None and meta_error(self.upload) is None:
            writer.discard(self.upload.state)
            self.upload = None


def serve(
    listener: socket.socket,
    opts: TmpFileOpts,
    *,
    max_connections: int | None = None,
    read_size: int = 65536,
) -> None:
    """Accept uploads on ``listener`` until ``max_connections`` have been served.

    ``read_size``: the most bytes taken from a socket per read (tests cut the
    stream into pieces as small as one byte with it).
    """
    selector = selectors.DefaultSelector()
    listener.setblocking(False)
    selector.register(listener, selectors.EVENT_READ)
    served = 0
    while max_connections is None or served < max_connections:
        for key, _ in selector.select():
            if key.fileobj is listener:
                sock, _ = listener.accept()
                sock.setblocking(False)
                selector.register(sock, selectors.EVENT_READ, (sock, Connection(opts)))
                continue
            client: tuple[socket.socket, Connection] = key.data
            sock, conn = client
            told = False
            try:
                data = sock.recv(read_size)
                if data:
                    conn.received(data)
                    continue
                reply = conn.finished()
                sock.setblocking(True)
                sock.sendall(reply.encode() + b"\n")
                told = True
            except OSError:
                pass  # the client is gone (reset): its upload is cancelled below
            conn.ended(told=told)
            selector.unregister(sock)
            with contextlib.suppress(OSError):
                sock.close()
            served += 1
    selector.close()


if __name__ == "__main__":
    with socket.create_server(("127.0.0.1", 8765)) as server:
        print("listening on 127.0.0.1:8765")
        serve(server, TmpFileOpts())
