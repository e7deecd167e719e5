"""S3's side of the S3 writers: options, state, and the blocking calls, one S3 request each.

Theory of operation
-------------------
An upload is buffered in memory one part at a time (``part_size`` bytes,
one ``io.BytesIO`` per open upload). Nothing is sent until a part is full:

* the first full part starts a multipart upload (``CreateMultipartUpload``)
  and is sent (``UploadPart``); each later full part is sent the same way;
* ``Done()``: with no multipart upload started, the whole upload (less than
  one part) goes as one ``PutObject``; otherwise the rest goes as the last,
  smaller part and ``CompleteMultipartUpload`` makes the object;
* ``Cancel()``, ``Error(...)``, or a failure on the way to ``Done()``:
  ``AbortMultipartUpload``, so no unfinished upload stays behind.

Each function below is one step: it takes a state, makes one S3 request,
and returns the next state (or raises :class:`S3UploadError`). The writers
in ``_s3.py`` only decide when to call them, and where (inline, or in a
worker thread for the async writer). Retries are botocore's.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs

from .._errors import safe_repr

__all__ = (
    "MAX_PART_SIZE",
    "MIN_PART_SIZE",
    "S3Opts",
    "S3State",
    "S3UploadError",
    "abort",
    "create",
    "default_client",
    "finish",
    "need_boto3",
    "send_part",
)

MiB = 2**20
MIN_PART_SIZE = 5 * MiB  #: S3's smallest part (all but the last)
MAX_PART_SIZE = 5 * 2**30  #: S3's largest part
MAX_PARTS = 10_000  #: S3's most parts in one upload

# How boto3's own upload_fileobj (s3transfer) routes ExtraArgs to each call.
_FULL_OBJECT_CHECKSUMS = frozenset(
    {
        "ChecksumCRC32",
        "ChecksumCRC32C",
        "ChecksumCRC64NVME",
        "ChecksumMD5",
        "ChecksumSHA1",
        "ChecksumSHA256",
        "ChecksumSHA512",
        "ChecksumXXHASH3",
        "ChecksumXXHASH64",
        "ChecksumXXHASH128",
    }
)
_PUT_BLOCKED = frozenset({"ChecksumType", "MpuObjectSize"})
_CREATE_BLOCKED = _FULL_OBJECT_CHECKSUMS | {"MpuObjectSize"}
_SSE_C = frozenset({"SSECustomerKey", "SSECustomerAlgorithm", "SSECustomerKeyMD5"})
_PAYER = frozenset({"RequestPayer", "ExpectedBucketOwner"})
_PART_ARGS = _SSE_C | _PAYER | {"ChecksumAlgorithm"}
_COMPLETE_ARGS = _SSE_C | _PAYER | _FULL_OBJECT_CHECKSUMS | {"ChecksumType", "MpuObjectSize"}


def need_boto3(who: str) -> None:
    """Raise a clear ``ImportError`` if boto3 is missing."""
    try:
        import boto3  # noqa: F401
    except ImportError as exc:  # pragma: no cover - the test environment has boto3
        raise ImportError(f"{who} needs boto3: pip install 'uploadwriter[s3]'") from exc


def _allowed_args() -> frozenset[str]:
    need_boto3("S3Opts")
    from boto3.s3.transfer import S3Transfer

    return frozenset(S3Transfer.ALLOWED_UPLOAD_ARGS)


def _name(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not value:
        raise TypeError(f"S3Opts.{attribute.name} must be a non-empty str, not {safe_repr(value)}")


def _part_size(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"S3Opts.part_size must be a whole number of bytes, not {safe_repr(value)}")
    if not MIN_PART_SIZE <= value <= MAX_PART_SIZE:
        raise ValueError(
            f"S3Opts.part_size must be between 5 MiB ({MIN_PART_SIZE}) and 5 GiB "
            f"({MAX_PART_SIZE}) bytes, S3's limits for a part, not {value}"
        )


def _frozen(value: object) -> object:
    if isinstance(value, Mapping):
        return MappingProxyType(dict(value))
    return value


def _extra_args(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, Mapping):
        raise TypeError(
            f"S3Opts.extra_args must be a mapping such as {{'ContentType': 'image/png'}}, "
            f"not {safe_repr(value)}"
        )
    allowed = _allowed_args()
    unknown = sorted(str(k) for k in value if k not in allowed)
    if unknown:
        raise ValueError(
            f"S3Opts.extra_args has {', '.join(map(repr, unknown))}, which boto3 does not "
            f"pass to an upload; allowed: {', '.join(sorted(allowed))}"
        )


@attrs.frozen
class S3Opts:
    """Options of :class:`S3Writer` and :class:`AsyncS3Writer`: where the object goes, and how.

    Raises:
        TypeError: ``bucket`` or ``key`` is not a non-empty string, ``part_size``
            not an int, ``extra_args`` not a mapping.
        ValueError: ``part_size`` is outside S3's limits (5 MiB to 5 GiB), or ``extra_args``
            has a key boto3 does not pass to an upload.
        ImportError: boto3 is not installed.
    """

    #: The bucket, which must exist.
    bucket: str = attrs.field(validator=_name)
    #: The object's key.
    key: str = attrs.field(validator=_name)
    #: A boto3 S3 client; ``None``: one ``boto3.client("s3")``, made on first use and shared.
    client: object | None = attrs.field(default=None, repr=False, eq=False, hash=False)
    #: Bytes per part (the last may be smaller); also the memory each open upload holds.
    part_size: int = attrs.field(default=8 * MiB, validator=_part_size)
    #: Passed on as boto3's ``upload_fileobj`` passes its ``ExtraArgs``:
    #: ``ContentType``, ``Metadata``, ``ServerSideEncryption``, ``ACL``...
    extra_args: Mapping[str, object] = attrs.field(
        factory=dict, converter=_frozen, validator=_extra_args, hash=False
    )


@attrs.frozen
class Part:
    """A part sent: its number, ETag and checksum, as ``CompleteMultipartUpload`` needs them."""

    number: int
    etag: str
    checksums: tuple[tuple[str, str], ...] = ()


@attrs.frozen
class S3State:
    """One upload to S3.

    Values: ``bucket``, ``key``, ``size`` (bytes received), ``upload_id``
    (``None`` until the first part is sent), ``parts`` (sent so far),
    ``etag`` (once done), ``part_size``, ``args`` (the extra args).
    Resources, compared by identity: ``client``, and ``buffer``, the
    ``io.BytesIO`` the current part fills (the bytes of ``size`` that are not
    in ``parts``). Continue from the state the last callback returned.
    """

    bucket: str
    key: str
    size: int
    part_size: int
    args: Mapping[str, object] = attrs.field(repr=False)
    client: Any = attrs.field(repr=False, eq=False)
    buffer: io.BytesIO = attrs.field(repr=False, eq=False)
    upload_id: str | None = None
    parts: tuple[Part, ...] = ()
    etag: str | None = None
    #: Resumed from a suspension (L17): its tails in S3 are deleted when it closes.
    resumed: bool = attrs.field(default=False, kw_only=True)

    @property
    def buffered(self) -> int:
        """Bytes in the current part's buffer: every sent part is full."""
        return self.size - len(self.parts) * self.part_size


