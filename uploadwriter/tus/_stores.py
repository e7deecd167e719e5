"""Where tus uploads are kept between requests: their records, their writer, their locks.

A store holds, for each upload, a record (:class:`Stored`: the protocol's
:class:`~uploadwriter.tus.UploadInfo` and the writer's saved form, a
:class:`~uploadwriter.SavedUpload` as plain data) next to the bytes
themselves, so that any process sharing the storage can resume the upload.
The resume point is the saved form: a process killed mid-request leaves the
bytes it wrote after it, and the next ``resume`` cuts them (L17).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import attrs

from .._adapters import InlineWriter
from .._protocols import AsyncResumableWriter
from .._results import Err, Ok
from .._saved import SavedUpload
from ..writers import TmpFileOpts, TmpFileState, TmpFileWriter
from ._locks import FileLocker, Locker
from ._values import UploadInfo

__all__ = ("FileStore", "Stored", "UploadStore", "valid_id")

_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_STATES = ("open", "completed", "terminated")


def valid_id(upload_id: str) -> bool:
    """Whether ``upload_id`` can name an upload (what a URL may carry to a store)."""
    return bool(_ID.fullmatch(upload_id))


def new_id() -> str:
    """A fresh upload id: 128 random bits, in hex."""
    return secrets.token_hex(16)


@attrs.frozen
class Stored:
    """One upload's record: what the protocol knows, and the writer's saved form.

    ``saved`` is ``None`` once the upload has ended (completed or terminated).
    ``result`` is what the completed upload became (a mapping the serve app
    fills: its sha256, where it was kept).
    """

    info: UploadInfo
    saved: SavedUpload | None
    result: Mapping[str, object] | None = None

    def as_dict(self) -> dict[str, object]:
        """The record as JSON data."""
        info = self.info
        return {
            "id": info.id,
            "length": info.length,
            "offset": info.offset,
            "metadata": [list(pair) for pair in info.metadata],
            "expires": info.expires,
            "state": info.state,
            "saved": None if self.saved is None else self.saved.as_dict(),
            "result": None if self.result is None else dict(self.result),
        }

    @classmethod
    def from_dict(cls, data: object) -> Stored:
        """Read back :meth:`as_dict`'s data.

        Raises:
            ValueError: ``data`` is not such a record.
        """
        if not isinstance(data, Mapping):
            raise ValueError("not an upload record")  # noqa: TRY004 - bad data, as from_dict says
        try:
            metadata = tuple((str(k), None if v is None else str(v)) for k, v in data["metadata"])
            state = data["state"]
            if state not in _STATES:
                raise ValueError(f"unknown state {state!r}")
            expires = data["expires"]
            info = UploadInfo(
                str(data["id"]),
                int(data["length"]),
                int(data["offset"]),
                metadata,
                None if expires is None else float(expires),
                state,
            )
            saved = None if data["saved"] is None else SavedUpload.from_dict(data["saved"])
            result = data.get("result")
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not an upload record: {exc}") from None
        return cls(info, saved, result if isinstance(result, Mapping) else None)


class UploadStore(Protocol):
    """What the tus endpoint needs of a store (:class:`FileStore`, :class:`S3Store`)."""

    @property
    def locker(self) -> Locker:
        """The locks on its uploads (shared by every process serving them)."""
        ...

    @property
    def writer(self) -> AsyncResumableWriter[Any, Any, Any]:
        """The resumable writer every upload is written with."""
        ...

    @property
    def checkpoint_every(self) -> int:
        """Bytes between checkpoints inside one request (the store's natural step)."""
        ...

    def writer_opts(self, upload_id: str) -> object:
        """The writer's opts for a new upload."""
        ...

    async def read(self, upload_id: str) -> Stored | None:
        """The record of ``upload_id``, or ``None`` if there is none."""
        ...

    async def write(self, stored: Stored) -> None:
        """Save the record (atomically: a reader sees the old one or the new one)."""
        ...

    async def remove(self, upload_id: str) -> None:
        """Remove the record of ``upload_id``."""
        ...

    async def ids(self) -> list[str]:
        """The ids of every upload that has a record."""
        ...


class FileStore:
    """Uploads in a directory: a JSON record, a lock file and the bytes of each.

    Layout::

        DIR/<id>.json        the record (replaced atomically at each save)
        DIR/<id>.lock        its flock(2) lock (see FileLocker)
        DIR/data/<id>-*.part the bytes (TmpFileWriter, resumable)

    Any process that sees ``DIR`` (a restart, a second server on the same
    machine, or a shared file system whose locks work) can resume any upload.
    The saved form names the data file relative to ``DIR``, so the directory
    may be mounted elsewhere. ``checkpoint_every``: bytes between checkpoints
    inside a long ``PATCH`` (see the docs for what each costs).

    Raises:
        OSError: the directory cannot be created.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        checkpoint_every: int = 8 * 2**20,
        lock_wait: float = 2.0,
    ) -> None:
        self.directory: Path = Path(directory).resolve()
        self._data = self.directory / "data"
        self._data.mkdir(parents=True, exist_ok=True)
        self._locker = FileLocker(self.directory, wait=lock_wait)
        self._writer = InlineWriter(_RelativeFileWriter(self.directory))
        self._checkpoint_every = checkpoint_every

    @property
    def locker(self) -> Locker:
        """flock(2) locks beside the records."""
        return self._locker

    @property
    def writer(self) -> AsyncResumableWriter[Any, Any, Any]:
        """A TmpFileWriter, on the event loop (buffered writes to the page cache)."""
        return self._writer

    @property
    def checkpoint_every(self) -> int:
        """Bytes between checkpoints inside one request."""
        return self._checkpoint_every

    def writer_opts(self, upload_id: str) -> TmpFileOpts:
        """A file in ``data/`` whose name starts with the upload's id."""
        return TmpFileOpts(dir=self._data, prefix=f"{upload_id}-", suffix=".part")

    def _record(self, upload_id: str) -> Path:
        return self.directory / f"{upload_id}.json"

    async def read(self, upload_id: str) -> Stored | None:
        """The record, or ``None`` (none, or an id no store could have made)."""
        if not valid_id(upload_id):
            return None
        try:
            text = self._record(upload_id).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        return Stored.from_dict(json.loads(text))

    async def write(self, stored: Stored) -> None:
        """Write the record to a temp file and rename it into place."""
        fd, temp = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump(stored.as_dict(), file)
            os.replace(temp, self._record(stored.info.id))
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise

    async def remove(self, upload_id: str) -> None:
        """Remove the record (and the lock file: call it holding the lock)."""
        with contextlib.suppress(FileNotFoundError):
            self._record(upload_id).unlink()
        self._locker.forget(upload_id)

    async def ids(self) -> list[str]:
        """Every upload with a record."""
        return sorted(p.stem for p in self.directory.glob("*.json") if valid_id(p.stem))


class _RelativeFileWriter(TmpFileWriter):
    """TmpFileWriter whose saved form names the file relative to the store's directory."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def suspend(self, state: TmpFileState) -> Ok[dict[str, object]] | Err[TmpFileState]:
        """Suspend, and name the file relative to the directory."""
        answer = super().suspend(state)
        if isinstance(answer, Err):
            return answer
        path = os.path.relpath(str(answer.state["path"]), self._directory)
        return Ok({**answer.state, "path": path})

    def resume(self, saved: object) -> Ok[TmpFileState] | Err[None]:
        """Resume the file the saved form names, if it is one of the directory's."""
        if isinstance(saved, Mapping) and isinstance(relative := saved.get("path"), str):
            if os.path.isabs(relative) or ".." in Path(relative).parts:
                return Err(ValueError(f"not a file of the store: {relative!r}"), None)
            saved = {**saved, "path": str(self._directory / relative)}
        return super().resume(saved)
