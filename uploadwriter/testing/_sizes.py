"""Uploads around the sizes where writers change behaviour.

A writer's interesting sizes are large and specific: an S3 part (5 MiB at
least), a buffer (``TmpFileWriter``'s 128 KiB), the switch between a
``Content-Length`` and a chunked request. Drawing megabytes from Hypothesis
would be slow and would exhaust its data budget, and the search would not
land on the boundary anyway. So the bytes come from one repeated buffer,
shared by every chunk (nothing is copied), and only the shape of the upload
around the size (where it starts, what happens there) is fixed or drawn.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable
from typing import Any

from hypothesis import strategies as st

from .._events import Cancel, Chunk, Done, Event
from ._laws import short
from ._strategies import PHOENIX_CHUNK_SIZE, InjectedFailure
from ._streams import EventStream

__all__ = ("check_sizes", "near_sizes", "sized_uploads")

#: The chunk size of the uploads built here: Phoenix's default.
CHUNK = PHOENIX_CHUNK_SIZE
# A pattern short enough for a report to print a chunk as Python source.
_PATTERN = b"abcdefghijklmnopqrstuvwxyz"
_BUFFER = (_PATTERN * (CHUNK // len(_PATTERN) + 1))[:CHUNK]
_FULL = Chunk(_BUFFER)


def check_sizes(sizes: object) -> tuple[int, ...]:
    """Validate ``sizes=``: whole numbers of bytes, at least 1; return them sorted, once each.

    Raises:
        TypeError: ``sizes`` is not a collection of ints.
        ValueError: a size is less than 1.
    """
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Iterable):
        raise TypeError(f"sizes= must be a list of sizes in bytes, e.g. [6 * 2**20], not {sizes!r}")
    found = list(sizes)
    for size in found:
        if isinstance(size, bool) or not isinstance(size, int):
            raise TypeError(f"sizes= must hold whole numbers of bytes, not {short(size)}")
        if size < 1:
            raise ValueError(f"sizes= must hold sizes of at least 1 byte, not {size}")
    return tuple(sorted(set(found)))


def _body(total: int) -> list[Event]:
    """``total`` bytes in Phoenix-sized chunks, all views of the one buffer."""
    whole, rest = divmod(total, CHUNK)
    body: list[Event] = [_FULL] * whole
    if rest:
        body.append(Chunk(_BUFFER[:rest]))
    return body


def sized_uploads(size: int) -> list[tuple[str, str, EventStream]]:
    """Fixed uploads around ``size``: ``(close path, what it is, upload)``.

    Totals of ``size - 1``, ``size`` and ``size + 1`` bytes; ``size`` bytes
    announced as the expected size; and a single chunk that crosses ``size``
    (it starts up to half a chunk before and ends as far after), completed,
    answered ``Err``, raising, refused by ``max_size=size``, and cancelled.
    """
    half = min(size, CHUNK // 2)
    before = _body(size - half)
    crossing = Chunk(_BUFFER[: 2 * half])
    at = len(before)  # the index of the crossing write
    across = (*before, crossing, Done())
    lost = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    raised = InjectedFailure(f"write_chunk raised across {size}")
    crossing_text = f"a chunk of {2 * half} bytes crossing {size}"
    return [
        ("done", f"{size - 1} bytes, then Done()", EventStream((*_body(size - 1), Done()))),
        ("done", f"{size} bytes, then Done()", EventStream((*_body(size), Done()))),
        ("done", f"{size + 1} bytes, then Done()", EventStream((*_body(size + 1), Done()))),
        (
            "size-reached",
            f"{size} bytes, announced",
            EventStream(_body(size), expected_size=size),
        ),
        ("done", f"{crossing_text}, then Done()", EventStream(across)),
        (
            "write-err",
            f"{crossing_text}, answered Err",
            EventStream(across, fail_write_at=at, fail_reason=lost),
        ),
        (
            "write-raised",
            f"{crossing_text}, raising",
            EventStream(across, fail_write_at=at, fail_reason=raised, fail_raises=True),
        ),
        (
            "too-large",
            f"{crossing_text}, past max_size={size}",
            EventStream(across, max_size=size),
        ),
        ("cancel", f"{crossing_text}, then Cancel()", EventStream((*before, crossing, Cancel()))),
    ]


@st.composite
def _near(draw: st.DrawFn, sizes: tuple[int, ...], tails: Any) -> EventStream:
    size = draw(st.sampled_from(sizes))
    # The drawn part starts this many bytes before the size (shrinking to 0).
    before = draw(st.integers(0, min(size, 2 * CHUNK)))
    start = size - before
    prefix = _body(start)
    tail: EventStream = draw(tails)

    def shifted(value: int | None, by: int) -> int | None:
        return None if value is None else value + by

    return EventStream(
        (*prefix, *tail.events),
        shifted(tail.expected_size, start),
        shifted(tail.max_size, start),
        shifted(tail.fail_write_at, len(prefix)),
        tail.fail_reason,
        fail_raises=tail.fail_raises,
    )


def near_sizes(
    sizes: tuple[int, ...], tails: st.SearchStrategy[EventStream]
) -> st.SearchStrategy[EventStream]:
    """Uploads that send cheap bytes up to near one of ``sizes``, then go on as one of
    ``tails`` (its limits and failing write moved along accordingly)."""
    return _near(sizes, tails)
