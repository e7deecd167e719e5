"""The road from the browser: the WebSocket upload channel (``pip install 'uploadwriter[web]'``).

:class:`UploadChannel` is an ASGI app (mount it in Starlette or FastAPI) that
receives browser uploads over a WebSocket, driven by an
:class:`~uploadwriter.uploads.UploadConfig`; ``static/uploadwriter.js`` is its
JavaScript client. :class:`Channel` is the channel's protocol as a sans-IO
state machine, for writing a driver of your own.
"""

from ._channel import DEFAULT_WINDOW as DEFAULT_WINDOW
from ._channel import PROTOCOL_VERSIONS as PROTOCOL_VERSIONS
from ._channel import Channel as Channel
from ._outputs import CancelEntry as CancelEntry
from ._outputs import CloseConnection as CloseConnection
from ._outputs import LocalProtocolError as LocalProtocolError
from ._outputs import Output as Output
from ._outputs import SelectFiles as SelectFiles
from ._outputs import Send as Send
from ._outputs import StartEntry as StartEntry
from ._outputs import WriteChunk as WriteChunk
from ._table import EntryState as EntryState
from ._websocket import UploadChannel as UploadChannel
from ._wire import CloseCode as CloseCode
from ._wire import chunk_frame as chunk_frame

__all__ = (
    "DEFAULT_WINDOW",
    "PROTOCOL_VERSIONS",
    "CancelEntry",
    "Channel",
    "CloseCode",
    "CloseConnection",
    "EntryState",
    "LocalProtocolError",
    "Output",
    "SelectFiles",
    "Send",
    "StartEntry",
    "UploadChannel",
    "WriteChunk",
    "chunk_frame",
)
