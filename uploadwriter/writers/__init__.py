"""Writers shipped with uploadwriter.

``S3Writer``/``AsyncS3Writer`` need boto3 (``pip install 'uploadwriter[s3]'``),
``HttpForwardWriter``/``AsyncHttpForwardWriter`` need h11
(``pip install 'uploadwriter[http]'``); creating one without it raises
``ImportError`` saying so. Importing this package needs neither.
"""

from ._echo import EchoOpts as EchoOpts
from ._echo import EchoState as EchoState
from ._echo import EchoWriter as EchoWriter
from ._forward import ForwardError as ForwardError
from ._forward import ForwardStatusError as ForwardStatusError
from ._forward import HttpForwardOpts as HttpForwardOpts
from ._hash import DigestMismatch as DigestMismatch
from ._hash import HashOpts as HashOpts
from ._hash import HashState as HashState
from ._hash import HashWriter as HashWriter
from ._http import AsyncHttpForwardState as AsyncHttpForwardState
from ._http import AsyncHttpForwardWriter as AsyncHttpForwardWriter
from ._http import HttpForwardState as HttpForwardState
from ._http import HttpForwardWriter as HttpForwardWriter
from ._memory import MemoryOpts as MemoryOpts
from ._memory import MemoryState as MemoryState
from ._memory import MemoryWriter as MemoryWriter
from ._s3 import AsyncS3Writer as AsyncS3Writer
from ._s3 import S3Opts as S3Opts
from ._s3 import S3State as S3State
from ._s3 import S3UploadError as S3UploadError
from ._s3 import S3Writer as S3Writer
from ._tee import AsyncTeeWriter as AsyncTeeWriter
from ._tee import TeeState as TeeState
from ._tee import TeeWriter as TeeWriter
from ._tmpfile import TmpFileOpts as TmpFileOpts
from ._tmpfile import TmpFileState as TmpFileState
from ._tmpfile import TmpFileWriter as TmpFileWriter

__all__ = (
    "AsyncHttpForwardState",
    "AsyncHttpForwardWriter",
    "AsyncS3Writer",
    "AsyncTeeWriter",
    "DigestMismatch",
    "EchoOpts",
    "EchoState",
    "EchoWriter",
    "ForwardError",
    "ForwardStatusError",
    "HashOpts",
    "HashState",
    "HashWriter",
    "HttpForwardOpts",
    "HttpForwardState",
    "HttpForwardWriter",
    "MemoryOpts",
    "MemoryState",
    "MemoryWriter",
    "S3Opts",
    "S3State",
    "S3UploadError",
    "S3Writer",
    "TeeState",
    "TeeWriter",
    "TmpFileOpts",
    "TmpFileState",
    "TmpFileWriter",
)
