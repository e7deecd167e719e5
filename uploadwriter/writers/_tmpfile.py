"""``TmpFileWriter``: the default writer, streaming an upload into a fresh temporary file."""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Mapping
from typing import Any

import attrs

from .._errors import safe_repr
from .._events import CloseReason, Done
from .._results import Err, Ok

__all__ = ("TmpFileOpts", "TmpFileState", "TmpFileWriter")

# Small writes are gathered, large ones go straight to the file. The kernel's
# cost per write(2) dominates small chunks: gathering 4 KiB chunks into one
# call per 128 KiB is several times faster than a call each (bench/ measures
# it). But an open upload must not hold a large chunk: 10,000 uploads waiting
# for their next chunk would hold 10,000 of them (issue 16). So a chunk of
# DIRECT_SIZE bytes or more is written at once, with whatever small chunks
# were gathered before it in the same call (os.writev); smaller ones are
# copied into the upload's gathering buffer, written out when it holds
# BUFFER_SIZE bytes, on Done(), or ahead of the next large chunk. Cancel() and
# Error(...) drop the gathered bytes: they are never written only to be removed.
BUFFER_SIZE = 128 * 1024
DIRECT_SIZE = 32 * 1024


def _dir(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, (str, os.PathLike)):
        raise TypeError(
            f"TmpFileOpts.dir must be a path (str or os.PathLike) or None, not {safe_repr(value)}"
        )


def _name_part(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str):
        raise TypeError(f"TmpFileOpts.{attribute.name} must be a str, not {safe_repr(value)}")
    if os.sep in value or (os.altsep and os.altsep in value):
        raise ValueError(
            f"TmpFileOpts.{attribute.name} must not contain a path separator, got "
            f"{safe_repr(value)}"
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
    """The temp file of one upload: its path, and the open file it is written through.

    ``file`` is the raw, unbuffered file (``io.FileIO``); small chunks wait in
    ``gathered`` until they are written in one system call.
    """

    path: str
    file: io.FileIO = attrs.field(repr=False)
    gathered: io.BytesIO = attrs.field(repr=False, factory=io.BytesIO)
    #: ``file``'s descriptor (read once: every write uses it).
    fd: int = attrs.field(init=False, eq=False, repr=False)
    # The one Ok every successful write returns: states are immutable, so it
    # can be shared, and the per-chunk path allocates nothing.
    ok: Ok[TmpFileState] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "fd", self.file.fileno())
        object.__setattr__(self, "ok", Ok(self))


_DEFAULTS = TmpFileOpts()
# How resume reopens a suspended upload's file: never through a symbolic link.
_REOPEN = os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_DONE = Done()


def _resolve(opts: object) -> TmpFileOpts | TypeError:
    """The options to use: ``None`` means the defaults (Phoenix's writer ignores its opts)."""
    if opts is None:
        return _DEFAULTS
    if isinstance(opts, TmpFileOpts):
        return opts
    return TypeError(
        "TmpFileWriter's opts must be TmpFileOpts(dir=..., prefix=..., suffix=...) or None "
        f"(the defaults), not {type(opts).__name__}: {safe_repr(opts)}"
    )


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _write_rest(fd: int, rest: bytes) -> None:
    """Finish a short write (a signal, a file size limit): write ``rest``, or raise."""
    while rest:
        rest = rest[os.write(fd, rest) :]


def _write_out(state: TmpFileState, data: bytes = b"") -> None:
    """Write the gathered bytes, then ``data``, in one system call; empty the gathering buffer."""
    gathered = state.gathered
    size = gathered.tell()
    if not size:
        if not data:
            return
        written = os.write(state.fd, data)
        if written < len(data):
            _write_rest(state.fd, data[written:])
        return
    # The view of the buffer is a temporary, so no frame keeps it (a traceback
    # would, in a local): while a view exists, the buffer cannot be closed.
    written = os.writev(state.fd, (gathered.getbuffer()[:size], data))
    if written < size + len(data):
        _write_rest(state.fd, (gathered.getvalue()[:size] + data)[written:])
    gathered.seek(0)


def _discard(state: TmpFileState) -> None:
    """Close the file without writing anything, remove it, drop the gathered bytes."""
    with contextlib.suppress(OSError):
        state.file.close()
    _remove(state.path)
    _release(state.gathered)


def _check_size(fd: int, path: str, size: int) -> None:
    on_disk = os.fstat(fd).st_size
    if on_disk < size:
        raise OSError(f"{path} holds {on_disk} bytes, fewer than the {size} saved")


def _release(gathered: io.BytesIO) -> None:
    with contextlib.suppress(BufferError):  # a view still alive: freed with the state
        gathered.close()


