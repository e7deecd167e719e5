"""tus's rarer paths: the S3 store in process, storage that fails, a lost lock file, bad records.

Real components on 127.0.0.1 (uvicorn, moto's S3 server); the failing
destinations are resumable writers that break on purpose.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from uploadwriter import Cancel, CloseReason, Err, InlineWriter, Ok
from uploadwriter.tus import FileLocker, FileStore, Locked, S3Store, Stored, TusEndpoint
from uploadwriter.web import create_app
from uploadwriter.writers import TmpFileState, TmpFileWriter

from .s3_server import S3, MiB, moto_endpoint, s3
from .test_tus_serve import TUS, create, listed, offset, patch
from .web_support import uvicorn_server

__all__ = ("moto_endpoint", "s3")  # fixtures


def test_the_s3_store_in_a_server_process(tmp_path: Path, s3: S3) -> None:
    store = S3Store(s3.client, s3.bucket, part_size=5 * MiB, lock_directory=tmp_path / "locks")
    data = os.urandom(11 * MiB)
    with uvicorn_server(create_app(tmp_path / "dir", tus_store=store)) as host:
        base = f"http://{host}"
        url = create(base, len(data), **{"Upload-Metadata": "filename czMuYmlu"})
        assert patch(url, 0, data[: 7 * MiB]).status_code == 204  # a checkpoint at 5 MiB
        assert offset(url) == 7 * MiB
        assert patch(url, 7 * MiB, data[7 * MiB :]).status_code == 204
        (record,) = listed(base)
        upload_id = url.rsplit("/", 1)[1]
        assert record["location"] == f"s3://{s3.bucket}/tus/{upload_id}"
        assert record["sha256"] == hashlib.sha256(data).hexdigest()
        assert record["client_name"] == "s3.bin"
        assert "path" not in record
        assert s3.read(f"tus/{upload_id}") == data
        # The record in S3 keeps the result too: a listing shared by every server.
        info = json.loads(s3.read(f"tus/{upload_id}.info"))
        assert info["state"] == "completed"
        assert info["result"]["sha256"] == record["sha256"]
        # Termination of another upload removes its parts and tails from S3.
        other = create(base, 6 * MiB)
        assert patch(other, 0, b"x" * (5 * MiB + 3)).status_code == 204
        assert len(s3.in_progress()) == 1
        assert httpx.delete(other, headers=TUS).status_code == 204
        assert s3.in_progress() == []
        assert sorted(k for k in s3.objects() if ".tail/" in k) == []
        assert httpx.head(other, headers=TUS).status_code == 410
    endpoint = TusEndpoint(store, expires_after=1.0)
    assert anyio.run(endpoint.sweep) == []  # nothing expired: completed, and a tombstone
    assert sorted(anyio.run(store.ids)) == sorted([upload_id, other.rsplit("/", 1)[1]])
    assert anyio.run(endpoint.sweep, 1e12) == []  # the tombstone's own expiry has passed
    assert anyio.run(store.ids) == [upload_id]
    assert anyio.run(store.read, "../x") is None


class BreakingFiles(TmpFileWriter):
    """A TmpFileWriter that fails on a chunk holding b"FAIL" (a full disk, say)."""

    def write_chunk(self, data: bytes, state: TmpFileState) -> Ok[TmpFileState] | Err[TmpFileState]:
        if b"FAIL" in data:
            return Err(OSError("no space left on device"), state)
        return super().write_chunk(data, state)

    def close(
        self, state: TmpFileState, reason: CloseReason
    ) -> Ok[TmpFileState] | Err[TmpFileState]:
        return super().close(state, reason)


class BreakingStore(FileStore):
    """A FileStore over BreakingFiles."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self._writer = InlineWriter(BreakingFiles())


def test_a_writer_failure_removes_the_upload_and_answers_500(tmp_path: Path) -> None:
    store = BreakingStore(tmp_path / "tus")
    with uvicorn_server(create_app(tmp_path / "dir", tus_store=store)) as host:
        url = create(f"http://{host}", 10)
        assert patch(url, 0, b"ab").status_code == 204
        failed = patch(url, 2, b"FAIL")
        assert failed.status_code == 500
        assert "the upload failed and was removed" in failed.json()["error"]["message"]
        assert httpx.head(url, headers=TUS).status_code == 410
    assert list((tmp_path / "tus" / "data").iterdir()) == []


