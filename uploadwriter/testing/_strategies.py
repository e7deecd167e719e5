"""Hypothesis strategies for chunks, events and close reasons."""

from __future__ import annotations

import errno
import os
from typing import Literal, TypeAlias

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from .._events import Cancel, Chunk, CloseReason, Done, Error, Event

__all__ = (
    "DEFAULT_MAX_CHUNK_SIZE",
    "PHOENIX_CHUNK_SIZE",
    "InjectedFailure",
    "check_bool",
    "check_int",
    "check_optional_bool",
    "chunk_data",
    "chunks",
    "close_reasons",
    "error_reasons",
    "events",
    "exception_reasons",
)

PHOENIX_CHUNK_SIZE = 64_000
#: Largest chunk the strategies make unless told otherwise: four of Phoenix's chunks.
DEFAULT_MAX_CHUNK_SIZE = 4 * PHOENIX_CHUNK_SIZE
# Sizes where writers that buffer or split tend to break: Phoenix's chunk
# size and the 64 KiB boundary, each with its neighbours.
_EDGE_SIZES = (63_999, 64_000, 64_001, 65_535, 65_536, 65_537)

DataKind: TypeAlias = Literal["bytes", "bytearray", "memoryview", "any"]
_KINDS = ("bytes", "bytearray", "memoryview", "any")


# --- argument validation (Hypothesis house style: InvalidArgument) ----------


