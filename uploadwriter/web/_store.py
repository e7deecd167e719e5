"""The store of ``uploadwriter serve``: files under server-chosen names, and a record of each.

Layout of the directory::

    DIR/<id><.ext>                        a completed upload (mode 0600)
    DIR/.uploadwriter/incoming/*.part     uploads in progress (removed if they fail)
    DIR/.uploadwriter/records/<id>.json   one record per completed upload

An upload is written to ``incoming/`` by a tee of a temp-file writer and a
sha256 writer (so it is hashed on the way), then kept: renamed into ``DIR`` and recorded, the
record written to a temp file and renamed into place. Each step is atomic, so
that several processes can share the directory (the records need no lock: one
file each), and a listing never shows a half-written upload. The name of a
stored file is the server's (a random id, and the client's extension when it is
short and plain); the client's name is only ever kept as text, in the record.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import tempfile
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, cast

from .._adapters import InlineWriter
from ..uploads import UploadEntry
from ..writers import HashOpts, HashWriter, TeeWriter, TmpFileOpts, TmpFileWriter
from ._files import FilePart, ReceivedFile
from ._names import safe_client_name, safe_extension, safe_text

__all__ = ("Store",)

logger = logging.getLogger("uploadwriter.web")

#: What a record shows a client (``GET /uploads``, the answer to an upload).
Record = dict[str, Any]
#: The store's writer: a temp file and its sha256, as the bytes arrive.
StoreWriter = InlineWriter[tuple[TmpFileOpts, HashOpts], Any]
StoreOpts = tuple[TmpFileOpts, HashOpts]


def stored(meta: Mapping[str, object]) -> tuple[str, str]:
    """The path and the sha256 in the meta of the store's writer (a tee: file, then hash)."""
    children = cast("tuple[Mapping[str, object], Mapping[str, object]]", meta["writers"])
    file_meta, hash_meta = children
    return str(file_meta["path"]), str(hash_meta["hexdigest"])