def test_an_upload_whose_data_is_gone_answers_500_and_stays(tmp_path: Path) -> None:
    with uvicorn_server(create_app(tmp_path / "dir")) as host:
        url = create(f"http://{host}", 10)
        assert patch(url, 0, b"ab").status_code == 204
        for path in (tmp_path / "dir" / ".uploadwriter" / "tus" / "data").iterdir():
            path.unlink()  # the storage lost it
        answer = patch(url, 2, b"cd")
        assert answer.status_code == 500
        assert "could not be resumed" in answer.json()["error"]["message"]
        assert offset(url) == 2
        assert httpx.delete(url, headers=TUS).status_code == 204  # still removable


def test_a_failing_on_complete_answers_500(tmp_path: Path) -> None:
    async def refuse(info: Any, meta: Mapping[str, object]) -> Mapping[str, object]:
        raise OSError("the archive is full")

    endpoint = TusEndpoint(FileStore(tmp_path / "tus"), on_complete=refuse)
    from starlette.applications import Starlette
    from starlette.routing import Mount

    with uvicorn_server(Starlette(routes=[Mount("/files", app=endpoint)])) as host:
        url = create(f"http://{host}", 3)
        answer = patch(url, 0, b"abc")
        assert answer.status_code == 500
        assert "could not be kept: the archive is full" in answer.json()["error"]["message"]


def test_a_lock_file_removed_under_a_waiting_request_is_taken_anew(tmp_path: Path) -> None:
    import fcntl

    locker = FileLocker(tmp_path, wait=0.1)
    real = fcntl.flock
    removed: list[bool] = []

    def flock_after_a_removal(fd: int, operation: int) -> None:
        if not removed:
            removed.append(True)
            locker.forget("abc")  # between our open and our lock, as a DELETE would
        real(fd, operation)

    with pytest.MonkeyPatch.context() as patcher:
        patcher.setattr(fcntl, "flock", flock_after_a_removal)
        lock = locker.try_acquire("abc")
    assert lock is not None
    assert (tmp_path / "abc.lock").exists()  # the lock is on the file that is there
    with pytest.raises(Locked, match="locked by another request"):
        anyio.run(locker.acquire, "abc")
    lock.release()
    lock.release()  # twice is harmless
    anyio.run(locker.acquire, "abc")


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"id": "a"},
        {
            "id": "a",
            "length": 1,
            "offset": 0,
            "metadata": [],
            "expires": None,
            "state": "odd",
            "saved": None,
        },
    ],
)
def test_a_record_that_is_not_one_is_refused(data: object) -> None:
    with pytest.raises(ValueError, match=r"not an upload record|unknown state"):
        Stored.from_dict(data)


