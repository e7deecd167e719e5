"""Close paths: the fixed uploads, and telling which path an upload took.

Every check runs one fixed upload per close path before Hypothesis's
random ones, so a writer that mishandles one path is flagged on every run,
whatever ``max_examples`` (a random search reaches a given path on most runs,
not all). Which paths an upload took is read from what happened — the close
reason the writer got, and the driver's error — not assumed from the plan.
"""

from __future__ import annotations

import errno
import os
import types
from collections.abc import Mapping

from .._errors import FileTooLarge, IncompleteUpload, UploadError
from .._events import Cancel, Chunk, CloseReason, Done, Error
from ._strategies import InjectedFailure
from ._streams import EventStream

__all__ = ("CLOSE_PATHS", "close_path", "fixed_uploads")

CLOSE_PATHS: Mapping[str, str] = types.MappingProxyType(
    {
        "done": "Done() completes the upload: close(state, Done())",
        "size-reached": "the last byte of expected_size completes it: close(state, Done())",
        "cancel": "Cancel() while the upload is open: close(state, Cancel())",
        "left-open": "the block is left while the upload is open: close(state, Cancel())",
        "write-err": "a write answers Err(reason, s): close(s, Error(reason))",
        "write-raised": "a write raises: close(last good state, Error(exception))",
        "too-large": "a chunk would pass the limit: close(state, Cancel()), FileTooLarge",
        "incomplete": "Done() before expected_size: close(state, Cancel()), IncompleteUpload",
        "after-close": "a chunk after the upload closed: no call, UploadClosed",
    }
)
"""Each close path's name and what happens on it: the names in ``CheckReport.paths_covered``."""

# When the upload closed: while starting, on a chunk, on Done(), on Cancel(), on leaving.
When = str


def close_path(
    reason: CloseReason | None, when: When | None, error: UploadError | None, *, raised: bool
) -> str | None:
    """The close path of an upload closed with ``reason`` during ``when``.

    ``error`` is what the driver raised then, ``raised`` whether the check
    made a write raise. ``None`` for an upload that never started.
    """
    if reason is None or when is None:
        return None
    if isinstance(reason, Done):
        return "done" if when == "done" else "size-reached"
    if isinstance(reason, Error):
        return "write-raised" if raised else "write-err"
    if isinstance(error, FileTooLarge):
        return "too-large"
    if isinstance(error, IncompleteUpload):
        return "incomplete"
    return "left-open" if when == "exit" else "cancel"


def fixed_uploads() -> list[tuple[str, EventStream]]:
    """One small upload per close path, in the order of :data:`CLOSE_PATHS`.

    Built anew for each check: the exceptions in them are raised, and so
    carry a traceback afterwards.
    """
    first, second = Chunk(b"abc"), Chunk(b"defg")
    full = (first, second, Done())
    return [
        ("done", EventStream(full)),
        ("size-reached", EventStream((first, second), expected_size=7)),
        ("cancel", EventStream((first, Cancel()))),
        ("left-open", EventStream((first,))),
        (
            "write-err",
            EventStream(
                full, fail_write_at=1, fail_reason=OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            ),
        ),
        (
            "write-raised",
            EventStream(
                full,
                fail_write_at=1,
                fail_reason=InjectedFailure("write_chunk raised"),
                fail_raises=True,
            ),
        ),
        ("too-large", EventStream(full, max_size=5)),
        ("incomplete", EventStream((first, Done()), expected_size=7)),
        ("after-close", EventStream((first, Done(), second))),
    ]
