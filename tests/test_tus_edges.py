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

from uploadwriter import CloseReason, Err, InlineWriter, Ok
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


def test_other_scopes_are_ignored(tmp_path: Path) -> None:
    endpoint = TusEndpoint(FileStore(tmp_path))

    async def never(*args: Any) -> Any:
        raise AssertionError  # pragma: no cover

    async def serve() -> None:
        await endpoint({"type": "lifespan"}, never, never)

    anyio.run(serve)
