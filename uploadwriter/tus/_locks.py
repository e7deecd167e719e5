"""Locks on uploads that hold across processes: one request writes an upload at a time.

:class:`FileLocker` takes ``flock(2)`` locks on one file per upload, as tusd's
file locker does. The kernel releases a lock when its holder dies, even by
``kill -9``, so a crashed server never leaves an upload locked.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Protocol

import anyio

__all__ = ("FileLocker", "Lock", "Locked", "Locker")


class Locked(Exception):
    """Raised by a :class:`Locker` when another request holds the upload's lock (it waited)."""


class Lock(Protocol):
    """A held lock on one upload."""

    def release(self) -> None:
        """Let the next request take the upload."""
        ...


class Locker(Protocol):
    """Locks on uploads, shared by every process that serves them."""

    async def acquire(self, upload_id: str) -> Lock:
        """Take the lock of ``upload_id``, waiting a little if it is held.

        Raises:
            Locked: it is still held by another request.
        """
        ...

    def forget(self, upload_id: str) -> None:
        """Remove what the lock of a terminated upload left behind (while holding it)."""
        ...


class _FileLock:
    __slots__ = ("fd",)

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def release(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)  # closing the descriptor releases the flock


class FileLocker:
    """``flock(2)`` locks, one file per upload in ``directory``.

    Works for every process of one machine, and across machines on a shared
    file system whose locks are honoured between clients (NFSv4; check yours).
    ``wait``: seconds a request waits for a held lock before :class:`Locked`.

    Raises:
        OSError: ``directory`` cannot be created.
        RuntimeError: this platform has no ``flock`` (Windows).
    """

    def __init__(self, directory: str | os.PathLike[str], *, wait: float = 2.0) -> None:
        try:
            import fcntl  # noqa: F401 - POSIX only
        except ImportError as exc:  # pragma: no cover - Windows
            raise RuntimeError("FileLocker needs flock(2), which this platform lacks") from exc
        self.directory: Path = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.wait = wait

    def _path(self, upload_id: str) -> Path:
        return self.directory / f"{upload_id}.lock"

    def try_acquire(self, upload_id: str) -> Lock | None:
        """Take the lock if it is free; ``None`` if another holds it."""
        import fcntl

        path = self._path(upload_id)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return None
            # The file may have been removed (forget) between our open and our
            # lock: then we hold a lock on a file nobody else can see. Retry.
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
        except BaseException:
            with contextlib.suppress(OSError):
                os.close(fd)
            raise
        if not same:
            os.close(fd)
            return self.try_acquire(upload_id)
        return _FileLock(fd)

    async def acquire(self, upload_id: str) -> Lock:
        """Take the lock of ``upload_id``, polling for up to ``wait`` seconds.

        Raises:
            Locked: another request still holds it.
        """
        deadline = time.monotonic() + self.wait
        while True:
            lock = self.try_acquire(upload_id)
            if lock is not None:
                return lock
            if time.monotonic() >= deadline:
                raise Locked(f"upload {upload_id!r} is locked by another request")
            await anyio.sleep(0.02)

    def forget(self, upload_id: str) -> None:
        """Remove the lock file of a terminated upload (call it while holding the lock)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(upload_id))
