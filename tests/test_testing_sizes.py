"""sizes=: uploads at, just under, just over and across the sizes where writers change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from tests import zoo
from uploadwriter import Cancel, Chunk, Done
from uploadwriter.testing import (
    EventStream,
    WriterLawError,
    check_writer,
    event_streams,
    files_in,
    open_fds,
)
from uploadwriter.testing._sizes import CHUNK, check_sizes, near_sizes, sized_uploads
from uploadwriter.writers import TmpFileOpts, TmpFileWriter
from uploadwriter.writers._tmpfile import BUFFER_SIZE

MiB = 2**20
FEW = settings(max_examples=10, database=None, deadline=None)


def _chunk_sizes(stream: EventStream) -> list[int]:
    return [len(e.data) for e in stream.events if isinstance(e, Chunk)]


def _crosses(stream: EventStream, size: int) -> bool:
    """Whether one chunk starts before ``size`` and ends after it."""
    start = 0
    for n in _chunk_sizes(stream):
        if start < size < start + n:
            return True
        start += n
    return False


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 3 * CHUNK) | st.sampled_from([BUFFER_SIZE, 5 * MiB, 6 * MiB]))
def test_the_fixed_uploads_sit_on_the_size(size: int) -> None:
    uploads = sized_uploads(size)
    totals = [stream.total for path, _, stream in uploads if path == "done"][:3]
    assert totals == [size - 1, size, size + 1]
    ((_, _, sized),) = [u for u in uploads if u[0] == "size-reached"]
    assert (sized.expected_size, sized.total) == (size, size)
    across = [stream for path, what, stream in uploads if "crossing" in what]
    assert len(across) == 5
    for stream in across:
        assert _crosses(stream, size) or size == 1  # one byte: its chunk starts at 0
        assert max(_chunk_sizes(stream)) <= CHUNK
    failing = [stream for _, what, stream in uploads if "answered Err" in what or "raising" in what]
    for stream in failing:
        assert stream.fail_write_at == len(_chunk_sizes(stream)) - 1  # the crossing chunk
    assert [u[0] for u in uploads] == [
        "done",
        "done",
        "done",
        "size-reached",
        "done",
        "write-err",
        "write-raised",
        "too-large",
        "cancel",
    ]
    assert across[-1].events[-1] == Cancel()


def test_the_bytes_are_shared_not_copied() -> None:
    (_, _, stream), *_ = sized_uploads(6 * MiB)
    datas = {id(e.data) for e in stream.events if isinstance(e, Chunk)}
    assert len(datas) <= 2  # the full chunk, and the remainder


def test_a_bug_past_6_mib_is_found_with_the_size_given() -> None:
    with pytest.raises(WriterLawError) as info:
        check_writer(zoo.PastSixMiBWriter(), {}, settings=FEW, sizes=[6 * MiB])
    error = info.value
    assert error.law == "d"
    assert isinstance(error.__cause__, zoo.BufferOverflow)
    assert isinstance(error.stream, EventStream)
    assert error.stream.total == 6 * MiB + 1
    assert "a fixed upload for sizes=[6291456]: 6291457 bytes, then Done()" in str(error)


def test_without_the_size_the_same_bug_is_not_reached() -> None:
    # The reason sizes= exists: generated uploads stay far below 6 MiB.
    report = check_writer(zoo.PastSixMiBWriter(), {}, settings=settings(FEW, max_examples=50))
    assert report.sizes == ()


def test_the_tmpfile_writer_around_its_buffer_size(tmp_path: Path) -> None:
    report = check_writer(
        TmpFileWriter(),
        TmpFileOpts(dir=str(tmp_path)),
        settings=settings(FEW, max_examples=30),
        sizes=[BUFFER_SIZE],
        leaks=lambda: files_in(tmp_path) + open_fds(),
    )
    assert report.sizes == (BUFFER_SIZE,)
    assert report.fixed_uploads == 9 + 9
    assert files_in(tmp_path) == []


def test_sizes_work_for_an_async_writer_too() -> None:
    report = check_writer(zoo.AsyncMemoryWriter(), {}, settings=FEW, sizes=[100, 70_000])
    assert report.sizes == (100, 70_000)
    assert report.uploads == 9 + 18 + 10


@settings(max_examples=30, deadline=None)
@given(near_sizes((1, 100_000), event_streams(max_chunk_size=64, max_chunks=4)))
def test_generated_uploads_near_a_size_keep_their_tails_meaning(stream: EventStream) -> None:
    n_chunks = len(_chunk_sizes(stream))
    if stream.fail_write_at is not None:
        assert 0 <= stream.fail_write_at < n_chunks
    if stream.expected_size is not None:
        assert stream.expected_size >= 0


@pytest.mark.parametrize("size", [1, 100_000])
def test_generated_uploads_reach_past_and_stop_short_of_a_size(size: int) -> None:
    streams = near_sizes((size,), event_streams(max_chunk_size=64, max_chunks=4))
    search = settings(max_examples=500, database=None, deadline=None)
    find(streams, lambda s: s.total > size and Done() in s.events, settings=search)
    find(streams, lambda s: s.total == size, settings=search)
    if size > 1:
        find(streams, lambda s: s.total < size, settings=search)


def test_a_long_run_of_equal_chunks_prints_short_and_as_python() -> None:
    (_, _, stream), *_ = sized_uploads(6 * MiB)
    text = repr(stream)
    assert text.startswith(
        "EventStream([*[Chunk((b'abcdefghijklmnopqrstuvwxyz' * 2462)[:64000])] * 98, "
    )
    assert len(text) < 200
    namespace = {"EventStream": EventStream, "Chunk": Chunk, "Done": Done}
    assert eval(text, namespace) == stream


@pytest.mark.parametrize(
    ("sizes", "error", "message"),
    [
        (
            "6MiB",
            TypeError,
            "sizes= must be a list of sizes in bytes, e.g. [6 * 2**20], not '6MiB'",
        ),
        (6, TypeError, "sizes= must be a list of sizes in bytes"),
        ([1.5], TypeError, "sizes= must hold whole numbers of bytes, not 1.5"),
        ([True], TypeError, "sizes= must hold whole numbers of bytes, not True"),
        ([0], ValueError, "sizes= must hold sizes of at least 1 byte, not 0"),
    ],
)
def test_bad_sizes_are_refused(sizes: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as info:
        check_writer(zoo.MemoryWriter(), {}, sizes=sizes)
    assert message in str(info.value)


def test_sizes_are_sorted_once_each() -> None:
    assert check_sizes([5, 3, 5]) == (3, 5)
    assert check_sizes(range(1, 3)) == (1, 2)
