"""The synchronous driver: performs the writer calls the reducer asks for."""

from __future__ import annotations

from types import TracebackType
from typing import Generic, TypeVar

from ._base import DriverBase, note_exit_failure, raise_error
from ._errors import UploadBusy
from ._events import Cancel, Chunk, Event, check_event
from ._protocols import UploadWriter, check_writer_shape
from .reducer import start

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

    Not thread-safe: use one ``Uploader`` from one thread. A writer callback
    may send ``Cancel()`` to its own upload (a progress hook that cancels, say):
    it is recorded, and the writer is closed with ``Cancel()`` once the
    callback has answered.

    Raises:
        TypeError: ``writer`` lacks a callback or has an async one; a size is
            not an int.
        InvalidLimit: ``expected_size`` or ``max_size`` is negative.
    """

    __slots__ = ("_opts", "_writer")

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
        self._upload = start(expected_size=expected_size, max_size=max_size)
        self._entered = False

    def __enter__(self) -> Uploader[O, S]:
        """Call the writer's ``init``.

        Raises:
            InitError: ``init`` returned ``Err`` or raised.
            UploadBusy: this uploader was entered before (one upload each).
        """
        if self._entered:
            raise UploadBusy("an Uploader runs a single upload; create a new one for the next")
        self._entered = True
        try:
            answer: object = self._writer.init(self._opts)
        except BaseException as exc:  # noqa: BLE001 - fed to the reducer (L11), which re-raises
            answer = exc
        self._feed(answer)
        return self

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

    def send(self, event: Event) -> None:
        """Send ``Chunk(data)``, ``Done()`` or ``Cancel()`` and perform what follows.

        Raises:
            FileTooLarge: the chunk would pass the limit; the writer was cancelled.
            WriterFailure: the writer returned ``Err`` or raised; it was closed.
            IncompleteUpload: ``Done()`` came before ``expected_size`` bytes.
            UploadClosed: a chunk was sent after the upload closed.
            UploadBusy: the ``with`` block was not entered yet (``init`` has
                not been called), or a writer callback sent a chunk or ``Done()``.
            InvalidEvent: ``event`` is not one of the three events.
        """
        check_event(event)
        if not self._entered:
            raise UploadBusy(
                f"{event!r} was sent before the upload started: enter the `with "
                "Uploader(...) as up:` block first (entering it calls the writer's init)"
            )
        self._feed(event)

    def _feed(self, event: object) -> None:
        step = self._reduce(event)
        while (call := step.call) is not None:
            writer = self._writer
            state = step.upload.state
            try:
                if isinstance(call, Chunk):
                    answer: object = writer.write_chunk(call.data, state)
                else:
                    answer = writer.close(state, call)
            except BaseException as exc:  # noqa: BLE001 - fed to the reducer (L11)
                answer = exc
            # Reduced against the current upload: the callback may have sent a
            # Cancel() to it meanwhile, which the reducer has recorded.
            step = self._reduce(answer)
        if step.error is not None:
            raise_error(step)
