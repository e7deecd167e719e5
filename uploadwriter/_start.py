"""The first value of every upload, from the sizes a caller gives.

Not in :mod:`uploadwriter.reducer` itself, which is compiled with mypyc: a
compiled function checks its arguments' declared types before its body runs,
so ``start(expected_size="3")`` would raise mypyc's ``TypeError`` rather than
the one of :func:`~uploadwriter._options.size_option`, which names the option.
This function stays Python, and validates every size itself.
"""

from __future__ import annotations

from typing import Any

from ._errors import safe_repr
from ._options import size_option
from ._values import STARTING, Limits, Upload

__all__ = ("start",)


def start(
    *, expected_size: int | None = None, max_size: int | None = None, resumable: bool = False
) -> Upload[Any]:
    """Return a new upload waiting for ``init``'s answer.

    Raises:
        TypeError: a size is not an int (or ``None``), or ``resumable`` not a bool.
        InvalidLimit: a size is negative.
    """
    expected = size_option("expected_size", expected_size)
    maximum = size_option("max_size", max_size)
    if not isinstance(resumable, bool):
        raise TypeError(f"resumable must be True or False, not {safe_repr(resumable)}")
    known = [n for n in (expected, maximum) if n is not None]
    limit = min(known) if known else None
    return Upload(STARTING, None, 0, Limits(expected, maximum, limit, resumable))
