"""Embed the pure reducer in an event loop of your own: a ``selectors`` TCP server.

No driver here: each connection holds an immutable ``Upload`` value, and the
loop feeds it events with :func:`uploadwriter.reducer.reduce`, performing the
writer calls each step asks for. The protocol is tiny: the client sends its
size as a decimal line, then the bytes; the server answers one JSON line with
the writer's meta (or the error) and closes the connection. A client that
disconnects early cancels its upload, and the temp file is removed.

Run it: ``python examples/selectors_server.py`` then, in another shell,
``(wc -c < FILE; cat FILE) | nc 127.0.0.1 8765``.
"""

from __future__ import annotations

import contextlib
import json
import selectors
import socket
from typing import Any

from uploadwriter import Cancel, Chunk, Done
from uploadwriter.reducer import Step, Upload, meta_error, reduce, start
from uploadwriter.writers import TmpFileOpts, TmpFileState, TmpFileWriter

writer = TmpFileWriter()


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
    """One client: its header buffer, then its upload."""

    def __init__(self, sock: socket.socket, opts: TmpFileOpts) -> None:
        self.sock = sock
        self.opts = opts
        self.header = b""
        self.upload: Upload[TmpFileState] | None = None

    def received(self, data: bytes) -> str | None:  # noqa: PLR0911 - one reply per outcome
        """Handle bytes from the client; return the reply once there is one."""
        if self.upload is None:
            self.header += data
            if b"\n" not in self.header:
                if len(self.header) > 20:
                    return json.dumps({"ok": False, "error": "the size line is too long"})
                return None
            line, _, data = self.header.partition(b"\n")
            try:
                upload = start(expected_size=int(line))
            except ValueError as exc:
                return json.dumps({"ok": False, "error": str(exc)})
            step = perform(upload, writer.init(self.opts))
            self.upload = step.upload
            if step.error is not None:
                return json.dumps({"ok": False, "error": str(step.error)})
        step = perform(self.upload, Chunk(data) if data else Done())
        self.upload = step.upload
        if step.error is not None:
            return json.dumps({"ok": False, "error": str(step.error)})
        if meta_error(self.upload) is None:
            return json.dumps({"ok": True, "meta": dict(writer.meta(self.upload.state))})
        return None

    def disconnected(self) -> None:
        """The client went away: cancel (a no-op if the upload already closed)."""
        if self.upload is not None:
            self.upload = perform(self.upload, Cancel()).upload


def serve(
    listener: socket.socket, opts: TmpFileOpts, *, max_connections: int | None = None
) -> None:
    """Accept uploads on ``listener`` until ``max_connections`` have been served."""
    selector = selectors.DefaultSelector()
    listener.setblocking(False)
    selector.register(listener, selectors.EVENT_READ)
    served = 0
    while max_connections is None or served < max_connections:
        for key, _ in selector.select():
            if key.fileobj is listener:
                sock, _ = listener.accept()
                sock.setblocking(False)
                selector.register(sock, selectors.EVENT_READ, Connection(sock, opts))
                continue
            conn: Connection = key.data
            data = conn.sock.recv(65536)
            reply = conn.received(data) if data or conn.upload is not None else None
            if reply is None and data:
                continue
            if reply is not None:
                conn.sock.setblocking(True)
                with contextlib.suppress(OSError):  # the client may be gone already
                    conn.sock.sendall(reply.encode() + b"\n")
            conn.disconnected()
            selector.unregister(conn.sock)
            conn.sock.close()
            served += 1
    selector.close()


if __name__ == "__main__":
    with socket.create_server(("127.0.0.1", 8765)) as server:
        print("listening on 127.0.0.1:8765")
        serve(server, TmpFileOpts())
