"""The testing kit: strategies' element types, options checked by name, what checks return."""

from __future__ import annotations

from hypothesis.strategies import SearchStrategy
from typing_extensions import assert_type

from uploadwriter import Chunk, CloseReason, Done, Event
from uploadwriter.testing import (
    CLOSE_PATHS,
    CheckReport,
    EventStream,
    check_writer,
    check_writer_async,
    chunk_data,
    chunks,
    close_reasons,
    event_streams,
    events,
    replay_async,
)

# --- accepted ---------------------------------------------------------------


def element_types() -> None:
    assert_type(chunks(), SearchStrategy[Chunk])
    assert_type(chunks(min_size=1, max_size=65_536), SearchStrategy[Chunk])
    assert_type(chunk_data(kind="memoryview"), SearchStrategy[bytes | bytearray | memoryview])
    assert_type(events(), SearchStrategy[Event])
    assert_type(close_reasons(), SearchStrategy[CloseReason])
    assert_type(event_streams(), SearchStrategy[EventStream])


async def what_checks_return(writer: object) -> None:
    report = check_writer(writer, None, sizes=[6 * 2**20, 131_072])
    assert_type(report, CheckReport)
    assert_type(report.paths_covered, tuple[str, ...])
    assert_type(report.paths_missed, tuple[str, ...])
    assert_type(report.uploads, int)
    assert_type(CLOSE_PATHS["done"], str)
    assert_type(await check_writer_async(writer, None), CheckReport)
    assert_type(await replay_async(writer, None, EventStream([Done()])), None)


def a_raising_write() -> None:
    EventStream([Chunk(b"x")], None, None, 0, OSError(), fail_raises=True)


# --- rejected ---------------------------------------------------------------


def options_are_keyword_only() -> None:
    chunks(0, 10)  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]


def kind_is_a_known_literal() -> None:
    chunk_data(kind="str")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


def a_chunk_strategy_is_not_an_event_stream() -> None:
    streams: SearchStrategy[EventStream] = chunks()  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]


def fail_raises_is_keyword_only() -> None:
    EventStream([Chunk(b"x")], None, None, 0, OSError(), True)  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]


def sizes_are_ints() -> None:
    check_writer(object(), None, sizes=["6MiB"])  # type: ignore[list-item]  # pyright: ignore[reportArgumentType]


async def async_checks_take_no_backend() -> None:
    await check_writer_async(object(), None, backend="trio")  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
