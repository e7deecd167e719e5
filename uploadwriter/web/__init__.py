"""The road from a browser or an HTTP client to a writer (``pip install 'uploadwriter[web]'``).

Over HTTP, in Starlette, FastAPI or any ASGI app: :func:`receive_raw` streams a
request body into a writer, :func:`receive_multipart` every file of a
``multipart/form-data`` body; :func:`raw_endpoint` and :func:`multipart_endpoint`
are ready-made endpoints over them. Failures answer the same way everywhere
(:data:`STATUS`, :class:`UploadRejected`).

Over a WebSocket: :class:`UploadChannel` is an ASGI app that receives browser
uploads, driven by an :class:`~uploadwriter.uploads.UploadConfig`;
``uploadwriter/static/uploadwriter.js`` (in the package) is its JavaScript
client. :class:`Channel` is the channel's protocol as a sans-IO state machine,
for writing a driver of your own.

:func:`create_app` is the app of ``uploadwriter serve``, which serves both.
"""

try:
    import multipart as _multipart  # noqa: F401 - only checks that the extra is installed
    import starlette as _starlette  # noqa: F401
except ImportError as _missing:  # pragma: no cover - the test environment has the extra
    raise ImportError(
        f"uploadwriter.web needs the web extra ({_missing}): pip install 'uploadwriter[web]'"
    ) from _missing

from ._channel import DEFAULT_WINDOW as DEFAULT_WINDOW
from ._channel import PROTOCOL_VERSIONS as PROTOCOL_VERSIONS
from ._channel import Channel as Channel
from ._endpoints import Consume as Consume
from ._endpoints import Endpoint as Endpoint
from ._endpoints import describe as describe
from ._endpoints import error_response as error_response
from ._endpoints import multipart_endpoint as multipart_endpoint
from ._endpoints import raw_endpoint as raw_endpoint
from ._endpoints import upload_error_handler as upload_error_handler
from ._errors import STATUS as STATUS
from ._errors import ClientDisconnected as ClientDisconnected
from ._errors import UploadRejected as UploadRejected
from ._errors import error_body as error_body
from ._errors import error_code as error_code
from ._errors import http_status as http_status
from ._files import FilePart as FilePart
from ._files import PartWriterFactory as PartWriterFactory
from ._files import ReceivedFile as ReceivedFile
from ._files import ReceivedForm as ReceivedForm
from ._limits import HttpLimits as HttpLimits
from ._multipart import receive_multipart as receive_multipart
from ._names import safe_client_name as safe_client_name
from ._outputs import CancelEntry as CancelEntry
from ._outputs import CloseConnection as CloseConnection
from ._outputs import LocalProtocolError as LocalProtocolError
from ._outputs import Output as Output
from ._outputs import SelectFiles as SelectFiles
from ._outputs import Send as Send
from ._outputs import StartEntry as StartEntry
from ._outputs import WriteChunk as WriteChunk
from ._raw import receive_raw as receive_raw
from ._serve import create_app as create_app
from ._table import EntryState as EntryState
from ._websocket import UploadChannel as UploadChannel
from ._wire import CloseCode as CloseCode
from ._wire import chunk_frame as chunk_frame

__all__ = (
    "DEFAULT_WINDOW",
    "PROTOCOL_VERSIONS",
    "STATUS",
    "CancelEntry",
    "Channel",
    "ClientDisconnected",
    "CloseCode",
    "CloseConnection",
    "Consume",
    "Endpoint",
    "EntryState",
    "FilePart",
    "HttpLimits",
    "LocalProtocolError",
    "Output",
    "PartWriterFactory",
    "ReceivedFile",
    "ReceivedForm",
    "SelectFiles",
    "Send",
    "StartEntry",
    "UploadChannel",
    "UploadRejected",
    "WriteChunk",
    "chunk_frame",
    "create_app",
    "describe",
    "error_body",
    "error_code",
    "error_response",
    "http_status",
    "multipart_endpoint",
    "raw_endpoint",
    "receive_multipart",
    "receive_raw",
    "safe_client_name",
    "upload_error_handler",
)