class S3UploadError(Exception):
    """The ``Err`` reason when an S3 call fails: names the call, the object and S3's error code.

    The botocore error is its ``__cause__``.
    """

    def __init__(self, operation: str, bucket: str, key: str, error: BaseException) -> None:
        response = getattr(error, "response", None)
        details = response.get("Error", {}) if isinstance(response, Mapping) else {}
        #: S3's error code, e.g. ``"NoSuchBucket"`` (``None`` if it did not answer).
        self.code: str | None = details.get("Code") or None
        message = details.get("Message") or str(error)
        what = f"{self.code}: {message}" if self.code else f"{type(error).__name__}: {message}"
        super().__init__(f"S3 {operation} of s3://{bucket}/{key} failed: {what}")
        self.operation = operation  #: the S3 operation, e.g. ``"UploadPart"``


_client_lock = threading.Lock()
_client: list[Any] = []


def default_client() -> Any:
    """The shared ``boto3.client("s3")``, made on first use (clients are thread-safe)."""
    with _client_lock:
        if not _client:
            import boto3

            _client.append(boto3.client("s3"))
        return _client[0]


def start_args(opts: S3Opts, client: Any) -> Mapping[str, object]:
    """The extra args, with the default checksum boto3's own uploads add."""
    args = dict(opts.extra_args)
    config = getattr(getattr(client, "meta", None), "config", None)
    checksums = getattr(config, "request_checksum_calculation", None)
    if checksums == "when_supported" and not _FULL_OBJECT_CHECKSUMS & set(args):
        args.setdefault("ChecksumAlgorithm", "CRC32")
    return MappingProxyType(args)


