"""Resumable uploads: the tus 1.0.0 protocol on the same writers.

:class:`TusEndpoint` is an ASGI app (``uploadwriter serve`` mounts it at
``/files/``); :class:`Exchange` is the protocol as a sans-IO state machine,
one request at a time; :class:`FileStore` keeps uploads in a directory that
several processes may share, with ``flock(2)`` locks (:class:`FileLocker`).
An interrupted request suspends its upload (L16), and any process sharing the
store resumes it (L17).
"""

from ._endpoint import Accept as Accept
from ._endpoint import OnComplete as OnComplete
from ._endpoint import TusEndpoint as TusEndpoint
from ._headers import CHECKSUMS as CHECKSUMS
from ._headers import BadHeader as BadHeader
from ._headers import Metadata as Metadata
from ._headers import metadata_text as metadata_text
from ._locks import FileLocker as FileLocker
from ._locks import Lock as Lock
from ._locks import Locked as Locked
from ._locks import Locker as Locker
from ._outputs import Checkpoint as Checkpoint
from ._outputs import Commit as Commit
from ._outputs import CreateUpload as CreateUpload
from ._outputs import Drop as Drop
from ._outputs import LoadUpload as LoadUpload
from ._outputs import LocalProtocolError as LocalProtocolError
from ._outputs import Output as Output
from ._outputs import Reply as Reply
from ._outputs import StartWriting as StartWriting
from ._outputs import Terminate as Terminate
from ._outputs import Write as Write
from ._protocol import EXTENSIONS as EXTENSIONS
from ._protocol import TUS_VERSION as TUS_VERSION
from ._protocol import Exchange as Exchange
from ._s3store import S3Store as S3Store
from ._stores import FileStore as FileStore
from ._stores import Stored as Stored
from ._stores import UploadStore as UploadStore
from ._values import TusConfig as TusConfig
from ._values import UploadInfo as UploadInfo

__all__ = (
    "CHECKSUMS",
    "EXTENSIONS",
    "TUS_VERSION",
    "Accept",
    "BadHeader",
    "Checkpoint",
    "Commit",
    "CreateUpload",
    "Drop",
    "Exchange",
    "FileLocker",
    "FileStore",
    "LoadUpload",
    "LocalProtocolError",
    "Lock",
    "Locked",
    "Locker",
    "Metadata",
    "OnComplete",
    "Output",
    "Reply",
    "S3Store",
    "StartWriting",
    "Stored",
    "Terminate",
    "TusConfig",
    "TusEndpoint",
    "UploadInfo",
    "UploadStore",
    "Write",
    "metadata_text",
)
