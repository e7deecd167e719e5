"""Every error the library raises about an upload derives from ``UploadError``."""

from __future__ import annotations

__all__ = (
    "ChunkTimeout",
    "FileTooLarge",
    "IncompleteUpload",
    "InitError",
    "InvalidEvent",
    "InvalidLimit",
    "ResumeError",
    "UploadBusy",
    "UploadClosed",
    "UploadError",
    "UploadFailed",
    "UploadInProgress",
    "WriterFailure",
)


#: The longest repr a message prints: a message never carries megabytes.
REPR_LIMIT = 200


def safe_repr(value: object, limit: int = REPR_LIMIT) -> str:
    """``repr(value)``, cut to ``limit`` characters, or a placeholder if it raises.

    Messages never fail and never grow with the data they describe.
    """
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - any failing __repr__ must not hide the real error
        return f"<{type(value).__name__} object (repr failed)>"
    if len(text) > limit:
        return f"{text[: limit - 30]}...<{len(text)} characters>"
    return text


def _chain(error: BaseException, reason: object) -> None:
    # A callback's exception is the direct cause of the error we report, so
    # the traceback shows both and nothing is swallowed (L11).
    if isinstance(reason, BaseException):
        error.__cause__ = reason


class UploadError(Exception):
    """Base class of every error raised about an upload."""


class InitError(UploadError):
    """Raised when the writer's ``init`` returned ``Err`` or raised: the upload never started."""

    def __init__(self, reason: object) -> None:
        super().__init__(f"the writer's init failed: {safe_repr(reason)}; no upload was started")
        self.reason = reason
        _chain(self, reason)


class ResumeError(UploadError):
    """Raised when a resumable writer's ``resume`` returned ``Err`` or raised: not resumed here."""

    def __init__(self, reason: object) -> None:
        super().__init__(
            f"the writer's resume failed: {safe_repr(reason)}; the upload was not resumed "
            "(its saved state is still what storage holds)"
        )
        self.reason = reason
        _chain(self, reason)


class FileTooLarge(UploadError):
    """Raised when a chunk would take the upload past its size limit; the writer was cancelled."""

    def __init__(self, limit: int, size: int, attempted: int) -> None:
        super().__init__(
            f"a chunk of {attempted} bytes would take the upload from {size} to "
            f"{size + attempted} bytes, past its limit of {limit} bytes; "
            "the chunk was not written and the upload was cancelled"
        )
        self.limit = limit
        self.size = size
        self.attempted = attempted


class WriterFailure(UploadError):
    """Raised when ``write_chunk`` or ``close`` returned ``Err`` or raised."""

    def __init__(self, reason: object, *, during: str) -> None:
        super().__init__(f"the writer's {during} failed: {safe_repr(reason)}")
        self.reason = reason
        self.during = during
        _chain(self, reason)


class IncompleteUpload(UploadError):
    """Raised when ``Done`` arrives before the expected size; the writer was cancelled."""

    def __init__(self, expected_size: int, size: int) -> None:
        super().__init__(
            f"Done arrived after {size} of the {expected_size} expected bytes; "
            "the upload was cancelled"
        )
        self.expected_size = expected_size
        self.size = size


class UploadClosed(UploadError):
    """Raised when a chunk is sent to an upload that is closed or closing; nothing is written."""

    def __init__(self, size: int, attempted: int, phase: str = "closed") -> None:
        super().__init__(
            f"the upload is {phase} after {size} bytes; a chunk of {attempted} bytes "
            "was refused, not written"
        )
        self.size = size
        self.attempted = attempted


class UploadInProgress(UploadError):
    """Raised when ``meta`` is asked for before the upload has closed with ``Done``."""


class UploadFailed(UploadError):
    """Raised when ``meta`` is asked for after the upload was cancelled or failed."""

    def __init__(self, message: str, failure: BaseException | None) -> None:
        super().__init__(message)
        self.failure = failure
        if failure is not None:
            # Annotated as in BaseException, so that type checkers see no new attribute.
            self.__cause__: BaseException | None = failure


class ChunkTimeout(UploadError):
    """Raised when no chunk arrived within ``chunk_timeout`` seconds; the writer was cancelled."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no chunk arrived within {seconds:g} seconds; the upload was cancelled")
        self.seconds = seconds


class UploadBusy(UploadError):
    """Raised when an event is sent before the upload started or while a writer call is pending."""


class InvalidEvent(UploadError, TypeError):
    """Raised when an event, a chunk's data or a writer's answer is not of an allowed type."""


class InvalidLimit(UploadError, ValueError):
    """Raised when ``expected_size``, ``max_size`` or ``chunk_timeout`` has a value out of range."""
