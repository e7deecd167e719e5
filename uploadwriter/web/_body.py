"""An ASGI request body, read message by message, with a chunk timeout and disconnect detection."""

from __future__ import annotations

import math

import anyio
from starlette.types import Receive

from ._errors import ClientDisconnected

__all__ = ("Body",)

# The deadline fires between chunk_timeout and this many times it after the
# last message, so that it need not be moved on every message (as the driver).
_SLACK = 1.05


class Body:
    """The body of one HTTP request.

    ``scope`` is the cancel scope the reading runs in: its deadline is moved
    on as messages arrive, so that it fires when the client has sent nothing
    for ``timeout`` seconds, counted from the creation of this object (a
    client that sends no byte at all is timed out too). It covers whatever
    runs in the scope meanwhile, writes included, as the driver's own chunk
    timeout does; once the whole body has arrived, the deadline is lifted.
    """

    __slots__ = ("_receive", "_refreshed", "_scope", "_timeout", "more", "received")

    def __init__(self, receive: Receive, scope: anyio.CancelScope, timeout: float | None) -> None:
        self._receive = receive
        self._scope = scope
        self._timeout = timeout
        self._refreshed = -math.inf
        #: Bytes of the body received so far.
        self.received = 0
        #: False once the last message of the body has arrived.
        self.more = True
        self._refresh()

    def _refresh(self) -> None:
        timeout = self._timeout
        if timeout is None:
            return
        now = anyio.current_time()
        if now - self._refreshed >= timeout * (_SLACK - 1):
            self._refreshed = now
            self._scope.deadline = now + timeout * _SLACK

    async def read(self) -> bytes:
        """Return the next bytes of the body; ``b""`` once it has all arrived.

        Raises:
            ClientDisconnected: the client went away before the end.
        """
        receive = self._receive
        while self.more:
            message = await receive()
            self._refresh()
            if message["type"] == "http.request":
                data: bytes = message.get("body", b"")
                if not message.get("more_body", False):
                    self.more = False
                    # Nothing more to wait for from the client: what runs
                    # next (the last write, the close) is not timed out.
                    self._scope.deadline = math.inf
                if data:
                    self.received += len(data)
                    return data
            else:  # "http.disconnect", the only other message an HTTP request receives
                self.more = False
                raise ClientDisconnected(self.received)
        return b""