def test_a_saved_path_outside_the_store_is_refused(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    for path in ("/etc/passwd", "../outside"):
        answer = anyio.run(store.writer.resume, {"path": path, "size": 0})
        assert isinstance(answer, Err)
        assert "not a file of the store" in str(answer.reason)
    answer = anyio.run(store.writer.resume, "not a saved form")
    assert isinstance(answer, Err)
    assert "not a saved TmpFileWriter upload" in str(answer.reason)


def test_a_failed_suspend_in_the_file_store_is_an_err(tmp_path: Path) -> None:
    store = FileStore(tmp_path)

    async def run() -> object:
        started = await store.writer.init(store.writer_opts("abc"))
        assert isinstance(started, Ok)
        written = await store.writer.write_chunk(b"gathered", started.state)
        assert isinstance(written, Ok)
        os.close(written.state.fd)  # the gathered bytes cannot be written out
        answer = await store.writer.suspend(written.state)
        await store.writer.close(written.state, Cancel())
        return answer

    assert isinstance(anyio.run(run), Err)


def test_other_scopes_are_ignored(tmp_path: Path) -> None:
    endpoint = TusEndpoint(FileStore(tmp_path))

    async def never(*args: Any) -> Any:
        raise AssertionError  # pragma: no cover

    async def serve() -> None:
        await endpoint({"type": "lifespan"}, never, never)

    anyio.run(serve)


def test_the_sweep_skips_a_locked_upload_and_removes_file_tombstones(tmp_path: Path) -> None:
    store = FileStore(tmp_path, lock_wait=0.05)
    endpoint = TusEndpoint(store, expires_after=10.0)
    with uvicorn_server(create_app(tmp_path / "dir", tus_store=store)) as host:
        url = create(f"http://{host}", 5)
        patch(url, 0, b"ab")
    upload_id = url.rsplit("/", 1)[1]
    lock = anyio.run(store.locker.acquire, upload_id)
    assert anyio.run(endpoint.sweep, 1e12) == []  # held by a request: it meets the expiry itself
    lock.release()
    assert anyio.run(endpoint.sweep, 1e12) == [upload_id]
    tombstone = anyio.run(store.read, upload_id)
    assert tombstone is not None
    assert tombstone.info.state == "terminated"
    assert anyio.run(endpoint.sweep, 1e13) == []
    assert anyio.run(store.ids) == []
    assert not (tmp_path / f"{upload_id}.lock").exists()
    assert anyio.run(store.read, "../etc") is None


def test_a_record_that_cannot_be_written_leaves_no_temp_file(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    from uploadwriter.tus import UploadInfo

    unwritable = Stored(UploadInfo("abc", 1, 0), None, {"not json": object()})
    with pytest.raises(TypeError):
        anyio.run(store.write, unwritable)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


class FailingSweepStore(FileStore):
    """A FileStore whose listing fails (a flaky network file system)."""

    async def ids(self) -> list[str]:
        raise OSError("the listing failed")


def test_a_failed_sweep_is_logged_and_the_request_is_served(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = FailingSweepStore(tmp_path / "tus")
    with uvicorn_server(create_app(tmp_path / "dir", tus_store=store)) as host:
        create(f"http://{host}", 3)
    assert "the sweep of expired uploads failed" in caplog.text


def test_an_endpoint_without_on_complete_completes_uploads(tmp_path: Path) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    store = FileStore(tmp_path / "tus")
    endpoint = TusEndpoint(store)
    with uvicorn_server(Starlette(routes=[Mount("/files", app=endpoint)])) as host:
        url = create(f"http://{host}", 3)
        assert patch(url, 0, b"abc").status_code == 204
    stored = anyio.run(store.read, url.rsplit("/", 1)[1])
    assert stored is not None
    assert (stored.info.state, stored.result) == ("completed", None)


def test_a_lock_error_other_than_held_is_raised_and_closes_the_descriptor(tmp_path: Path) -> None:
    import fcntl

    locker = FileLocker(tmp_path)

    def broken(fd: int, operation: int) -> None:
        raise OSError("no locks on this file system")

    before = len(os.listdir("/proc/self/fd"))
    with pytest.MonkeyPatch.context() as patcher:
        patcher.setattr(fcntl, "flock", broken)
        with pytest.raises(OSError, match="no locks"):
            locker.try_acquire("abc")
    assert len(os.listdir("/proc/self/fd")) == before


def test_s3_store_options(tmp_path: Path, s3: S3) -> None:
    with pytest.raises(TypeError, match="needs a locker, or a lock_directory"):
        S3Store(s3.client, s3.bucket)
    locker = FileLocker(tmp_path)
    store = S3Store(s3.client, s3.bucket, locker=locker)
    assert store.locker is locker
    assert store.checkpoint_every == 8 * MiB
    assert anyio.run(store.read, "nosuchupload") is None


@pytest.mark.parametrize(
    ("saved", "message"),
    [
        ("text", "not a saved S3 upload"),
        (
            {
                "bucket": "b",
                "key": "k",
                "upload_id": None,
                "part_size": 5 * MiB,
                "size": 5 * MiB + 1,
                "tail": "k.tail/1",
            },
            "no upload id",
        ),
        (
            {
                "bucket": "b",
                "key": "k",
                "upload_id": None,
                "part_size": 5 * MiB,
                "size": 3,
                "tail": None,
            },
            "no tail",
        ),
    ],
)
def test_s3_saved_forms_that_are_not_resumable(s3: S3, saved: object, message: str) -> None:
    from uploadwriter.writers._s3resume import resume_state

    with pytest.raises(ValueError, match=message):
        resume_state(s3.client, saved)


def test_s3_a_tail_of_the_wrong_size_is_refused(s3: S3) -> None:
    from uploadwriter.writers._s3calls import S3UploadError
    from uploadwriter.writers._s3resume import resume_state

    s3.client.put_object(Bucket=s3.bucket, Key="k.tail/3", Body=b"ab")
    saved = {
        "bucket": s3.bucket,
        "key": "k",
        "upload_id": None,
        "part_size": 5 * MiB,
        "size": 3,
        "tail": "k.tail/3",
    }
    with pytest.raises(S3UploadError, match="holds 2 bytes, not 3"):
        resume_state(s3.client, saved)
    s3.client.delete_object(Bucket=s3.bucket, Key="k.tail/3")


@pytest.mark.parametrize("asynchronous", [False, True], ids=["S3Writer", "AsyncS3Writer"])
def test_s3_a_failed_suspend_fails_the_upload(s3: S3, asynchronous: bool) -> None:
    from uploadwriter import AsyncUploader, Chunk, Uploader, WriterFailure
    from uploadwriter.writers import AsyncS3Writer, S3Opts, S3Writer

    opts = S3Opts("no-such-bucket", "k", client=s3.client)
    if asynchronous:

        async def run() -> None:
            async with AsyncUploader(AsyncS3Writer(), opts, resumable=True) as up:
                await up.send(Chunk(b"abc"))

        with pytest.raises(WriterFailure, match=r"suspend failed.*NoSuchBucket"):
            anyio.run(run)
    else:
        up = Uploader(S3Writer(), opts, resumable=True)
        up.__enter__()
        up.send(Chunk(b"abc"))
        with pytest.raises(WriterFailure, match=r"suspend failed.*NoSuchBucket"):
            up.__exit__(None, None, None)


def test_s3_async_resume_refused_and_parts_listed_page_by_page(
    s3: S3, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from uploadwriter import AsyncUploader, Chunk, Done, ResumeError, SavedUpload, Uploader
    from uploadwriter.writers import AsyncS3Writer, S3Opts, S3Writer, _s3resume

    async def refused() -> None:
        async with AsyncUploader.resume(
            AsyncS3Writer(client=s3.client), SavedUpload(0, None, None, "text")
        ):
            pass  # pragma: no cover - not reached

    with pytest.raises(ResumeError, match="not a saved S3 upload"):
        anyio.run(refused)
    monkeypatch.setattr(_s3resume, "_LISTED", 1)  # one part per ListParts page
    data = os.urandom(15 * MiB + 1)
    opts = S3Opts(s3.bucket, "paged", client=s3.client, part_size=5 * MiB)
    with Uploader(S3Writer(), opts, resumable=True) as up:
        up.send(Chunk(data[: 15 * MiB]))
    saved = up.saved()
    # A saved form that claims more parts than S3 holds is refused.
    claims = SavedUpload(20 * MiB, None, None, {**saved.writer, "size": 20 * MiB})  # type: ignore[dict-item]
    with (
        pytest.raises(ResumeError, match="part 4 of 5242880 bytes is not in S3"),
        Uploader.resume(S3Writer(client=s3.client), claims),
    ):
        pass  # pragma: no cover - not reached
    failing = S3Writer(client=s3.client)
    with Uploader.resume(failing, saved) as again:
        again.send(Chunk(data[15 * MiB :]))

        def refuse(**kwargs: object) -> object:
            raise OSError("the listing failed")

        monkeypatch.setattr(s3.client, "list_objects_v2", refuse)
        again.send(Done())
    monkeypatch.undo()
    assert s3.read("paged") == data
    assert "the tails of s3://" in caplog.text
