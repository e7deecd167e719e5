"""The shipped writers that are resumable (L16-L18): TmpFileWriter, S3Writer, AsyncS3Writer.

And those that are not, and say so: HashWriter (hashlib's state cannot be
saved), MemoryWriter (the bytes live in one process), TeeWriter (its
children's states would all have to be), HttpForwardWriter (a request in
flight cannot be resumed by another process).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from uploadwriter import (
    AsyncUploader,
    Cancel,
    Chunk,
    Done,
    ResumeError,
    SavedUpload,
    ThreadedWriter,
    Uploader,
    WriterFailure,
)
from uploadwriter.reducer import Phase
from uploadwriter.writers import (
    AsyncS3Writer,
    HashWriter,
    HttpForwardWriter,
    MemoryWriter,
    S3Opts,
    S3Writer,
    TeeWriter,
    TmpFileOpts,
    TmpFileWriter,
)

from .s3_server import S3, MiB, moto_endpoint, s3

__all__ = ("moto_endpoint", "s3")  # fixtures


def through_json(saved: SavedUpload) -> SavedUpload:
    """What another process gets: the saved upload as JSON, read back."""
    return SavedUpload.from_dict(json.loads(json.dumps(saved.as_dict())))


# --- TmpFileWriter ------------------------------------------------------------------------------


def test_tmpfile_suspends_its_gathered_bytes_and_resumes_at_its_size(tmp_path: Path) -> None:
    opts = TmpFileOpts(dir=tmp_path)
    with Uploader(TmpFileWriter(), opts, expected_size=80_006, resumable=True) as up:
        up.send(Chunk(b"abc"))  # gathered, not yet written
        up.send(Chunk(b"x" * 80_000))  # written at once, with the gathered bytes
        up.send(Chunk(b"de"))
    assert up.phase is Phase.SUSPENDED
    saved = through_json(up.saved())
    path = Path(str(saved.writer["path"]))  # type: ignore[index]
    assert saved.size == path.stat().st_size == 80_005
    with Uploader.resume(TmpFileWriter(), saved) as again:
        again.send(Chunk(b"f"))
    assert Path(str(again.meta()["path"])).read_bytes() == b"abc" + b"x" * 80_000 + b"def"


def test_tmpfile_resume_cuts_what_a_crashed_process_wrote(tmp_path: Path) -> None:
    with Uploader(TmpFileWriter(), TmpFileOpts(dir=tmp_path), resumable=True) as up:
        up.send(Chunk(b"abc"))
    saved = up.saved()
    crashed = Uploader.resume(TmpFileWriter(), saved)
    crashed.__enter__()
    crashed.send(Chunk(b"X" * 50_000))  # on disk, then the process dies: no suspend
    with Uploader.resume(TmpFileWriter(), saved) as up2:
        up2.send(Chunk(b"def"))
        up2.send(Done())
    assert Path(str(up2.meta()["path"])).read_bytes() == b"abcdef"
    crashed.state.file.close()  # what the dead process held


@pytest.mark.parametrize(
    ("saved", "message"),
    [
        ({"path": "gone", "size": 0}, "No such file"),
        ({"size": 3}, "not a saved TmpFileWriter upload"),
        ({"path": "p", "size": -1}, "not a saved TmpFileWriter upload"),
        ("text", "not a saved TmpFileWriter upload"),
    ],
)
def test_tmpfile_resume_refused(tmp_path: Path, saved: Any, message: str) -> None:
    if isinstance(saved, dict) and saved.get("path") == "gone":
        saved = {**saved, "path": str(tmp_path / "gone")}
    with (
        pytest.raises(ResumeError, match=message),
        Uploader.resume(TmpFileWriter(), SavedUpload(0, None, None, saved)),
    ):
        pass  # pragma: no cover - not reached


def test_tmpfile_resume_of_a_file_shorter_than_saved_is_refused(tmp_path: Path) -> None:
    short = tmp_path / "short"
    short.write_bytes(b"ab")
    saved = SavedUpload(5, None, None, {"path": str(short), "size": 5})
    with (
        pytest.raises(ResumeError, match="holds 2 bytes, fewer than the 5 saved"),
        Uploader.resume(TmpFileWriter(), saved),
    ):
        pass  # pragma: no cover - not reached


def test_tmpfile_a_failed_suspend_fails_the_upload_and_removes_the_file(tmp_path: Path) -> None:
    up = Uploader(TmpFileWriter(), TmpFileOpts(dir=tmp_path), resumable=True)
    up.__enter__()
    up.send(Chunk(b"gathered"))
    os.close(up.state.fd)  # the gathered bytes cannot be written out
    with pytest.raises(WriterFailure, match="suspend failed"):
        up.__exit__(None, None, None)
    assert list(tmp_path.iterdir()) == []


def test_tmpfile_a_terminated_upload_is_resumed_and_cancelled_l18(tmp_path: Path) -> None:
    with Uploader(TmpFileWriter(), TmpFileOpts(dir=tmp_path), resumable=True) as up:
        up.send(Chunk(b"abc"))
    with Uploader.resume(TmpFileWriter(), through_json(up.saved())) as ending:
        ending.send(Cancel())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.anyio
async def test_tmpfile_through_threaded_writer(tmp_path: Path) -> None:
    writer = ThreadedWriter(TmpFileWriter())
    async with AsyncUploader(writer, TmpFileOpts(dir=tmp_path), resumable=True) as up:
        await up.send(Chunk(b"abc"))
    async with AsyncUploader.resume(writer, through_json(up.saved())) as again:
        await again.send(Chunk(b"def"))
        await again.send(Done())
    assert Path(str(again.meta()["path"])).read_bytes() == b"abcdef"


# --- S3Writer, AsyncS3Writer --------------------------------------------------------------------


def test_s3_suspends_its_tail_to_s3_and_resumes_from_list_parts(s3: S3) -> None:
    data = os.urandom(12 * MiB + 7)
    opts = S3Opts(s3.bucket, "big", client=s3.client, part_size=5 * MiB)
    with Uploader(S3Writer(), opts, resumable=True) as up:
        up.send(Chunk(data[: 7 * MiB]))  # one part sent, 2 MiB in the buffer
    saved = through_json(up.saved())
    assert saved.writer["tail"] == f"big.tail/{7 * MiB}"  # type: ignore[index]
    assert s3.read(f"big.tail/{7 * MiB}") == data[5 * MiB : 7 * MiB]
    # A process killed before it could suspend sent another part: it is ignored.
    crashed = Uploader.resume(S3Writer(client=s3.client), saved)
    crashed.__enter__()
    crashed.send(Chunk(b"X" * 4 * MiB))
    # Any process with the bucket resumes: nothing but the saved data crosses.
    with Uploader.resume(S3Writer(client=s3.client), saved) as again:
        again.send(Chunk(data[7 * MiB :]))
        again.send(Done())
    assert s3.read("big") == data
    assert s3.objects() == ["big"]  # the tails are deleted
    assert s3.in_progress() == []


def test_s3_a_small_upload_is_all_tail_and_a_terminated_one_leaves_nothing(s3: S3) -> None:
    opts = S3Opts(s3.bucket, "small", client=s3.client)
    with Uploader(S3Writer(), opts, resumable=True) as up:
        up.send(Chunk(b"abc"))
    saved = through_json(up.saved())
    assert saved.writer["upload_id"] is None  # type: ignore[index]
    with Uploader.resume(S3Writer(client=s3.client), saved) as ending:
        ending.send(Cancel())
    assert s3.leaks() == []


def test_s3_resume_of_an_aborted_upload_is_a_resume_error(s3: S3) -> None:
    opts = S3Opts(s3.bucket, "aborted", client=s3.client, part_size=5 * MiB)
    with Uploader(S3Writer(), opts, resumable=True) as up:
        up.send(Chunk(b"x" * (5 * MiB + 1)))
    saved = up.saved()
    upload_id = saved.writer["upload_id"]  # type: ignore[index]
    s3.client.abort_multipart_upload(Bucket=s3.bucket, Key="aborted", UploadId=upload_id)
    with (
        pytest.raises(ResumeError, match="ListParts"),
        Uploader.resume(S3Writer(client=s3.client), saved),
    ):
        pass  # pragma: no cover - not reached
    with (
        pytest.raises(ResumeError, match="not a saved S3 upload"),
        Uploader.resume(S3Writer(client=s3.client), SavedUpload(0, None, None, {"bucket": 3})),
    ):
        pass  # pragma: no cover - not reached
    s3.client.delete_object(Bucket=s3.bucket, Key=f"aborted.tail/{5 * MiB + 1}")


@pytest.mark.anyio
async def test_async_s3_suspends_and_resumes(s3: S3) -> None:
    data = os.urandom(6 * MiB)
    opts = S3Opts(s3.bucket, "async", client=s3.client, part_size=5 * MiB)
    async with AsyncUploader(AsyncS3Writer(), opts, resumable=True) as up:
        await up.send(Chunk(data[: 5 * MiB + 10]))
    async with AsyncUploader.resume(AsyncS3Writer(client=s3.client), through_json(up.saved())) as a:
        await a.send(Chunk(data[5 * MiB + 10 :]))
        await a.send(Done())
    assert s3.read("async") == data
    assert s3.objects() == ["async"]


# --- the writers that are not resumable -----------------------------------------------------------


@pytest.mark.parametrize(
    "writer",
    [HashWriter(), MemoryWriter(), TeeWriter(TmpFileWriter(), HashWriter()), HttpForwardWriter()],
    ids=["hash", "memory", "tee", "forward"],
)
def test_writers_that_cannot_be_resumed_are_refused_with_resumable_true(writer: Any) -> None:
    with pytest.raises(TypeError, match="suspend is missing; resume is missing"):
        Uploader(writer, None, resumable=True)
