"""Receive uploads in chunks and write them anywhere, with a lifecycle you cannot get wrong.

A port of Phoenix LiveView's ``UploadWriter``: writers are typed protocols
returning ``Ok(state)`` / ``Err(reason, state)``; a pure reducer
(:mod:`uploadwriter.reducer`) holds every lifecycle rule; :class:`Uploader`
and :class:`AsyncUploader` perform the writer calls it asks for.
"""

from . import _variant

if _variant.requested_pure():  # UPLOADWRITER_PURE_PYTHON=1: never the compiled modules
    _variant.force_pure_python(__path__[0])

from ._adapters import InlineWriter as InlineWriter
from ._adapters import ThreadedWriter as ThreadedWriter
from ._async import AsyncUploader as AsyncUploader
from ._errors import ChunkTimeout as ChunkTimeout
from ._errors import FileTooLarge as FileTooLarge
from ._errors import IncompleteUpload as IncompleteUpload
from ._errors import InitError as InitError
from ._errors import InvalidEvent as InvalidEvent
from ._errors import InvalidLimit as InvalidLimit
from ._errors import ResumeError as ResumeError
from ._errors import UploadBusy as UploadBusy
from ._errors import UploadClosed as UploadClosed
from ._errors import UploadError as UploadError
from ._errors import UploadFailed as UploadFailed
from ._errors import UploadInProgress as UploadInProgress
from ._errors import WriterFailure as WriterFailure
from ._events import Cancel as Cancel
from ._events import Chunk as Chunk
from ._events import CloseReason as CloseReason
from ._events import Done as Done
from ._events import Error as Error
from ._events import Event as Event
from ._events import Leave as Leave
from ._events import Suspend as Suspend
from ._events import TimedOut as TimedOut
from ._pipelined import Pipeline as Pipeline
from ._pipelined import PipelinedWriter as PipelinedWriter
from ._protocols import AsyncResumableWriter as AsyncResumableWriter
from ._protocols import AsyncUploadWriter as AsyncUploadWriter
from ._protocols import DiscardingWriter as DiscardingWriter
from ._protocols import ResumableWriter as ResumableWriter
from ._protocols import UploadWriter as UploadWriter
from ._results import Err as Err
from ._results import Ok as Ok
from ._sync import Uploader as Uploader
from ._values import SavedUpload as SavedUpload
from .uploads import AsyncEntryRun as AsyncEntryRun
from .uploads import ClientFile as ClientFile
from .uploads import EntryError as EntryError
from .uploads import EntryInProgress as EntryInProgress
from .uploads import EntryRefused as EntryRefused
from .uploads import EntryRun as EntryRun
from .uploads import Postpone as Postpone
from .uploads import UnknownEntry as UnknownEntry
from .uploads import UploadConfig as UploadConfig
from .uploads import UploadEntry as UploadEntry
from .uploads import Uploads as Uploads

__version__ = "0.1.0"

__all__ = (
    "AsyncEntryRun",
    "AsyncResumableWriter",
    "AsyncUploadWriter",
    "AsyncUploader",
    "Cancel",
    "Chunk",
    "ChunkTimeout",
    "ClientFile",
    "CloseReason",
    "DiscardingWriter",
    "Done",
    "EntryError",
    "EntryInProgress",
    "EntryRefused",
    "EntryRun",
    "Err",
    "Error",
    "Event",
    "FileTooLarge",
    "IncompleteUpload",
    "InitError",
    "InlineWriter",
    "InvalidEvent",
    "InvalidLimit",
    "Leave",
    "Ok",
    "Pipeline",
    "PipelinedWriter",
    "Postpone",
    "ResumableWriter",
    "ResumeError",
    "SavedUpload",
    "Suspend",
    "ThreadedWriter",
    "TimedOut",
    "UnknownEntry",
    "UploadBusy",
    "UploadClosed",
    "UploadConfig",
    "UploadEntry",
    "UploadError",
    "UploadFailed",
    "UploadInProgress",
    "UploadWriter",
    "Uploader",
    "Uploads",
    "WriterFailure",
)
