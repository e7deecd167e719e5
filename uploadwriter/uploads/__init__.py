"""Around the writer: Phoenix's ``allow_upload`` — configuration, entries, progress, consume.

:class:`UploadConfig` says what an upload accepts; :class:`Uploads` holds its
entries from the client's selection to their consumption, running each
entry's upload through the core drivers.
"""

from ._config import ProgressCallback as ProgressCallback
from ._config import UploadConfig as UploadConfig
from ._config import ValidatorCallback as ValidatorCallback
from ._config import WriterFactory as WriterFactory
from ._config import default_writer as default_writer
from ._entries import ClientFile as ClientFile
from ._entries import EntryError as EntryError
from ._entries import Postpone as Postpone
from ._entries import UploadEntry as UploadEntry
from ._errors import EntryInProgress as EntryInProgress
from ._errors import EntryRefused as EntryRefused
from ._errors import UnknownEntry as UnknownEntry
from ._runs import AsyncEntryRun as AsyncEntryRun
from ._runs import EntryRun as EntryRun
from ._session import Uploads as Uploads

__all__ = (
    "AsyncEntryRun",
    "ClientFile",
    "EntryError",
    "EntryInProgress",
    "EntryRefused",
    "EntryRun",
    "Postpone",
    "ProgressCallback",
    "UnknownEntry",
    "UploadConfig",
    "UploadEntry",
    "Uploads",
    "ValidatorCallback",
    "WriterFactory",
    "default_writer",
)
