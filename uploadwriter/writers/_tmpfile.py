"""``TmpFileWriter``: the default writer, streaming an upload into a fresh temporary file."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from typing import Any, BinaryIO

import attrs

from .._events import CloseReason, Done
from .._results import Err, Ok

__all__ = ("TmpFileOpts", "TmpFileState", "TmpFileWriter")

# Writes are gathered into system calls of up to this size. Python's default
# buffer is the file system's block size (4 KiB on ext4): a 4 KiB-chunk upload
# then pays a write(2) per chunk, and the kernel's cost per call dominates.
# 128 KiB cuts those calls 32x at 4 KiB chunks, and writes two default
# (64 000-byte) chunks per call, which beats one call each even with the copy
# into the buffer. The buffer is paged in only as it fills, so a small upload
# does not pay for it; a chunk larger than it goes straight to the file.
# bench/ measures this against a loop with Python's default and with this one.
BUFFER_SIZE = 128 * 1024


def _dir(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, (str, os.PathLike)):
        raise TypeError(
            f"TmpFileOpts.dir must be a path (str or os.PathLike) or None, not {value!r}"
        )


def _name_part(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str):
        raise TypeError(f"TmpFileOpts.{attribute.name} must be a str, not {value!r}")
    if os.sep in value or (os.altsep and os.altsep in value):
        raise ValueError(
            f"TmpFileOpts.{attribute.name} must not contain a path separator, got {value!r}"
        )


@attrs.frozen
class TmpFileOpts:
    """Options of :class:`TmpFileWriter`.

    Raises:
        TypeError: an option is not a string.
        ValueError: ``prefix`` or ``suffix`` contains a path separator.
    """

    #: Directory for the file (default: the system's temp directory).
    dir: str | os.PathLike[str] | None = attrs.field(
        default=None,
        validator=_dir,
    )
    #: Start of the random file name.
    prefix: str = attrs.field(default="upload-", validator=_name_part)
    #: End of the random file name, e.g. ``".jpg"``.
    suffix: str = attrs.field(default="", validator=_name_part)


@attrs.frozen
class TmpFileState:
    """The temp file of one upload: its path and the open file it is written through."""

    path: str
    file: BinaryIO = attrs.field(repr=False)
    # The one Ok every successful write returns: states are immutable, so it
    # can be shared, and the per-chunk path allocates nothing.
    ok: Ok[TmpFileState] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "ok", Ok(self))


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


class TmpFileWriter:
    """Stream an upload into a new temporary file (random name, mode 0600).

    The name is never taken from the client. Meta is ``{"path": path}``. The
    file is kept on ``Done()`` (the application moves or removes it) and
    removed on ``Cancel()`` or ``Error(...)``, or if it cannot be completed.
    """

    def init(self, opts: TmpFileOpts = TmpFileOpts()) -> Ok[TmpFileState] | Err[None]:
        """Create the file (``Err`` with the ``OSError`` if it cannot be)."""
        try:
            fd, path = tempfile.mkstemp(prefix=opts.prefix, suffix=opts.suffix, dir=opts.dir)
        except OSError as exc:
            return Err(exc, None)
        try:
            file = os.fdopen(fd, "wb", buffering=BUFFER_SIZE)
        except OSError as exc:  # pragma: no cover - fdopen of a fresh fd does not fail in practice
            os.close(fd)
            _remove(path)
            return Err(exc, None)
        return Ok(TmpFileState(path, file))

    def meta(self, state: TmpFileState) -> Mapping[str, object]:
        """``{"path": path}`` of the completed file."""
        return {"path": state.path}

    def write_chunk(self, data: bytes, state: TmpFileState) -> Ok[TmpFileState] | Err[TmpFileState]:
        """Append ``data`` to the file (``Err`` with the ``OSError``, e.g. disk full)."""
        try:
            state.file.write(data)
        except OSError as exc:
            return Err(exc, state)
        return state.ok

    def close(
        self, state: TmpFileState, reason: CloseReason
    ) -> Ok[TmpFileState] | Err[TmpFileState]:
        """Close the file; keep it on ``Done()``, remove it otherwise or if flushing fails."""
        try:
            state.file.close()
        except OSError as exc:
            _remove(state.path)
            return Err(exc, state)
        if reason != Done():
            _remove(state.path)
        return state.ok

    def discard(self, state: TmpFileState) -> None:
        """Remove the completed upload's file (if it is still where it was written)."""
        _remove(state.path)
