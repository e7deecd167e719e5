"""The testing kit's strategies: element types users can rely on, options checked by name."""

from __future__ import annotations

from hypothesis.strategies import SearchStrategy
from typing_extensions import assert_type

from uploadwriter import Chunk, CloseReason, Event
from uploadwriter.testing import (
    EventStream,
    chunk_data,
    chunks,
    close_reasons,
    event_streams,
    events,
)

# --- accepted ---------------------------------------------------------------


def element_types() -> None:
    assert_type(chunks(), SearchStrategy[Chunk])
    assert_type(chunks(min_size=1, max_size=65_536), SearchStrategy[Chunk])
    assert_type(chunk_data(kind="memoryview"), SearchStrategy[bytes | bytearray | memoryview])
    assert_type(events(), SearchStrategy[Event])
    assert_type(close_reasons(), SearchStrategy[CloseReason])
    assert_type(event_streams(), SearchStrategy[EventStream])


# --- rejected ---------------------------------------------------------------


def options_are_keyword_only() -> None:
    chunks(0, 10)  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]


def kind_is_a_known_literal() -> None:
    chunk_data(kind="str")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


def a_chunk_strategy_is_not_an_event_stream() -> None:
    streams: SearchStrategy[EventStream] = chunks()  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]
