"""The writer protocols, and the runtime check that an object fits one."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Protocol, TypeVar

from ._events import CloseReason
from ._results import Err, Ok

__all__ = ("AsyncUploadWriter", "UploadWriter", "check_writer_shape")

O_contra = TypeVar("O_contra", contravariant=True)
S = TypeVar("S")


class UploadWriter(Protocol[O_contra, S]):
    """Writes one upload's chunks somewhere. Holds no per-upload state: that is ``S``.

    ``O_contra`` is the type of the options ``init`` takes, ``S`` the writer's
    state, which every callback receives and returns inside ``Ok``/``Err``.
    """

    def init(self, opts: O_contra) -> Ok[S] | Err[None]:
        """Start an upload: return its first state, or ``Err(reason, None)`` to refuse it."""
        ...

    def meta(self, state: S) -> Mapping[str, object]:
        """Describe a completed upload to whoever consumes it (e.g. ``{"path": ...}``)."""
        ...

    def write_chunk(self, data: bytes, state: S) -> Ok[S] | Err[S]:
        """Write ``data``, the next bytes of the upload."""
        ...

    def close(self, state: S, reason: CloseReason) -> Ok[S] | Err[S]:
        """Finish the upload; called exactly once, with ``Done()``, ``Cancel()`` or ``Error(r)``."""
        ...


class AsyncUploadWriter(Protocol[O_contra, S]):
    """:class:`UploadWriter` with ``async`` callbacks (``meta`` stays synchronous)."""

    async def init(self, opts: O_contra) -> Ok[S] | Err[None]:
        """Start an upload: return its first state, or ``Err(reason, None)`` to refuse it."""
        ...

    def meta(self, state: S) -> Mapping[str, object]:
        """Describe a completed upload to whoever consumes it."""
        ...

    async def write_chunk(self, data: bytes, state: S) -> Ok[S] | Err[S]:
        """Write ``data``, the next bytes of the upload."""
        ...

    async def close(self, state: S, reason: CloseReason) -> Ok[S] | Err[S]:
        """Finish the upload; called exactly once, with ``Done()``, ``Cancel()`` or ``Error(r)``."""
        ...


_ASYNC_CALLBACKS = ("init", "write_chunk", "close")


def check_writer_shape(writer: object, *, asynchronous: bool) -> None:
    """Check that ``writer`` has the callbacks a driver needs, sync or async as required.

    Raises:
        TypeError: listing every callback that is missing, not callable, or of
            the wrong kind (sync where async is needed, or the reverse).
    """
    problems: list[str] = []
    for name in ("init", "meta", "write_chunk", "close"):
        callback = getattr(writer, name, None)
        if callback is None:
            problems.append(f"{name} is missing")
            continue
        if not callable(callback):
            problems.append(f"{name} is not callable ({type(callback).__name__})")
            continue
        is_async = inspect.iscoroutinefunction(callback)
        if name not in _ASYNC_CALLBACKS:
            if is_async:
                problems.append(f"{name} is async; it must be a plain method")
        elif asynchronous and not is_async:
            problems.append(f"{name} is a plain method; AsyncUploader needs 'async def {name}'")
        elif not asynchronous and is_async:
            problems.append(f"{name} is async; Uploader needs a plain 'def {name}'")
    if problems:
        driver = "AsyncUploader" if asynchronous else "Uploader"
        hint = (
            " (a synchronous writer can be wrapped: ThreadedWriter(writer) or InlineWriter(writer))"
            if asynchronous
            else " (use AsyncUploader for an async writer)"
        )
        kinds = {inspect.iscoroutinefunction(getattr(writer, n, None)) for n in _ASYNC_CALLBACKS}
        raise TypeError(
            f"{type(writer).__name__} is not an upload writer for {driver}: "
            + "; ".join(problems)
            + (hint if kinds == {not asynchronous} else "")
        )
