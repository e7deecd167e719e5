"""What both drivers share: the read-only view of the upload, ``meta``, raising a step's error."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Generic, NoReturn, TypeVar

from ._errors import UploadInProgress, safe_repr
from ._events import CloseReason
from .reducer import Phase, SavedUpload, Step, Upload, meta_error, reduce, saved

__all__ = ("DriverBase", "note_exit_failure", "raise_error")

S = TypeVar("S")


def _add_note(error: BaseException, note: str) -> None:
    # Once only, so that raising the same error again does not repeat it.
    add_note = getattr(error, "add_note", None)  # Python 3.11+
    if add_note is not None and note not in getattr(error, "__notes__", ()):
        add_note(note)


def raise_error(step: Step[S]) -> NoReturn:
    """Raise ``step.error``, with the writer's close failure as a note when there was one (L11).

    The reducer keeps that second failure as data (``Ending.later_failure``);
    it is attached here, where the error leaves the library.
    """
    error = step.error
    assert error is not None
    ending = step.upload.ending
    if ending is not None and ending.later_failure is not None:
        call = "close" if ending.close_reason is not None else "suspend"
        _add_note(
            error,
            f"uploadwriter: the writer's {call} also failed: {safe_repr(ending.later_failure)}",
        )
    raise error


def note_exit_failure(propagating: BaseException, error: BaseException) -> None:
    """Attach a failed exit-time cancel to the exception already propagating."""
    # The caller's own exception wins; the writer's close failure must still
    # not vanish (L11), so it travels as a note on it (Python 3.11+).
    _add_note(
        propagating, f"uploadwriter: cancelling the upload on exit also failed: {safe_repr(error)}"
    )


class DriverBase(Generic[S]):
    """Read-only properties of a driver's upload. Not public: use the drivers."""

    __slots__ = ("_entered", "_meta", "_upload")

    _upload: Upload[S]
    _meta: Callable[[S], Mapping[str, object]]  # the writer's meta callback
    _entered: bool

    def saved(self) -> SavedUpload:
        """Return what storage keeps of the suspended upload, to resume it anywhere (L16).

        Raises:
            UploadInProgress: the upload is not suspended (still open, or ended).
        """
        saved_upload = saved(self._upload)
        if saved_upload is None:
            raise UploadInProgress(
                f"the upload is {self._upload.phase.label} after {self._upload.size} bytes: "
                "only a suspended upload has a saved form"
            )
        return saved_upload

    def meta(self) -> Mapping[str, object]:
        """Return the writer's meta for the completed upload (L12).

        Raises:
            UploadInProgress: the upload has not closed yet.
            UploadFailed: it was cancelled or failed.
        """
        error = meta_error(self._upload)
        if error is not None:
            raise error
        return self._meta(self._upload.state)

    @property
    def size(self) -> int:
        """Bytes written so far."""
        return self._upload.size

    @property
    def reason(self) -> CloseReason | None:
        """The reason the writer was closed with (its close reason); ``None`` while it is open."""
        return self._upload.close_reason

    @property
    def state(self) -> S:
        """The writer's current state."""
        return self._upload.state

    @property
    def phase(self) -> Phase:
        """Where the upload is in its lifecycle."""
        return self._upload.phase

    @property
    def failure(self) -> BaseException | None:
        """Why the upload failed or was refused; ``None`` if it did not."""
        return self._upload.failure

    @property
    def upload(self) -> Upload[S]:
        """The reducer's whole value for this upload."""
        return self._upload

    def _reduce(self, event: object) -> Step[S]:
        step = reduce(self._upload, event)
        self._upload = step.upload
        return step

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._upload.phase.label} size={self._upload.size}>"
