"""What an entry's error says to a person: the ``message`` next to each error ``code``.

The codes are the uploads layer's (:class:`~uploadwriter.uploads.EntryError`):
``too_large``, ``not_accepted``, ``too_many_files``, ``writer_failure``,
``chunk_timeout``, ``incomplete``, plus ``malformed`` for what a client sent
wrong, and a validator's own codes. Messages never show a server path or an
exception's text (those go to the log).
"""

from __future__ import annotations

from .._errors import FileTooLarge
from ..uploads import EntryError, UploadConfig, UploadEntry

__all__ = ("entry_message", "human_size")


def human_size(size: int) -> str:
    """``8_000_000`` -> ``"8 MB"``: decimal units, three significant digits."""
    if size < 1000:
        return f"{size} byte" + ("" if size == 1 else "s")
    for unit, scale in (("kB", 1e3), ("MB", 1e6), ("GB", 1e9)):
        text = f"{size / scale:.3g}"
        if float(text) < 1000:  # 999_999 is "1 MB", not "1e+03 kB"
            return f"{text} {unit}"
    return f"{size / 1e12:.3g} TB"


def _accepted(config: UploadConfig) -> str:
    accept = config.accept
    return "any file" if accept == "any" else ", ".join(accept)


def entry_message(  # noqa: PLR0911 - one sentence per code
    error: EntryError, entry: UploadEntry, config: UploadConfig
) -> str:
    """Return the sentence that explains ``error`` of ``entry`` to the person uploading it."""
    code, reason = error.code, error.reason
    if code == "too_large":
        if isinstance(reason, FileTooLarge):
            # Sizes over the limit are refused when announced: this one sent
            # more than it announced (the announced size is its limit).
            return (
                f"More data arrived than the {human_size(entry.client_size)} the browser "
                "announced, so the upload was stopped."
            )
        return (
            f"This file is {human_size(entry.client_size)}; the limit is "
            f"{human_size(config.max_file_size)}."
        )
    if code == "not_accepted":
        return f"This type of file is not accepted here (accepted: {_accepted(config)})."
    if code == "too_many_files":
        limit = config.max_entries
        return f"Too many files: at most {limit} file{'s' if limit > 1 else ''} at a time."
    if code == "writer_failure":
        return "The server could not store this file."
    if code == "chunk_timeout":
        timeout = config.chunk_timeout
        waited = f" for {timeout:g} seconds" if timeout else ""
        return f"Nothing arrived{waited}, so the upload was stopped."
    if code == "incomplete":
        return "The upload ended before the whole file arrived."
    if isinstance(reason, str) and reason:
        return reason
    return f"The server refused this file ({code})."
