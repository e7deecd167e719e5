"""The synchronous driver: performs the writer calls the reducer asks for."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Generic, TypeVar, cast

from . import _interrupts
from ._base import DriverBase, note_exit_failure, raise_error
from ._errors import UploadBusy
from ._events import Chunk, Event, Leave, Suspend, check_event
from ._interrupts import call_write_chunk, deferred, protect
from ._protocols import ResumableWriter, UploadWriter, check_writer_shape
from .reducer import Phase, SavedUpload, resumed, start

__all__ = ("Uploader",)

O = TypeVar("O")  # noqa: E741 - the writer's opts type, as in the protocol
S = TypeVar("S")

_LEAVE = Leave()
_OVER = (Phase.CLOSED, Phase.SUSPENDED)


class Uploader(DriverBase[S], Generic[O, S]):
    """Run one upload through a synchronous writer.

    ``init`` is called on entering the ``with`` block; leaving the block while
    the upload is open closes the writer with ``Cancel()``::

        with Uploader(writer, opts, expected_size=n) as up:
            up.send(Chunk(data))
            up.send(Done())
        up.meta()

    Not thread-safe: use one ``Uploader`` from one thread. A writer callback
    may send ``Cancel()`` to its own upload (a progress hook that cancels, say):
    it is recorded, and the writer is closed with ``Cancel()`` once the
    callback has answered.

    In the main thread, Ctrl-C waits while the driver itself works (and while
    the writer's ``init`` or ``close`` runs) and is raised when the method
    ends, so the writer is still closed exactly once; a ``write_chunk`` is
    interrupted at once (see ``uploadwriter._interrupts``).

    With ``resumable=True`` (a writer with ``suspend`` and ``resume``), leaving
    the block suspends the upload instead (L16): :meth:`saved` then gives what
    storage keeps, and :meth:`resume` takes it up again, in any process.

    Raises:
        TypeError: ``writer`` lacks a callback or has an async one; a size is
            not an int.
        InvalidLimit: ``expected_size`` or ``max_size`` is negative.
    """

    __slots__ = ("_opts", "_saved", "_writer")

    def __init__(
        self,
        writer: UploadWriter[O, S],
        opts: O,
        *,
        expected_size: int | None = None,
        max_size: int | None = None,
        resumable: bool = False,
    ) -> None:
        check_writer_shape(writer, asynchronous=False, resumable=resumable)
        self._writer = writer
        self._meta = writer.meta
        self._opts = opts
        self._upload = start(expected_size=expected_size, max_size=max_size, resumable=resumable)
        self._entered = False
        self._saved: SavedUpload | None = None

    @classmethod
    def resume(cls, writer: ResumableWriter[Any, S, Any], saved: SavedUpload) -> Uploader[Any, S]:
        """Return an uploader that takes a suspended upload up again (L17).

        Entering it calls the writer's ``resume`` with what ``suspend`` saved;
        the upload goes on at ``saved.size`` bytes, with its limits.

        Raises:
            TypeError: ``writer`` is not a resumable writer, or ``saved`` not a
                :class:`~uploadwriter.reducer.SavedUpload`.
        """
        if not isinstance(saved, SavedUpload):
            raise TypeError(f"Uploader.resume needs a SavedUpload, not {saved!r}")
        uploader: Uploader[Any, S] = Uploader(writer, None, resumable=True)
        uploader._upload = resumed(saved)
        uploader._saved = saved
        return uploader

    @protect
    def __enter__(self) -> Uploader[O, S]:
        """Call the writer's ``init``.

        Raises:
            InitError: ``init`` returned ``Err`` or raised.
            UploadBusy: this uploader was entered before (one upload each).
        """
        if self._entered:
            raise UploadBusy("an Uploader runs a single upload; create a new one for the next")
        self._entered = True
        _interrupts.enter(self)
        try:
            try:
                try:
                    if self._saved is None:
                        answer: object = self._writer.init(self._opts)
                    else:
                        answer = self._resumable().resume(self._saved.writer)
                except BaseException as exc:  # noqa: BLE001 - fed to the reducer (L11)
                    answer = exc
                self._feed(answer)
            finally:
                if deferred:  # Ctrl-C came while init ran
                    try:
                        _interrupts.deliver()
                    except BaseException as exc:
                        # __exit__ is not called when __enter__ raises: leave here (L5, L10).
                        self._leave(exc)
                        if deferred:  # Ctrl-C again, while leaving
                            _interrupts.deliver()
                        raise
        finally:
            if self._upload.phase in _OVER:  # refused or left here: no __exit__ follows
                _interrupts.leave(self)
        return self

    @protect
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._leave(exc)
        finally:
            try:
                if deferred:
                    _interrupts.deliver()
            finally:
                _interrupts.leave(self)

    def _leave(self, exc: BaseException | None) -> None:
        # The reducer closes an open upload with Cancel() (L10), or suspends a
        # resumable one (L16); once it has ended, leaving changes nothing.
        try:
            self._feed(_LEAVE)
        except BaseException as error:
            if exc is None:
                raise
            note_exit_failure(exc, error)

    def send(self, event: Event) -> None:
        """Send ``Chunk(data)``, ``Done()``, ``Cancel()`` or ``Suspend()``; perform what follows.

        Raises:
            FileTooLarge: the chunk would pass the limit; the writer was cancelled.
            WriterFailure: the writer returned ``Err`` or raised; it was closed.
            IncompleteUpload: ``Done()`` came before ``expected_size`` bytes.
            UploadClosed: a chunk was sent after the upload closed.
            UploadBusy: the ``with`` block was not entered yet (``init`` has
                not been called), or a writer callback sent a chunk or ``Done()``.
            InvalidEvent: ``event`` is not one of the caller's events, or
                ``Suspend()`` for an upload that is not resumable.
        """
        check_event(event)
        if not self._entered:
            raise UploadBusy(
                f"{event!r} was sent before the upload started: enter the `with "
                "Uploader(...) as up:` block first (entering it calls the writer's init)"
            )
        try:
            self._feed(event)
        finally:
            if deferred:
                _interrupts.deliver()

    # send is not protected itself (only _feed is): an interrupt at its start or
    # after its check of `deferred` is raised at once, and nothing is left undone.

    @protect
    def _feed(self, event: object) -> None:
        step = self._reduce(event)
        while (call := step.call) is not None:
            writer = self._writer
            state = step.upload.state
            try:
                if isinstance(call, Chunk):
                    answer: object = call_write_chunk(writer, call.data, state)
                elif isinstance(call, Suspend):
                    answer = self._resumable().suspend(state)
                else:
                    answer = writer.close(state, call)
            except BaseException as exc:  # noqa: BLE001 - fed to the reducer (L11)
                answer = exc
            # Reduced against the current upload: the callback may have sent a
            # Cancel() to it meanwhile, which the reducer has recorded.
            step = self._reduce(answer)
        if step.error is not None:
            raise_error(step)

    def _resumable(self) -> ResumableWriter[Any, S, Any]:
        # Only called for a resumable upload: check_writer_shape made sure of it.
        return cast("ResumableWriter[Any, S, Any]", self._writer)
