"""Hypothesis strategies for chunks, events, close reasons and whole uploads."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Sequence
from typing import Any, Literal, TypeAlias

import attrs
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.vendor import pretty

from .._errors import safe_repr
from .._events import Cancel, Chunk, CloseReason, Done, Error, Event

__all__ = (
    "DEFAULT_MAX_CHUNK_SIZE",
    "EventStream",
    "chunk_data",
    "chunks",
    "close_reasons",
    "error_reasons",
    "event_streams",
    "events",
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


def _check_int(name: str, value: object, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{name}={value!r} must be a whole number")
    if value < minimum:
        raise InvalidArgument(f"{name}={value!r} must be at least {minimum}")
    return value


def _check_sizes(min_name: str, min_size: object, max_name: str, max_size: object) -> None:
    low = _check_int(min_name, min_size)
    high = _check_int(max_name, max_size)
    if low > high:
        raise InvalidArgument(f"{min_name}={low!r} must not be more than {max_name}={high!r}")


def _check_optional_bool(name: str, value: object) -> None:
    if value is not None and not isinstance(value, bool):
        raise InvalidArgument(f"{name}={value!r} must be True, False or None")


def _check_bool(name: str, value: object) -> None:
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


@st.composite
def _payloads(draw: st.DrawFn, size: int) -> bytes:
    # Large chunks repeat a short random pattern: drawing every byte of a
    # 64 KB chunk would be slow and would exhaust Hypothesis's data budget,
    # and a pattern still catches writers that reorder or drop bytes.
    pattern = draw(st.binary(min_size=0, max_size=min(size, 64)))
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
    data = _sizes(min_size, max_size).flatmap(_payloads)
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


def error_reasons() -> st.SearchStrategy[object]:
    """Return a strategy for the reasons inside ``Error(reason)``: anything at all.

    Exceptions (``OSError`` with an errno, ``ValueError``, ...) as a failing
    ``write_chunk`` raises them, and the plain values a writer may put in
    ``Err(reason, state)``: ``None``, strings, numbers, tuples, bytes. Each has
    a ``repr`` that is valid Python, so a failure report can be replayed.
    """
    text = st.text(max_size=20)
    exceptions = st.one_of(
        st.sampled_from([errno.ENOSPC, errno.EIO, errno.EACCES]).map(
            lambda code: OSError(code, os.strerror(code))
        ),
        st.builds(ValueError, text),
        st.builds(RuntimeError, text),
        st.builds(InjectedFailure, text),
        st.builds(TimeoutError),
    )
    plain = st.one_of(
        st.none(),
        text,
        st.integers(),
        st.tuples(text, st.integers()),
        st.binary(max_size=8),
    )
    return st.one_of(exceptions, plain)


def close_reasons() -> st.SearchStrategy[CloseReason]:
    """Return a strategy for close reasons: ``Done()``, ``Cancel()`` and ``Error(anything)``."""
    return st.one_of(st.just(Done()), st.just(Cancel()), st.builds(Error, error_reasons()))


# --- whole uploads ----------------------------------------------------------


def _chunk_source(data: bytes) -> str:
    """Python source that rebuilds ``data``, short where it can be."""
    n = len(data)
    if n <= 32:
        return repr(data)
    for period in range(1, min(65, n // 2 + 1)):
        if data[: n - period] == data[period:]:
            pattern = data[:period]
            if pattern == b"\0":
                return f"bytes({n})"
            if period == 1:
                return f"{pattern!r} * {n}"
            return f"({pattern!r} * {n // period + 1})[:{n}]"
    if n <= 4096:
        return f"bytes.fromhex({data.hex()!r})"
    return f"<{n} bytes, not shown>"


def _event_source(event: object) -> str:
    if isinstance(event, Chunk):
        return f"Chunk({_chunk_source(event.data)})"
    return safe_repr(event)


def _to_tuple(events: Iterable[Event]) -> tuple[Event, ...]:
    return tuple(events)


def _print_chunk(chunk: Chunk, printer: Any, cycle: bool) -> None:
    printer.text(f"Chunk({_chunk_source(chunk.data)})")


# Hypothesis prints examples (and state machine steps) with its own
# pretty-printer, which would spell out every byte of an attrs Chunk: a
# 64 KB chunk would fill a screen and trigger "overly large repr" warnings.
pretty.for_type_by_name("uploadwriter._events", "Chunk", _print_chunk)


@attrs.frozen(repr=False)
class EventStream:
    """One whole upload as a caller would drive it: limits, then events in order.

    ``expected_size`` and ``max_size`` are given to the driver. When
    ``fail_write_at`` is set, ``check_writer`` turns the answer of that
    ``write_chunk`` call (counted from 0) into ``Err(fail_reason, state)``, as if
    the writer had failed, so that ``close(state, Error(fail_reason))`` is tested.
    """

    events: tuple[Event, ...] = attrs.field(converter=_to_tuple)
    expected_size: int | None = None
    max_size: int | None = None
    fail_write_at: int | None = None
    fail_reason: object = None

    @property
    def total(self) -> int:
        """Bytes in all the stream's chunks."""
        return sum(len(e.data) for e in self.events if isinstance(e, Chunk))

    def __repr__(self) -> str:
        # Valid Python (for chunks up to 4 KiB of arbitrary data, or any
        # size of a repeated pattern), so a failure report can be pasted.
        parts = [f"[{', '.join(_event_source(e) for e in self.events)}]"]
        if self.expected_size is not None:
            parts.append(f"expected_size={self.expected_size!r}")
        if self.max_size is not None:
            parts.append(f"max_size={self.max_size!r}")
        if self.fail_write_at is not None:
            parts.append(f"fail_write_at={self.fail_write_at!r}")
            parts.append(f"fail_reason={safe_repr(self.fail_reason)}")
        return f"EventStream({', '.join(parts)})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # Hypothesis prints examples with its own pretty-printer, which would
        # otherwise spell out every byte of every chunk.
        printer.text(repr(self))


