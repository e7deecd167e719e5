"""Suspending and resuming an S3 upload: everything needed lives in S3 itself.

A suspended upload is saved as plain data: the bucket and key, the multipart
upload id, the part size, the size, and the extra args. Its sent parts are
not saved: S3 lists them (``ListParts``), so a server that lost its disk can
still resume. The bytes past the last full part (fewer than ``part_size``,
which S3 would not take as a part but the last) are put in an object of
their own, the *tail*, at ``<key>.tail/<size>``: a key per size, so that a
suspension whose bytes are then dropped (a checksum mismatch) never
overwrites the tail an older saved form names. Resuming reads the tail back
into the part buffer. Closing a resumed upload, whichever way, deletes every
tail of its key.

Each sent part is ``part_size`` bytes, so a saved size says which parts
count: the first ``size // part_size``. Parts with higher numbers (sent by a
process killed before it could suspend) are ignored, and sent again.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Mapping
from typing import Any

from .._errors import safe_repr
from ._s3calls import MAX_PART_SIZE, MIN_PART_SIZE, Part, S3State, S3UploadError

__all__ = ("delete_tails", "resume_state", "suspend_state", "tail_key")

log = logging.getLogger("uploadwriter.writers")

_LISTED = 1000  # parts per ListParts page, S3's most


def tail_key(key: str, size: int) -> str:
    """Where the tail of a suspended upload of ``key`` at ``size`` bytes is kept."""
    return f"{key}.tail/{size}"


def _call(client: Any, bucket: str, key: str, operation: str, method: str, **kw: object) -> Any:
    try:
        return getattr(client, method)(Bucket=bucket, **kw)
    except Exception as exc:
        raise S3UploadError(operation, bucket, key, exc) from exc


def suspend_state(state: S3State) -> dict[str, object]:
    """Put the tail (if any) in S3; release the buffer; return the saved form.

    Raises:
        S3UploadError: the tail could not be put.
    """
    tail = None
    if state.buffered:
        tail = tail_key(state.key, state.size)
        _call(
            state.client,
            state.bucket,
            state.key,
            "PutObject",
            "put_object",
            Key=tail,
            Body=state.buffer.getvalue(),
        )
    state.buffer.close()
    return {
        "bucket": state.bucket,
        "key": state.key,
        "upload_id": state.upload_id,
        "part_size": state.part_size,
        "size": state.size,
        "args": dict(state.args),
        "tail": tail,
    }


def _saved(saved: object) -> tuple[str, str, str | None, int, int, dict[str, object], str | None]:
    if not isinstance(saved, Mapping):
        raise ValueError(f"not a saved S3 upload: {safe_repr(saved)}")  # noqa: TRY004 - data
    bucket, key, upload_id = saved.get("bucket"), saved.get("key"), saved.get("upload_id")
    part_size, size, args, tail = (
        saved.get("part_size"),
        saved.get("size"),
        saved.get("args", {}),
        saved.get("tail"),
    )
    if not (
        isinstance(bucket, str)
        and isinstance(key, str)
        and (upload_id is None or isinstance(upload_id, str))
        and isinstance(part_size, int)
        and MIN_PART_SIZE <= part_size <= MAX_PART_SIZE
        and isinstance(size, int)
        and size >= 0
        and isinstance(args, Mapping)
        and (tail is None or isinstance(tail, str))
    ):
        raise ValueError(f"not a saved S3 upload: {safe_repr(saved)}")
    return bucket, key, upload_id, part_size, size, dict(args), tail


def _listed_parts(client: Any, bucket: str, key: str, upload_id: str, count: int) -> list[Any]:
    """The first ``count`` parts S3 holds for the upload, in order (``ListParts``, paged)."""
    found: dict[int, Any] = {}
    marker = 0
    while True:
        page = _call(
            client,
            bucket,
            key,
            "ListParts",
            "list_parts",
            Key=key,
            UploadId=upload_id,
            MaxParts=_LISTED,
            PartNumberMarker=marker,
        )
        for part in page.get("Parts", ()):
            found[int(part["PartNumber"])] = part
        if not page.get("IsTruncated") or len(found) >= count:
            break
        marker = int(page["NextPartNumberMarker"])
    return [found.get(number) for number in range(1, count + 1)]


def resume_state(client: Any, saved: object) -> S3State:
    """The state of a suspended upload, from S3: its parts listed, its tail read back.

    Raises:
        ValueError: ``saved`` is not a saved S3 upload.
        S3UploadError: S3 does not hold what ``saved`` needs (the upload was
            completed or aborted, a part or the tail is missing or of the wrong size).
    """
    bucket, key, upload_id, part_size, size, args, tail = _saved(saved)
    count, rest = divmod(size, part_size)
    parts: list[Part] = []
    if count:
        if upload_id is None:
            raise ValueError(f"not a saved S3 upload: {size} bytes but no upload id")
        algorithm = args.get("ChecksumAlgorithm")
        member = f"Checksum{algorithm.upper()}" if isinstance(algorithm, str) else None
        for number, part in enumerate(_listed_parts(client, bucket, key, upload_id, count), 1):
            if part is None or int(part["Size"]) != part_size:
                missing = ValueError(f"part {number} of {part_size} bytes is not in S3")
                raise S3UploadError("ListParts", bucket, key, missing)
            checksums = ((member, part[member]),) if member and member in part else ()
            parts.append(Part(number, part["ETag"], checksums))
    buffer = io.BytesIO()
    if rest:
        if tail is None:
            raise ValueError(f"not a saved S3 upload: {rest} bytes past the parts but no tail")
        response = _call(client, bucket, key, "GetObject", "get_object", Key=tail)
        data = response["Body"].read()
        if len(data) != rest:
            wrong = ValueError(f"the tail {tail} holds {len(data)} bytes, not {rest}")
            raise S3UploadError("GetObject", bucket, key, wrong)
        buffer.write(data)
    return S3State(
        bucket,
        key,
        size,
        part_size,
        args,
        client,
        buffer,
        upload_id,
        tuple(parts),
        None,
        resumed=True,
    )


def delete_tails(state: S3State) -> None:
    """Delete every tail of the upload's key (best effort: a failure is logged)."""
    prefix = tail_key(state.key, 0)[:-1]
    try:
        listing = _call(
            state.client,
            state.bucket,
            state.key,
            "ListObjectsV2",
            "list_objects_v2",
            Prefix=prefix,
        )
        for item in listing.get("Contents", ()):
            with contextlib.suppress(S3UploadError):
                _call(
                    state.client,
                    state.bucket,
                    state.key,
                    "DeleteObject",
                    "delete_object",
                    Key=item["Key"],
                )
    except S3UploadError as exc:
        log.warning("uploadwriter: the tails of s3://%s/%s stay: %s", state.bucket, state.key, exc)
