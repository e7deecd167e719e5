"""How the channel's connection reads: one cancel scope for many reads, its idle deadline intact.

Driven as ASGI, without a server: the test is the client, handing the
connection its messages through ``receive`` and reading what it ``send`` s.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, MutableMapping
from typing import Any

import anyio
import pytest

from uploadwriter.uploads import UploadConfig
from uploadwriter.web import UploadChannel

pytestmark = pytest.mark.anyio

TIMEOUT = 0.2


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


def _text(**message: object) -> dict[str, Any]:
    return {"type": "websocket.receive", "text": json.dumps(message)}


class Client:
    """The messages a connection receives, in order; what it sends, as JSON (and its close)."""

    def __init__(self, *messages: Mapping[str, Any]) -> None:
        self.messages = [{"type": "websocket.connect"}, *messages]
        self.sent: list[Any] = []
        self.closed = anyio.Event()

    async def receive(self) -> MutableMapping[str, Any]:
        if not self.messages:
            await self.closed.wait()  # nothing more until the server closes; then we go
            return {"type": "websocket.disconnect", "code": 1000}
        message = dict(self.messages.pop(0))
        if message.pop("late", False):
            # This message arrives just as the idle deadline passes: the read
            # waiting for it is not interrupted (shielded), so the deadline
            # passes before the read returns with the message.
            with anyio.CancelScope(shield=True):
                await anyio.sleep(TIMEOUT * 2)
        return message

    async def send(self, message: MutableMapping[str, Any]) -> None:
        if message["type"] == "websocket.send":
            self.sent.append(json.loads(message["text"])["type"])
        elif message["type"] == "websocket.close":
            self.sent.append(message["code"])
            self.closed.set()


async def _serve(client: Client) -> None:
    config = UploadConfig("files", accept="any", chunk_timeout=TIMEOUT)
    channel = UploadChannel(config)
    with anyio.fail_after(10):
        await channel({"type": "websocket", "headers": []}, client.receive, client.send)


async def test_a_message_that_arrives_as_the_idle_deadline_passes_is_handled() -> None:
    # The select arrives while the deadline passes: it is answered, not lost;
    # then the connection, idle again, is closed by its deadline as usual.
    select = _text(type="select", files=[{"ref": "a", "name": "a.txt", "size": 3}])
    client = Client(_text(type="hello", versions=[1]), {**select, "late": True})
    await _serve(client)
    assert client.sent == ["welcome", "accepted", "error", 4408]


async def test_an_idle_connection_is_closed_by_its_deadline() -> None:
    client = Client(_text(type="hello", versions=[1]))
    await _serve(client)
    assert client.sent == ["welcome", "error", 4408]
