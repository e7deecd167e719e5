"""The synchronous driver: performs the writer calls the reducer asks for."""

from __future__ import annotations

from types import TracebackType
from typing import Generic, TypeVar

from . import _interrupts
from ._base import DriverBase, note_exit_failure
from ._errors import UploadBusy
from ._events import Cancel, Chunk, Event
from ._interrupts import call_write_chunk, deferred, protect
from ._protocols import UploadWriter, check_writer_shape
from .reducer import Upload, reduce, start

__all__ = ("Uploader",)

O = TypeVar("O")  # noqa: E741 - the writer's opts type, as in the protocol
S = TypeVar("S")

_CANCEL = Cancel()


class Uploader(DriverBase[S], Generic[O, S]):
    """Run one upload through a synchronous writer.

    ``init`` is called on entering the ``with`` block; leaving the block while
    the upload is open closes the writer with ``Cancel()``::

        with Uploader(writer, opts, expected_size=n) as up:
            up.send(Chunk(data))
            up.send(Done())
        up.meta()

    In the main thread, Ctrl-C waits while the driver itself works (and while
    the writer's ``init`` or ``close`` runs) and is raised when the method
    ends, so the writer is still closed exactly once; a ``write_chunk`` is
    interrupted at once (see ``uploadwriter._interrupts``).

    Raises:
        TypeError: ``writer`` lacks a callback or has an async one.
        InvalidLimit: ``expected_size`` or ``max_size`` is negative or not an int.
    """

    __slots__ = ("_entered", "_opts", "_writer")

    def __init__(
        self,
        writer: UploadWriter[O, S],
        opts: O,
        *,
        expected_size: int | None = None,
        max_size: int | None = None,
    ) -> None:
        check_writer_shape(writer, asynchronous=False)
        self._writer = writer
        self._meta = writer.meta
        self._opts = opts
        self._upload: Upload[S] = start(expected_size=expected_size, max_size=max_size)
        self._entered = False

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
        if not _interrupts.installed:
            _interrupts.install()
        try:
            try:
                answer: object = self._writer.init(self._opts)
            except BaseException as exc:  # noqa: BLE001 - fed to the reducer (L11), which re-raises
                answer = exc
            self._feed(answer)
        finally:
            if deferred:  # Ctrl-C came while init ran
                try:
                    _interrupts.deliver()
                except BaseException as exc:
                    # __exit__ is not called when __enter__ raises: close here (L5, L10).
                    self.__exit__(type(exc), exc, exc.__traceback__)
                    raise
        return self

    @protect
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Cancel() is a no-op once the upload has closed (L8), so this is
        # exactly "close with Cancel() if still open" (L10).
        try:
            self._feed(_CANCEL)
        except BaseException as error:
            if exc is None:
                raise
            note_exit_failure(exc, error)
        finally:
            if deferred:
                _interrupts.deliver()

    # Not protected itself (only _feed is): an interrupt at its start or after
    # its check of `deferred` is raised at once, and nothing is left undone.
    def send(self, event: Event) -> None:
        """Send ``Chunk(data)``, ``Done()`` or ``Cancel()`` and perform what follows.

        Raises:
            FileTooLarge: the chunk would pass the limit; the writer was cancelled.
            WriterFailure: the writer returned ``Err`` or raised; it was closed.
            IncompleteUpload: ``Done()`` came before ``expected_size`` bytes.
            UploadClosed: a chunk was sent after the upload closed.
            InvalidEvent: ``event`` is not one of the three events.
        """
        try:
            self._feed(event)
        finally:
            if deferred:
                _interrupts.deliver()

    @protect
    def _feed(self, event: object) -> None:
        step = reduce(self._upload, event)
        self._upload = upload = step.upload
        call = step.call
        while call is not None:
            writer = self._writer
            try:
                if isinstance(call, Chunk):
                    answer: object = call_write_chunk(writer, call.data, upload.state)
                else:
                    answer = writer.close(upload.state, call)
            except BaseException as exc:  # noqa: BLE001 - fed to the reducer (L11)
                answer = exc
            step = reduce(upload, answer)
            self._upload = upload = step.upload
            call = step.call
        if step.error is not None:
            raise step.error
