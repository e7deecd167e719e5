"""``HashedFileWriter``: a temp file and its sha256, computed as the chunks are written.

The store's writer: what a ``TeeWriter(TmpFileWriter(), HashWriter())`` does,
in one writer until those land (DESIGN §6), so that it can be swapped for
them here alone. One writer rather than two also saves a call per chunk.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import attrs

from .._events import CloseReason
from .._results import Err, Ok
from ..writers import TmpFileOpts, TmpFileState, TmpFileWriter

__all__ = ("HashedFileState", "HashedFileWriter")

_FILES = TmpFileWriter()


@attrs.frozen
class HashedFileState:
    """The temp file of one upload, and the sha256 of what was written to it so far.

    The hash is never updated in place: each write hashes into a copy (a
    ``hashlib`` copy is a small struct, far cheaper than the hashing), so that
    a state, once answered, means the same bytes for ever (law b).
    """

    file: TmpFileState
    sha256: Any = attrs.field(repr=False, eq=False)


class HashedFileWriter:
    """Write an upload to a new temp file, as :class:`~uploadwriter.writers.TmpFileWriter`, hashed.

    Meta is ``{"path": ..., "sha256": ...}``. The file is kept on ``Done()``
    and removed otherwise, or by :meth:`discard`.
    """

    def init(self, opts: TmpFileOpts) -> Ok[HashedFileState] | Err[None]:
        """Create the file (``Err`` with the ``OSError`` if it cannot be)."""
        answer = _FILES.init(opts)
        if isinstance(answer, Err):
            return answer
        return Ok(HashedFileState(answer.state, hashlib.sha256()))

    def meta(self, state: HashedFileState) -> Mapping[str, object]:
        """``{"path": path, "sha256": hexdigest}`` of the completed file."""
        return {"path": state.file.path, "sha256": state.sha256.hexdigest()}

    def write_chunk(
        self, data: bytes, state: HashedFileState
    ) -> Ok[HashedFileState] | Err[HashedFileState]:
        """Append ``data`` to the file and to the hash (``Err`` with the ``OSError``)."""
        answer = _FILES.write_chunk(data, state.file)
        if isinstance(answer, Err):
            return Err(answer.reason, state)
        sha256 = state.sha256.copy()
        sha256.update(data)
        return Ok(HashedFileState(state.file, sha256))

    def close(
        self, state: HashedFileState, reason: CloseReason
    ) -> Ok[HashedFileState] | Err[HashedFileState]:
        """Close the file; keep it on ``Done()``, remove it otherwise or if flushing fails."""
        answer = _FILES.close(state.file, reason)
        if isinstance(answer, Err):
            return Err(answer.reason, state)
        return Ok(state)

    def discard(self, state: HashedFileState) -> None:
        """Remove the completed upload's file (if it is still where it was written)."""
        _FILES.discard(state.file)
