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
from ._outputs import LocalProtocolError as LocalProtocolError
from ._websocket import UploadChannel as UploadChannel
from ._wire import CloseCode as CloseCode

__all__ = (
    "DEFAULT_WINDOW",
    "PROTOCOL_VERSIONS",
    "Channel",
    "CloseCode",
    "LocalProtocolError",
    "UploadChannel",
)
