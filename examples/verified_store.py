"""Keep an upload only if its SHA-256 is the one the client announced.

A ``TeeWriter`` writes each chunk to a ``HashWriter`` and a ``TmpFileWriter``.
The hash comes first: at ``Done()`` a digest that differs fails the upload
before the temp file is completed, so the file is removed, never kept.
"""

from __future__ import annotations

from collections.abc import Iterable

from uploadwriter import Chunk, Done, Uploader
from uploadwriter.writers import HashOpts, HashWriter, TeeWriter, TmpFileOpts, TmpFileWriter


def store_verified(chunks: Iterable[bytes], sha256: str, directory: str) -> str:
    """Write ``chunks`` to a new file in ``directory``; return its path.

    Raises:
        WriterFailure: the digest is not ``sha256`` (its reason is a
            ``DigestMismatch``); no file is left behind.
    """
    tee = TeeWriter(HashWriter(), TmpFileWriter())
    with Uploader(tee, (HashOpts(expected=sha256), TmpFileOpts(dir=directory))) as up:
        for data in chunks:
            up.send(Chunk(data))
        up.send(Done())
    metas = up.meta()["writers"]
    assert isinstance(metas, tuple)
    return str(metas[1]["path"])