def _only(args: Mapping[str, object], keys: frozenset[str]) -> dict[str, object]:
    return {k: v for k, v in args.items() if k in keys}


def _without(args: Mapping[str, object], keys: frozenset[str]) -> dict[str, object]:
    return {k: v for k, v in args.items() if k not in keys}


def _call(state: S3State, operation: str, method: str, **kwargs: object) -> Mapping[str, Any]:
    try:
        response: Mapping[str, Any] = getattr(state.client, method)(
            Bucket=state.bucket, Key=state.key, **kwargs
        )
    except Exception as exc:
        raise S3UploadError(operation, state.bucket, state.key, exc) from exc
    return response


def create(state: S3State) -> S3State:
    """``CreateMultipartUpload``: the state with its ``upload_id``."""
    args = _without(state.args, _CREATE_BLOCKED)
    for name in _FULL_OBJECT_CHECKSUMS & set(state.args):
        # A checksum of the whole object, as s3transfer sends it.
        args.update(ChecksumType="FULL_OBJECT", ChecksumAlgorithm=name[len("Checksum") :])
    response = _call(state, "CreateMultipartUpload", "create_multipart_upload", **args)
    return attrs.evolve(state, upload_id=response["UploadId"])


def _part(state: S3State, number: int, response: Mapping[str, Any]) -> Part:
    algorithm = state.args.get("ChecksumAlgorithm")
    checksums: tuple[tuple[str, str], ...] = ()
    if isinstance(algorithm, str) and f"Checksum{algorithm.upper()}" in response:
        member = f"Checksum{algorithm.upper()}"
        checksums = ((member, response[member]),)
    return Part(number, response["ETag"], checksums)


def send_part(state: S3State) -> S3State:
    """``UploadPart`` of the buffer: the state with the part added and a fresh, empty buffer."""
    number = len(state.parts) + 1
    if number > MAX_PARTS:
        most = MAX_PARTS * state.part_size / 2**30
        too_many = ValueError(
            f"S3 takes at most {MAX_PARTS} parts: with part_size={state.part_size} an upload "
            f"holds at most {most:.1f} GiB; choose a larger part_size"
        )
        raise S3UploadError("UploadPart", state.bucket, state.key, too_many)
    buffer = state.buffer
    buffer.seek(0)
    response = _call(
        state,
        "UploadPart",
        "upload_part",
        UploadId=state.upload_id,
        PartNumber=number,
        Body=buffer,
        **_only(state.args, _PART_ARGS),
    )
    buffer.close()
    return attrs.evolve(
        state, parts=(*state.parts, _part(state, number, response)), buffer=io.BytesIO()
    )


def finish(state: S3State) -> S3State:
    """Make the object (``PutObject``, or the last part and ``CompleteMultipartUpload``)."""
    buffer = state.buffer
    if state.upload_id is None:
        buffer.seek(0)
        args = _without(state.args, _PUT_BLOCKED)
        response = _call(state, "PutObject", "put_object", Body=buffer, **args)
    else:
        if state.buffered:
            state = send_part(state)
        parts = [{"PartNumber": p.number, "ETag": p.etag, **dict(p.checksums)} for p in state.parts]
        response = _call(
            state,
            "CompleteMultipartUpload",
            "complete_multipart_upload",
            UploadId=state.upload_id,
            MultipartUpload={"Parts": parts},
            **_only(state.args, _COMPLETE_ARGS),
        )
    state.buffer.close()
    return attrs.evolve(state, etag=response.get("ETag"))


def abort(state: S3State) -> S3State:
    """Release the buffer; ``AbortMultipartUpload`` if one was started (gone already is fine)."""
    state.buffer.close()
    if state.upload_id is None:
        return state
    try:
        _call(
            state,
            "AbortMultipartUpload",
            "abort_multipart_upload",
            UploadId=state.upload_id,
            **_only(state.args, _PAYER),
        )
    except S3UploadError as exc:
        if exc.code != "NoSuchUpload":
            raise
    return state
