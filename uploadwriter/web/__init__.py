"""The road from a browser or an HTTP client to a writer: Starlette (and FastAPI) receivers.

:func:`receive_raw` streams a request body into a writer, :func:`receive_multipart`
every file of a ``multipart/form-data`` body; :func:`raw_endpoint` and
:func:`multipart_endpoint` are ready-made endpoints over them. Failures answer
the same way everywhere (:data:`STATUS`, :class:`UploadRejected`).
:func:`create_app` is the app of ``uploadwriter serve``.

Needs the ``web`` extra: ``pip install 'uploadwriter[web]'``.
"""

try:
    import multipart as _multipart  # noqa: F401 - only checks that the extra is installed
    import starlette as _starlette  # noqa: F401
except ImportError as _missing:  # pragma: no cover - the test environment has the extra
    raise ImportError(
        f"uploadwriter.web needs the web extra ({_missing}): pip install 'uploadwriter[web]'"
    ) from _missing

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
from ._files import ReceivedFile as ReceivedFile
from ._files import ReceivedForm as ReceivedForm
from ._files import WriterFactory as WriterFactory
from ._limits import Limits as Limits
from ._multipart import receive_multipart as receive_multipart
from ._names import safe_client_name as safe_client_name
from ._raw import receive_raw as receive_raw
from ._serve import create_app as create_app

__all__ = (
    "STATUS",
    "ClientDisconnected",
    "Consume",
    "Endpoint",
    "FilePart",
    "Limits",
    "ReceivedFile",
    "ReceivedForm",
    "UploadRejected",
    "WriterFactory",
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