def check_int(name: str, value: object, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{name}={value!r} must be a whole number")
    if value < minimum:
        raise InvalidArgument(f"{name}={value!r} must be at least {minimum}")
    return value


def _check_sizes(min_name: str, min_size: object, max_name: str, max_size: object) -> None:
    low = check_int(min_name, min_size)
    high = check_int(max_name, max_size)
    if low > high:
        raise InvalidArgument(f"{min_name}={low!r} must not be more than {max_name}={high!r}")


def check_optional_bool(name: str, value: object) -> None:
    if value is not None and not isinstance(value, bool):
        raise InvalidArgument(f"{name}={value!r} must be True, False or None")


def check_bool(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise InvalidArgument(f"{name}={value!r} must be True or False")


# --- chunks -----------------------------------------------------------------


def _sizes(min_size: int, max_size: int) -> st.SearchStrategy[int]:
    """Chunk sizes skewed toward what uploads really send, always able to reach ``max_size``."""

    def span(low: int, high: int) -> st.SearchStrategy[int] | None:
        low, high = max(low, min_size), min(high, max_size)
        return st.integers(low, high) if low <= high else None

    # Branches come first-to-last in shrinking order: tiny chunks are the
    # simplest, so a failure shrinks toward them.
    branches = [span(0, 16), span(0, 4096)]
    edges = [n for n in _EDGE_SIZES if min_size <= n <= max_size]
    if edges:
        branches.append(st.sampled_from(edges))
    branches.append(st.integers(min_size, max_size))
    return st.one_of([b for b in branches if b is not None])


_PATTERNS = st.binary(min_size=0, max_size=64)


@st.composite
def _payloads(draw: st.DrawFn, sizes: st.SearchStrategy[int]) -> bytes:
    # Large chunks repeat a short random pattern: drawing every byte of a
    # 64 KB chunk would be slow and would exhaust Hypothesis's data budget,
    # and a pattern still catches writers that reorder or drop bytes.
    size = draw(sizes)
    pattern = draw(_PATTERNS)[:size]
    if not pattern:
        return bytes(size)
    return (pattern * (size // len(pattern) + 1))[:size]


def _as_kind(data: bytes, kind: str) -> bytes | bytearray | memoryview:
    if kind == "bytearray":
        return bytearray(data)
    if kind == "memoryview":
        # A view into the middle of a larger writable buffer, as a parser
        # slicing its receive buffer would hand over.
        return memoryview(bytearray(b"\xff" + data + b"\xff"))[1:-1]
    return data


def chunk_data(
    *,
    min_size: int = 0,
    max_size: int = DEFAULT_MAX_CHUNK_SIZE,
    kind: DataKind = "bytes",
) -> st.SearchStrategy[bytes | bytearray | memoryview]:
    """Return a strategy for the raw data of one chunk.

    Sizes run from ``min_size`` to ``max_size`` bytes, skewed toward empty and
    small chunks, Phoenix's 64 000-byte chunk and the 64 KiB boundary, while
    any size in between stays reachable. ``kind`` is ``"bytes"``,
    ``"bytearray"``, ``"memoryview"`` (a view into a larger buffer), or
    ``"any"`` for a mix of the three.

    Raises:
        InvalidArgument: a size is negative or not an int, ``min_size > max_size``,
            or ``kind`` is not one of the four above.
    """
    _check_sizes("min_size", min_size, "max_size", max_size)
    if kind not in _KINDS:
        raise InvalidArgument(f"kind={kind!r} must be one of {', '.join(map(repr, _KINDS))}")
    data = _payloads(_sizes(min_size, max_size))
    kinds = st.sampled_from(_KINDS[:3]) if kind == "any" else st.just(kind)
    return st.tuples(data, kinds).map(lambda pair: _as_kind(*pair))


def chunks(
    *, min_size: int = 0, max_size: int = DEFAULT_MAX_CHUNK_SIZE
) -> st.SearchStrategy[Chunk]:
    """Return a strategy for :class:`~uploadwriter.Chunk` events (see :func:`chunk_data`).

    The chunks are built from ``bytes``, ``bytearray`` and ``memoryview`` data alike.

    Raises:
        InvalidArgument: a size is negative or not an int, or ``min_size > max_size``.
    """
    return chunk_data(min_size=min_size, max_size=max_size, kind="any").map(Chunk)


def events(
    *, min_chunk_size: int = 0, max_chunk_size: int = DEFAULT_MAX_CHUNK_SIZE
) -> st.SearchStrategy[Event]:
    """Return a strategy for single events: mostly chunks, sometimes ``Done()`` or ``Cancel()``.

    Raises:
        InvalidArgument: a chunk size is negative or not an int, or the minimum
            is more than the maximum.
    """
    _check_sizes("min_chunk_size", min_chunk_size, "max_chunk_size", max_chunk_size)
    chunk = chunks(min_size=min_chunk_size, max_size=max_chunk_size)
    return st.one_of(chunk, chunk, st.just(Done()), st.just(Cancel()))


# --- close reasons ----------------------------------------------------------


class InjectedFailure(Exception):
    """Never raised by the kit: one of the exception types :func:`error_reasons` makes."""


def exception_reasons() -> st.SearchStrategy[Exception]:
    """The exceptions among :func:`error_reasons`: what a failing ``write_chunk`` raises."""
    text = st.text(max_size=20)
    return st.one_of(
        st.sampled_from([errno.ENOSPC, errno.EIO, errno.EACCES]).map(
            lambda code: OSError(code, os.strerror(code))
        ),
        st.builds(ValueError, text),
        st.builds(RuntimeError, text),
        st.builds(InjectedFailure, text),
        st.builds(TimeoutError),
    )


def error_reasons() -> st.SearchStrategy[object]:
    """Return a strategy for the reasons inside ``Error(reason)``: anything at all.

    Exceptions (``OSError`` with an errno, ``ValueError``, ...) as a failing
    ``write_chunk`` raises them, and the plain values a writer may put in
    ``Err(reason, state)``: ``None``, strings, numbers, tuples, bytes. Each has
    a ``repr`` that is valid Python, so a failure report can be replayed.
    """
    text = st.text(max_size=20)
    plain = st.one_of(
        st.none(),
        text,
        st.integers(),
        st.tuples(text, st.integers()),
        st.binary(max_size=8),
    )
    return st.one_of(exception_reasons(), plain)


def close_reasons() -> st.SearchStrategy[CloseReason]:
    """Return a strategy for close reasons: ``Done()``, ``Cancel()`` and ``Error(anything)``."""
    return st.one_of(st.just(Done()), st.just(Cancel()), st.builds(Error, error_reasons()))