class Store:
    """Completed uploads in one directory, each recorded; safe to share between processes.

    Raises:
        OSError: the directory cannot be created or written to.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory).resolve()
        self._incoming = self.directory / ".uploadwriter" / "incoming"
        self._records = self.directory / ".uploadwriter" / "records"
        self._incoming.mkdir(parents=True, exist_ok=True)
        self._records.mkdir(parents=True, exist_ok=True)
        self._writer: StoreWriter = InlineWriter(TeeWriter(TmpFileWriter(), HashWriter()))
        self._opts: StoreOpts = (
            TmpFileOpts(dir=self._incoming, prefix="", suffix=".part"),
            HashOpts("sha256"),
        )
        self._last_ns = 0

    # --- writing ----------------------------------------------------------------

    def writer(self, part: FilePart | None = None) -> tuple[StoreWriter, StoreOpts]:
        """The writer of one upload and its opts: a temp file in ``incoming/``, hashed.

        It runs on the event loop (:class:`~uploadwriter.InlineWriter`), as a
        bare ``request.stream()`` loop writing a file does: buffered writes go
        to the page cache, and a worker thread per chunk would cost more
        than the write (see ``bench/``).
        """
        return self._writer, self._opts

    def entry_writer(self, name: str, entry: UploadEntry) -> tuple[StoreWriter, StoreOpts]:
        """:meth:`writer` as an :class:`~uploadwriter.UploadConfig` writer factory."""
        return self.writer()

    def keep(
        self, meta: Mapping[str, object], *, client_name: str, content_type: str, via: str
    ) -> Record:
        """Keep a completed upload of the store's writer (its meta: a tee's, file then sha256)."""
        path, sha256 = stored(meta)
        return self.keep_file(
            path, sha256, client_name=client_name, content_type=content_type, via=via
        )

    def keep_file(
        self, source: str, sha256: str, *, client_name: str, content_type: str, via: str
    ) -> Record:
        """Move a completed file into the directory and record it; return its record.

        ``source`` must be on the directory's file system (``incoming/`` is), so
        that the move is a rename. Any route that completes uploads (tus, say)
        keeps them this way, and ``GET /uploads`` lists them with the others.

        Raises:
            OSError: the file cannot be moved or the record written (then
                neither is left in the directory).
            TypeError: a name or the content type is not a string.
        """
        # Whatever can fail on the caller's values fails before the file moves.
        name = safe_client_name(client_name)
        content = safe_text(content_type)
        upload_id = self._new_id()
        name_on_disk = upload_id + safe_extension(name)
        target = self.directory / name_on_disk
        os.rename(source, target)
        try:
            record = {
                "id": upload_id,
                "client_name": name,
                "content_type": content,
                "size": target.stat().st_size,
                "sha256": sha256,
                "file": name_on_disk,
                "via": via,
                "uploaded_at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            }
            self._write_record(upload_id, record)
        except BaseException:
            _remove(target)
            raise
        return self._public(record)

    def keep_remote(
        self,
        location: str,
        size: int,
        sha256: str,
        *,
        client_name: str,
        content_type: str,
        via: str,
    ) -> Record:
        """Record a completed upload that stays elsewhere (an S3 object): listed, never moved.

        Its record has ``"location"`` (such as ``s3://bucket/key``) instead of a path.

        Raises:
            OSError: the record cannot be written.
            TypeError: a name, the location or the content type is not a string.
        """
        name = safe_client_name(client_name)
        upload_id = self._new_id()
        record = {
            "id": upload_id,
            "client_name": name,
            "content_type": safe_text(content_type),
            "size": size,
            "sha256": sha256,
            "location": safe_text(location),
            "via": via,
            "uploaded_at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        }
        self._write_record(upload_id, record)
        return dict(record)

    def _new_id(self) -> str:
        # The time first, so that ids sort in the order uploads were kept (in
        # one process strictly: the files of one request keep their order);
        # random bits after it, so that processes sharing the directory never
        # pick the same id.
        now = max(time.time_ns(), self._last_ns + 1)
        self._last_ns = now
        return f"{now:016x}{secrets.token_hex(8)}"

    def _write_record(self, upload_id: str, record: Record) -> None:
        fd, temp = tempfile.mkstemp(dir=self._records, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump(record, file, ensure_ascii=False)
            os.replace(temp, self._records / f"{upload_id}.json")
        except BaseException:
            _remove(temp)
            raise

    def keep_all(self, files: Sequence[ReceivedFile], *, via: str) -> list[Record]:
        """Keep every file of one request, or none: on a failure, undo, discard, re-raise.

        Raises:
            OSError: a file cannot be kept (none of them is).
        """
        kept: list[Record] = []
        try:
            for file in files:
                record = self.keep(
                    file.meta, client_name=file.client_name, content_type=file.content_type, via=via
                )
                kept.append(record)
        except BaseException:
            for record in kept:
                self.forget(record["id"])
            for file in files[len(kept) :]:
                file.discard()
            raise
        return kept

    def keep_entry(self, meta: Mapping[str, object], entry: UploadEntry) -> Record:
        """Keep an uploads-layer entry: a ``consume`` function for the WebSocket channel."""
        return self.keep(
            meta, client_name=entry.client_name, content_type=entry.client_type, via="websocket"
        )

    def forget(self, upload_id: str) -> None:
        """Remove an upload's record and its file (what :meth:`keep` made)."""
        record_path = self._records / f"{upload_id}.json"
        record = self._read(record_path)
        _remove(record_path)
        if record is not None and record["file"]:
            _remove(self.directory / record["file"])

    # --- reading ----------------------------------------------------------------

    def uploads(self) -> list[Record]:
        """Every completed upload whose file is still there, in the order they were kept."""
        records = []
        for path in self._records.glob("*.json"):
            record = self._read(path)
            if record is not None and (
                "location" in record or (self.directory / record["file"]).is_file()
            ):
                records.append(record)
        records.sort(key=lambda r: r["id"])
        return [self._public(record) for record in records]

    def _read(self, path: Path) -> Record | None:
        try:
            with path.open(encoding="utf-8") as file:
                record: object = json.load(file)
        except (OSError, ValueError) as exc:
            logger.warning("uploadwriter serve: skipping the unreadable record %s: %s", path, exc)
            return None
        if isinstance(record, dict) and isinstance(record.get("location"), str):
            record.setdefault("file", "")  # kept elsewhere (keep_remote): no file here
        if not (
            isinstance(record, dict)
            and all(isinstance(record.get(key), str) for key in _TEXT)
            and (_is_stored_name(record["file"]) or "location" in record)
        ):
            logger.warning("uploadwriter serve: skipping the invalid record %s", path)
            return None
        return record

    def _public(self, record: Record) -> Record:
        public = {key: value for key, value in record.items() if key != "file"}
        if "location" not in record:
            public["path"] = str(self.directory / record["file"])
        return public


# The text fields a record must have, to be listed and to find its file.
_TEXT = ("id", "client_name", "sha256", "file", "uploaded_at")


def _is_stored_name(name: str) -> bool:
    # A file directly in the directory: never a path elsewhere, even from an edited record.
    return name not in ("", ".", "..") and "/" not in name and os.sep not in name


def _remove(path: str | os.PathLike[str]) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
