"""Whole uploads as event streams: the value, and its strategy."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import attrs
from hypothesis import strategies as st
from hypothesis.vendor import pretty

from .._errors import safe_repr
from .._events import Cancel, Chunk, Done, Event
from ._strategies import (
    DEFAULT_MAX_CHUNK_SIZE,
    check_bool,
    check_int,
    check_optional_bool,
    chunks,
    error_reasons,
    events,
    exception_reasons,
)

__all__ = ("EventStream", "event_streams")


def _chunk_source(data: bytes) -> str:
    """Python source that rebuilds ``data``, short where it can be."""
    n = len(data)
    if n <= 32:
        return repr(data)
    view = memoryview(data)
    for period in range(1, min(65, n // 2 + 1)):
        # The cheap test first: most periods fail within the first bytes, and
        # a multi-megabyte chunk is not copied for each one.
        head = min(64, n - period)
        if view[period : period + head] == view[:head] and view[: n - period] == view[period:]:
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


def _events_source(events: Sequence[Event]) -> str:
    """Python source of a list of events; a run of three or more equal ones as ``*[e] * n``."""
    parts: list[str] = []
    i = 0
    while i < len(events):
        j = i + 1
        while j < len(events) and (events[j] is events[i] or events[j] == events[i]):
            j += 1
        source = _event_source(events[i])
        parts.append(f"*[{source}] * {j - i}" if j - i >= 3 else ", ".join([source] * (j - i)))
        i = j
    return f"[{', '.join(parts)}]"


def _check_failure(stream: EventStream, attribute: attrs.Attribute[Any], value: bool) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"fail_raises must be True or False, not {safe_repr(value)}")
    if value and stream.fail_write_at is None:
        raise ValueError("fail_raises=True needs fail_write_at: the index of the write that raises")
    if value and not isinstance(stream.fail_reason, Exception):
        raise TypeError(
            f"with fail_raises=True, fail_reason must be an exception to raise, "
            f"not {safe_repr(stream.fail_reason)}"
        )


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
    With ``fail_raises=True`` that write raises ``fail_reason`` (an exception)
    instead, without calling the writer, so that ``close(last good state,
    Error(exception))`` is tested (L11).

    Raises:
        TypeError: ``fail_raises`` is not a bool, or is true with a ``fail_reason``
            that is not an exception.
        ValueError: ``fail_raises`` is true without a ``fail_write_at``.
    """

    events: tuple[Event, ...] = attrs.field(converter=_to_tuple)
    expected_size: int | None = None
    max_size: int | None = None
    fail_write_at: int | None = None
    fail_reason: object = None
    fail_raises: bool = attrs.field(default=False, validator=_check_failure, kw_only=True)

    @property
    def total(self) -> int:
        """Bytes in all the stream's chunks."""
        return sum(len(e.data) for e in self.events if isinstance(e, Chunk))

    def __repr__(self) -> str:
        # Valid Python (for chunks up to 4 KiB of arbitrary data, or any
        # size of a repeated pattern), so a failure report can be pasted.
        parts = [_events_source(self.events)]
        if self.expected_size is not None:
            parts.append(f"expected_size={self.expected_size!r}")
        if self.max_size is not None:
            parts.append(f"max_size={self.max_size!r}")
        if self.fail_write_at is not None:
            parts.append(f"fail_write_at={self.fail_write_at!r}")
            parts.append(f"fail_reason={safe_repr(self.fail_reason)}")
        if self.fail_raises:
            parts.append("fail_raises=True")
        return f"EventStream({', '.join(parts)})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # Hypothesis prints examples with its own pretty-printer, which would
        # otherwise spell out every byte of every chunk.
        printer.text(repr(self))


@attrs.frozen
class _Parts:
    """The strategies one upload is drawn from, built once: Hypothesis spends more
    time building and validating a strategy than drawing from it."""

    body: st.SearchStrategy[list[Chunk]]
    after: st.SearchStrategy[list[Event]]
    stops: st.SearchStrategy[tuple[Event, ...]]
    reasons: st.SearchStrategy[object]
    exceptions: st.SearchStrategy[Exception]


@st.composite
def _streams(
    draw: st.DrawFn,
    parts: _Parts,
    *,
    with_expected_size: bool | None,
    adversarial: bool,
    write_failures: bool,
) -> EventStream:
    body: list[Event] = list(draw(parts.body))
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
        body[cut:cut] = draw(parts.stops)
        body.extend(draw(parts.after))
    elif not sized or draw(st.booleans()):
        # A sized upload closes itself on its last byte; its Done is optional.
        body.append(Done())
    fail_at: int | None = None
    reason: object = None
    raises = False
    n_chunks = sum(isinstance(e, Chunk) for e in body)
    if write_failures and n_chunks and draw(st.integers(0, 2)) == 2:
        fail_at = draw(st.integers(0, n_chunks - 1))
        # A write that answers Err, or one that raises (L11): then the reason
        # is an exception.
        raises = draw(st.booleans())
        reason = draw(parts.exceptions if raises else parts.reasons)
    return EventStream(tuple(body), expected, limit, fail_at, reason, fail_raises=raises)


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
    write fail: answer ``Err`` with any reason, or raise an exception (see
    :class:`EventStream`).

    Raises:
        InvalidArgument: an option is of the wrong type, or a count or size is negative.
    """
    check_optional_bool("with_expected_size", with_expected_size)
    check_bool("adversarial", adversarial)
    check_bool("write_failures", write_failures)
    check_int("max_chunks", max_chunks)
    check_int("max_chunk_size", max_chunk_size)
    parts = _Parts(
        body=st.lists(chunks(max_size=max_chunk_size), max_size=max_chunks),
        after=st.lists(events(max_chunk_size=16), max_size=3),
        stops=st.sampled_from([(), (Cancel(),), (Done(),), (Done(), Done())]),
        reasons=error_reasons(),
        exceptions=exception_reasons(),
    )
    return _streams(
        parts,
        with_expected_size=with_expected_size,
        adversarial=adversarial,
        write_failures=write_failures,
    )
