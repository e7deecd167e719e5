"""The writer protocols, and the runtime check that an object fits one."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Protocol, TypeVar

from ._events import CloseReason
from ._results import Err, Ok

__all__ = (
    "AsyncResumableWriter",
    "AsyncUploadWriter",
    "DiscardingWriter",
    "ResumableWriter",
    "UploadWriter",
    "check_writer_shape",
    "discard",
    "is_async_writer",
)

O_contra = TypeVar("O_contra", contravariant=True)
S = TypeVar("S")
S_contra = TypeVar("S_contra", contravariant=True)
R = TypeVar("R")


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


class DiscardingWriter(Protocol[S_contra]):
    """The optional ``discard`` hook a writer (sync or async) may add to the four callbacks.

    ``discard(state)`` releases what a *completed* upload holds when nobody will
    take it: :class:`~uploadwriter.TmpFileWriter` removes its file. The uploads
    layer calls it after an entry is consumed and when a completed entry is
    cancelled; the testing kit calls it after each completed upload unless it is
    given ``consume=``. A plain ``def`` in both kinds of writer, like ``meta``.
    A writer whose result is the product itself (an S3 object, a forwarded
    request) has none: what it made stays.
    """

    def discard(self, state: S_contra) -> None:
        """Release the result of the completed upload whose final state is ``state``."""
        ...


def discard(writer: object, state: object) -> None:
    """Call ``writer.discard(state)`` if the writer has that hook; do nothing otherwise."""
    hook = getattr(writer, "discard", None)
    if hook is not None:
        hook(state)


class ResumableWriter(UploadWriter[O_contra, S], Protocol[O_contra, S, R]):
    """An :class:`UploadWriter` whose uploads can be suspended and resumed elsewhere (L16-L18).

    ``R`` is the writer's saved form: what ``suspend`` answers and ``resume``
    takes. Storage keeps it (the shipped stores keep plain JSON data), so any
    process that shares the storage can resume the upload.
    """

    def suspend(self, state: S) -> Ok[R] | Err[S]:
        """Make what was written durable, release this process's resources, return the saved form.

        ``Err(reason, state)`` fails the upload: it is then closed with ``Error(reason)``.
        """
        ...

    def resume(self, saved: R) -> Ok[S] | Err[None]:
        """Take the upload up again where ``saved`` says; forget what was written after it."""
        ...


class AsyncResumableWriter(AsyncUploadWriter[O_contra, S], Protocol[O_contra, S, R]):
    """:class:`ResumableWriter` with ``async`` callbacks."""

    async def suspend(self, state: S) -> Ok[R] | Err[S]:
        """Make what was written durable, release this process's resources, return it saved."""
        ...

    async def resume(self, saved: R) -> Ok[S] | Err[None]:
        """Take the upload up again where ``saved`` says; forget what was written after it."""
        ...


_CALLBACKS = ("init", "meta", "write_chunk", "close")
_ASYNC_CALLBACKS = ("init", "write_chunk", "close", "suspend", "resume")
_RESUMABLE = ("suspend", "resume")


def _is_async(callback: object) -> bool:
    if inspect.iscoroutinefunction(callback):
        return True
    # An object whose __call__ is a coroutine function (not a function or a
    # method itself) is awaited just as well.
    return not inspect.isroutine(callback) and inspect.iscoroutinefunction(
        inspect.getattr_static(type(callback), "__call__", None)
    )


def is_async_writer(writer: object) -> bool:
    """Return whether ``writer`` is an async writer: the one test, by its ``init``.

    ``init`` counts as async when it is a coroutine function, or an object whose
    ``__call__`` is one. :func:`check_writer_shape` then checks the other callbacks.
    """
    init = getattr(writer, "init", None)
    return init is not None and _is_async(init)


def check_writer_shape(
    writer: object, *, asynchronous: bool, needed_by: str | None = None, resumable: bool = False
) -> None:
    """Check that ``writer`` has the callbacks a driver needs, sync or async as required.

    ``needed_by`` names who needs the writer in the message (default: the
    driver, ``Uploader`` or ``AsyncUploader``); ``resumable`` asks for
    ``suspend`` and ``resume`` too.

    Raises:
        TypeError: ``writer`` is a writer class rather than an instance, or has
            callbacks that are missing, not callable, or of the wrong kind (sync
            where async is needed, or the reverse); the message lists them all.
    """
    driver = needed_by or ("AsyncUploader" if asynchronous else "Uploader")
    if isinstance(writer, type) and any(
        inspect.isfunction(inspect.getattr_static(writer, name, None)) for name in _CALLBACKS
    ):
        # Its methods would be called unbound, without self: a classic slip.
        raise TypeError(
            f"{driver} needs a writer instance, not the class {writer.__name__}: "
            f"pass {writer.__name__}()"
        )
    problems: list[str] = []
    if resumable and getattr(writer, "resumable", None) is False:
        # An adapter around a writer that has no suspend and resume.
        problems.append("the writer it wraps has no suspend and resume")
    for name in _CALLBACKS + (_RESUMABLE if resumable else ()):
        callback = getattr(writer, name, None)
        if callback is None:
            problems.append(f"{name} is missing")
            continue
        if not callable(callback):
            problems.append(f"{name} is not callable ({type(callback).__name__})")
            continue
        # Each problem is one phrase without ';', which separates them.
        is_async = _is_async(callback)
        if is_async and (name not in _ASYNC_CALLBACKS or not asynchronous):
            problems.append(f"{name} must be a plain 'def', not async")
        elif not is_async and name in _ASYNC_CALLBACKS and asynchronous:
            problems.append(f"{name} must be 'async def', not a plain method")
    if problems:
        if asynchronous:
            hint = (
                " (a synchronous writer can be wrapped:"
                " ThreadedWriter(writer) or InlineWriter(writer))"
            )
        elif driver == "Uploader":
            hint = " (use AsyncUploader for an async writer)"
        else:
            hint = " (an async writer needs no adapter: give it to AsyncUploader directly)"
        # Hint only when the writer is whole and merely of the other kind.
        kinds = {
            _is_async(callback) if callable(callback := getattr(writer, name, None)) else None
            for name in _ASYNC_CALLBACKS[:3]
        }
        raise TypeError(
            f"{type(writer).__name__} is not an upload writer for {driver}: "
            + "; ".join(problems)
            + (hint if kinds == {not asynchronous} else "")
        )
