"""The tus endpoint of ``uploadwriter serve`` at ``/files/``: its uploads kept in the store."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import anyio.to_thread
from starlette.routing import BaseRoute, Mount, Route

from ..tus import (
    FileStore,
    Metadata,
    S3Store,
    TusEndpoint,
    UploadInfo,
    UploadStore,
    metadata_text,
)
from ..uploads import UploadConfig
from ._store import Store

__all__ = ("UploadStore", "sha256_file", "tus_routes")

_READ = 1 << 20
_METHODS = ["OPTIONS", "POST", "HEAD", "PATCH", "DELETE", "GET", "PUT"]


def sha256_file(path: str) -> str:
    """The sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb", buffering=0) as file:
        while block := file.read(_READ):
            digest.update(block)
    return digest.hexdigest()


def sha256_object(client: Any, bucket: str, key: str) -> str:
    """The sha256 of an S3 object, streamed in 1 MiB blocks."""
    digest = hashlib.sha256()
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    while block := body.read(_READ):
        digest.update(block)
    return digest.hexdigest()


def tus_routes(
    store: Store,
    tus_store: UploadStore | None,
    *,
    config: UploadConfig,
    max_file_size: int,
    chunk_timeout: float,
    expires_after: float | None,
) -> list[BaseRoute]:
    """``/files`` and ``/files/{id}``: a :class:`~uploadwriter.tus.TusEndpoint` over ``tus_store``.

    A completed upload is hashed once, when it completes: hashlib's state
    cannot be saved with a suspended upload, and hashing at the end reads
    each byte once, however often the upload was suspended and resumed.
    """
    if tus_store is None:
        tus_store = FileStore(store.directory / ".uploadwriter" / "tus")

    async def keep(info: UploadInfo, meta: Mapping[str, object]) -> Mapping[str, object]:
        name = _name(info.metadata)
        content_type = _type(info.metadata)
        path = meta.get("path")
        if not isinstance(path, str):
            # An S3 store: the object stays in S3; it is read once to be hashed.
            assert isinstance(tus_store, S3Store)
            bucket, key = str(meta["bucket"]), str(meta["key"])
            sha256 = await anyio.to_thread.run_sync(sha256_object, tus_store.client, bucket, key)

            def record() -> Mapping[str, object]:
                return store.keep_remote(
                    f"s3://{bucket}/{key}",
                    info.length,
                    sha256,
                    client_name=name or info.id,
                    content_type=content_type or "application/octet-stream",
                    via="tus",
                )

            return await anyio.to_thread.run_sync(record)
        sha256 = await anyio.to_thread.run_sync(sha256_file, path)

        def move() -> Mapping[str, object]:
            return store.keep_file(
                path,
                sha256,
                client_name=name or info.id,
                content_type=content_type or "application/octet-stream",
                via="tus",
            )

        return await anyio.to_thread.run_sync(move)

    def accept(metadata: Metadata) -> str | None:
        name = _name(metadata) or ""
        content_type = _type(metadata) or ""
        if config.accepts(name, content_type):
            return None
        return (
            f"{name or 'the file'} ({content_type or 'no filetype'}) is not accepted: "
            f"this server takes {', '.join(config.accept)}"
        )

    endpoint = TusEndpoint(
        tus_store,
        accept=None if config.accept == "any" else accept,
        max_size=max_file_size,
        chunk_timeout=chunk_timeout,
        expires_after=expires_after,
        on_complete=keep,
    )
    bare = _Mounted(endpoint, "/files")
    return [Route("/files", bare, methods=_METHODS), Mount("/files", app=endpoint)]


def _name(metadata: Metadata) -> str | None:
    """The client's name of the file: tus-js-client and tuspy send ``filename``; Uppy ``name``."""
    return metadata_text(metadata, "filename") or metadata_text(metadata, "name")


def _type(metadata: Metadata) -> str | None:
    return metadata_text(metadata, "filetype") or metadata_text(metadata, "type")


class _Mounted:
    """``/files`` without its slash: the endpoint itself, as it is under the mount."""

    def __init__(self, app: TusEndpoint, path: str) -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(
            {**scope, "root_path": scope.get("root_path", "") + self.path}, receive, send
        )
