"""Writers shipped with uploadwriter."""

from ._echo import EchoOpts as EchoOpts
from ._echo import EchoState as EchoState
from ._echo import EchoWriter as EchoWriter
from ._tmpfile import TmpFileOpts as TmpFileOpts
from ._tmpfile import TmpFileState as TmpFileState
from ._tmpfile import TmpFileWriter as TmpFileWriter

__all__ = (
    "EchoOpts",
    "EchoState",
    "EchoWriter",
    "TmpFileOpts",
    "TmpFileState",
    "TmpFileWriter",
)
