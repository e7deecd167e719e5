"""``S3Store``: tus uploads kept in S3, so that servers on any machine can resume them."""

from __future__ import annotations

import json
import os
from typing import Any

import anyio.to_thread

from .._protocols import AsyncResumableWriter
from ..writers import AsyncS3Writer, S3Opts
from ._locks import FileLocker, Locker
from ._stores import Stored, valid_id

__all__ = ("S3Store",)

_INFO = ".info"


class S3Store:
    """Uploads in an S3 bucket: the record, the parts and the tail of each live in S3 itself.

    Layout, under ``prefix``::

        <prefix><id>.info          the record (JSON), put at each checkpoint
        <prefix><id>               the object, once completed (a multipart upload before)
        <prefix><id>.tail/<size>   the bytes past the last full part, while suspended

    The multipart upload's parts are not recorded: ``ListParts`` gives them
    back on resume (see :class:`~uploadwriter.writers.S3Writer`). Checkpoints
    fall on part boundaries (``checkpoint_every`` is ``part_size``), where the
    tail is empty: a checkpoint costs a part's upload, which happens anyway,
    and one small ``PutObject`` of the record.

    Locks are not S3's: ``locker`` must be shared by every server (default: a
    :class:`FileLocker` in ``lock_directory``, which serves the processes of
    one machine, or of several if the directory is on a file system whose
    locks hold between them). ``client`` is a boto3 S3 client.
    """

    def __init__(
        self,
        client: Any,
        bucket: str,
        *,
        prefix: str = "tus/",
        part_size: int = 8 * 2**20,
        locker: Locker | None = None,
        lock_directory: str | os.PathLike[str] | None = None,
    ) -> None:
        if locker is None:
            if lock_directory is None:
                raise TypeError("S3Store needs a locker, or a lock_directory for a FileLocker")
            locker = FileLocker(lock_directory)
        S3Opts(bucket, f"{prefix}x", client=client, part_size=part_size)  # checks them
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.part_size = part_size
        self._locker = locker
        self._writer = AsyncS3Writer(client=client)

    @property
    def locker(self) -> Locker:
        """The locks shared by every server."""
        return self._locker

    @property
    def writer(self) -> AsyncResumableWriter[Any, Any, Any]:
        """An :class:`~uploadwriter.writers.AsyncS3Writer` (resumable)."""
        return self._writer

    @property
    def checkpoint_every(self) -> int:
        """``part_size``: a checkpoint on each part boundary."""
        return self.part_size

    def writer_opts(self, upload_id: str) -> S3Opts:
        """The object ``<prefix><id>``, in parts of ``part_size``."""
        return S3Opts(
            self.bucket, f"{self.prefix}{upload_id}", client=self.client, part_size=self.part_size
        )

    async def read(self, upload_id: str) -> Stored | None:
        """The record (``GetObject``), or ``None``."""
        if not valid_id(upload_id):
            return None

        def get() -> bytes | None:
            try:
                response = self.client.get_object(
                    Bucket=self.bucket, Key=f"{self.prefix}{upload_id}{_INFO}"
                )
            except self.client.exceptions.NoSuchKey:
                return None
            body: bytes = response["Body"].read()
            return body

        data = await anyio.to_thread.run_sync(get)
        return None if data is None else Stored.from_dict(json.loads(data))

    async def write(self, stored: Stored) -> None:
        """Put the record (a ``PutObject`` replaces an object whole)."""
        body = json.dumps(stored.as_dict()).encode()
        key = f"{self.prefix}{stored.info.id}{_INFO}"
        await anyio.to_thread.run_sync(
            lambda: self.client.put_object(Bucket=self.bucket, Key=key, Body=body)
        )

    async def remove(self, upload_id: str) -> None:
        """Delete the record."""
        key = f"{self.prefix}{upload_id}{_INFO}"
        await anyio.to_thread.run_sync(
            lambda: self.client.delete_object(Bucket=self.bucket, Key=key)
        )
        self._locker.forget(upload_id)

    async def ids(self) -> list[str]:
        """Every upload with a record (``ListObjectsV2``, paged)."""

        def listing() -> list[str]:
            found: list[str] = []
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix
            )
            for page in pages:
                for item in page.get("Contents", ()):
                    name = str(item["Key"])[len(self.prefix) :]
                    if name.endswith(_INFO) and valid_id(name[: -len(_INFO)]):
                        found.append(name[: -len(_INFO)])
            return found

        return await anyio.to_thread.run_sync(listing)