class TmpFileWriter:
    """Stream an upload into a new temporary file (random name, mode 0600).

    The name is never taken from the client. Meta is ``{"path": path}``. The
    file is kept on ``Done()`` (the application moves or removes it) and
    removed on ``Cancel()`` or ``Error(...)``, or if it cannot be completed.
    Opts are a :class:`TmpFileOpts`, or ``None`` for the defaults.

    Resumable (L16-L18): ``suspend`` writes the gathered bytes out and closes
    the file, answering ``{"path", "size"}``; ``resume`` reopens it at that
    size, in any process that sees the path.
    """

    def init(self, opts: TmpFileOpts = _DEFAULTS) -> Ok[TmpFileState] | Err[None]:
        """Create the file.

        ``Err`` with the ``OSError`` if it cannot be, or with a ``TypeError`` if
        ``opts`` is neither a ``TmpFileOpts`` nor ``None``.
        """
        chosen = _resolve(opts)
        if isinstance(chosen, TypeError):
            return Err(chosen, None)
        try:
            fd, path = tempfile.mkstemp(prefix=chosen.prefix, suffix=chosen.suffix, dir=chosen.dir)
        except OSError as exc:
            return Err(exc, None)
        file = None
        try:
            file = io.FileIO(fd, "w")
            answer = Ok(TmpFileState(path, file))
        except BaseException as exc:
            # Nothing may outlive a failed init: not the descriptor, not the file.
            if file is None:
                with contextlib.suppress(OSError):
                    os.close(fd)
            else:
                file.close()
            _remove(path)
            if isinstance(exc, Exception):  # an error is the answer; an interruption goes on
                return Err(exc, None)
            raise
        return answer

    def meta(self, state: TmpFileState) -> Mapping[str, object]:
        """``{"path": path}`` of the completed file."""
        return {"path": state.path}

    def write_chunk(self, data: bytes, state: TmpFileState) -> Ok[TmpFileState] | Err[TmpFileState]:
        """Append ``data`` to the file (``Err`` with the ``OSError``, e.g. disk full)."""
        gathered = state.gathered
        try:
            if len(data) >= DIRECT_SIZE:
                _write_out(state, data)
            else:
                gathered.write(data)
                if gathered.tell() >= BUFFER_SIZE:
                    _write_out(state)
        except OSError as exc:
            return Err(exc, state)
        return state.ok

    def close(
        self, state: TmpFileState, reason: CloseReason
    ) -> Ok[TmpFileState] | Err[TmpFileState]:
        """Keep the file on ``Done()`` (``Err`` if writing it out fails); remove it otherwise.

        ``Cancel()`` and ``Error(...)`` always answer ``Ok``: nothing is written
        for a file about to be removed, so a full disk cannot fail them.
        """
        kept = False
        try:
            if reason == _DONE:
                try:
                    _write_out(state)
                    state.file.close()
                except OSError as exc:
                    return Err(exc, state)
                _release(state.gathered)
                kept = True
            return state.ok
        finally:
            if not kept:  # cancelled, failed, or interrupted: nothing is left behind
                _discard(state)

    def discard(self, state: TmpFileState) -> None:
        """Remove the completed upload's file (if it is still where it was written)."""
        _remove(state.path)

    # --- resumable (L16-L18): the file is the storage -----------------------------------

    def suspend(self, state: TmpFileState) -> Ok[dict[str, object]] | Err[TmpFileState]:
        """Write the gathered bytes out, close the file, answer ``{"path", "size"}``.

        The file stays, at its size, for :meth:`resume` (here or in any process
        that sees the same path). ``Err`` with the ``OSError`` if the gathered
        bytes cannot be written (the driver then closes with ``Error``, which
        removes the file).
        """
        try:
            _write_out(state)
            size = os.lseek(state.fd, 0, os.SEEK_CUR)
            state.file.close()
        except OSError as exc:
            return Err(exc, state)
        _release(state.gathered)
        return Ok({"path": state.path, "size": size})

    def resume(self, saved: object) -> Ok[TmpFileState] | Err[None]:
        """Reopen the file of ``saved`` (what :meth:`suspend` answered) at its saved size.

        Whatever is in the file past that size (written by a process killed
        before it could suspend) is cut off. ``Err`` if ``saved`` is not such a
        form (``ValueError``), or the file is gone or shorter (``OSError``).
        """
        if not (
            isinstance(saved, Mapping)
            and isinstance(path := saved.get("path"), str)
            and isinstance(size := saved.get("size"), int)
            and not isinstance(size, bool)
            and size >= 0
        ):
            return Err(ValueError(f"not a saved TmpFileWriter upload: {safe_repr(saved)}"), None)
        try:
            fd = os.open(path, _REOPEN)
        except OSError as exc:
            return Err(exc, None)
        try:
            _check_size(fd, path, size)
            os.ftruncate(fd, size)
            os.lseek(fd, size, os.SEEK_SET)
            return Ok(TmpFileState(path, io.FileIO(fd, "w")))
        except BaseException as exc:
            # Nothing may outlive a failed resume: not the descriptor (as init).
            with contextlib.suppress(OSError):
                os.close(fd)
            if isinstance(exc, Exception):  # an error is the answer; an interruption goes on
                return Err(exc, None)
            raise  # pragma: no cover - a Ctrl-C in these few calls
