"""What both drivers share: the read-only view of the upload, and ``meta``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

from ._errors import safe_repr
from ._events import CloseReason
from .reducer import Phase, Upload, meta_error

__all__ = ("DriverBase", "note_exit_failure")

S = TypeVar("S")


def note_exit_failure(propagating: BaseException, error: BaseException) -> None:
    """Attach a failed exit-time cancel to the exception already propagating."""
    # The caller's own exception wins; the writer's close failure must still
    # not vanish (L11), so it travels as a note on it (Python 3.11+).
    add_note = getattr(propagating, "add_note", None)
    if add_note is not None:
        add_note(f"uploadwriter: cancelling the upload on exit also failed: {safe_repr(error)}")


class DriverBase(Generic[S]):
    """Read-only properties of a driver's upload. Not public: use the drivers."""

    __slots__ = ("_meta", "_upload")

    _upload: Upload[S]
    _meta: Callable[[S], Mapping[str, object]]  # the writer's meta callback

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
        """The reason the writer was closed with; ``None`` while it is open."""
        return self._upload.reason

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

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._upload.phase.value} size={self._upload.size}>"
