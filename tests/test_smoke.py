"""The shortest end-to-end uses of both drivers."""

from __future__ import annotations

from pathlib import Path

import pytest

from uploadwriter import AsyncUploader, Chunk, Done, ThreadedWriter, Uploader
from uploadwriter.writers import TmpFileOpts, TmpFileWriter


def test_sync_upload_to_tmpfile(tmp_path: Path) -> None:
    with Uploader(TmpFileWriter(), TmpFileOpts(dir=tmp_path), expected_size=6) as up:
        up.send(Chunk(b"abc"))
        up.send(Chunk(b"def"))
    path = Path(str(up.meta()["path"]))
    assert path.read_bytes() == b"abcdef"
    assert up.size == 6


@pytest.mark.anyio
async def test_async_upload_to_tmpfile(tmp_path: Path) -> None:
    async with AsyncUploader(ThreadedWriter(TmpFileWriter()), TmpFileOpts(dir=tmp_path)) as up:
        await up.send(Chunk(b"abc"))
        await up.send(Done())
    assert Path(str(up.meta()["path"])).read_bytes() == b"abc"
