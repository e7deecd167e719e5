"""Errors of the upload-configuration layer; all derive from :class:`~uploadwriter.UploadError`."""

from __future__ import annotations

from collections.abc import Sequence

from .._errors import UploadError

__all__ = ("EntryInProgress", "EntryRefused", "UnknownEntry")


class UnknownEntry(UploadError, LookupError):
    """Raised when no entry has the given ref (never selected, or cancelled or consumed)."""

    def __init__(self, ref: str, name: str) -> None:
        super().__init__(
            f"upload {name!r} has no entry with ref {ref!r} "
            "(it was never selected, or was cancelled or consumed)"
        )
        self.ref: str = ref


class EntryRefused(UploadError):
    """Raised when an entry's upload cannot start (errors, started before, too many files)."""

    def __init__(self, ref: str, why: str) -> None:
        super().__init__(f"entry {ref!r} cannot be uploaded: {why}")
        self.ref: str = ref


class EntryInProgress(UploadError):
    """Raised when consuming entries while any requested entry is still in progress (not done)."""

    def __init__(self, refs: Sequence[str]) -> None:
        listed = ", ".join(repr(ref) for ref in refs)
        super().__init__(
            f"cannot consume uploaded entries while {listed} "
            f"{'is' if len(refs) == 1 else 'are'} still in progress (not uploaded yet, or "
            "uploading); let them finish or cancel them first"
        )
        self.refs: tuple[str, ...] = tuple(refs)