@st.composite
def _streams(
    draw: st.DrawFn,
    *,
    with_expected_size: bool | None,
    adversarial: bool,
    write_failures: bool,
    max_chunks: int,
    max_chunk_size: int,
) -> EventStream:
    body: list[Event] = list(draw(st.lists(chunks(max_size=max_chunk_size), max_size=max_chunks)))
    total = sum(len(c.data) for c in body if isinstance(c, Chunk))
    sized = draw(st.booleans()) if with_expected_size is None else with_expected_size
    expected: int | None = total if sized else None
    limit: int | None = None
    # Each choice below shrinks toward the plain, well-formed upload.
    if adversarial and draw(st.booleans()):
        if sized and draw(st.booleans()):
            # Announced size wrong: too small (FileTooLarge) or too large (incomplete).
            expected = draw(st.integers(0, 2 * total + 1))
        if draw(st.booleans()):
            limit = draw(st.integers(0, total + 1))
        # Stop at any point: Cancel, an early Done, or leaving the block while
        # open; the chunks after it are events after close.
        cut = draw(st.integers(0, len(body)))
        stop: Sequence[Event] = draw(
            st.sampled_from([(), (Cancel(),), (Done(),), (Done(), Done())])
        )
        body[cut:cut] = stop
        body.extend(draw(st.lists(events(max_chunk_size=16), max_size=3)))
    elif not sized or draw(st.booleans()):
        # A sized upload closes itself on its last byte; its Done is optional.
        body.append(Done())
    fail_at: int | None = None
    reason: object = None
    n_chunks = sum(isinstance(e, Chunk) for e in body)
    if write_failures and n_chunks and draw(st.integers(0, 2)) == 2:
        fail_at = draw(st.integers(0, n_chunks - 1))
        reason = draw(error_reasons())
    return EventStream(tuple(body), expected, limit, fail_at, reason)


def event_streams(
    *,
    with_expected_size: bool | None = None,
    adversarial: bool = True,
    write_failures: bool = True,
    max_chunks: int = 12,
    max_chunk_size: int = DEFAULT_MAX_CHUNK_SIZE,
) -> st.SearchStrategy[EventStream]:
    """Return a strategy for whole uploads (:class:`EventStream`).

    Well-formed uploads send chunks then ``Done()``, announcing their size
    when ``with_expected_size`` is true, never when false, either way when
    ``None``. With ``adversarial`` (the default), half the uploads also
    cancel at any point, send ``Done()`` early or twice, send events after
    the upload closed, announce a wrong size, pass a ``max_size`` limit, or
    stop sending while the upload is open. A zero-byte upload is among the
    simplest cases. With ``write_failures``, about one upload in three makes a
    write fail with any reason (see :class:`EventStream`).

    Raises:
        InvalidArgument: an option is of the wrong type, or a count or size is negative.
    """
    _check_optional_bool("with_expected_size", with_expected_size)
    _check_bool("adversarial", adversarial)
    _check_bool("write_failures", write_failures)
    _check_int("max_chunks", max_chunks)
    _check_int("max_chunk_size", max_chunk_size)
    return _streams(
        with_expected_size=with_expected_size,
        adversarial=adversarial,
        write_failures=write_failures,
        max_chunks=max_chunks,
        max_chunk_size=max_chunk_size,
    )
