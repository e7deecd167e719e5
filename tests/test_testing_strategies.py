"""The kit's Hypothesis strategies: shapes, reach, argument validation, st.from_type."""

from __future__ import annotations

import importlib.metadata
from typing import Any

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument, NoSuchExample

from uploadwriter import Cancel, Chunk, CloseReason, Done, Error, Event, Suspend
from uploadwriter.testing import (
    EventStream,
    InjectedFailure,
    chunk_data,
    chunks,
    close_reasons,
    error_reasons,
    event_streams,
    events,
)
from uploadwriter.testing._hook import _hypothesis_setup_hook

SOME = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# No deadline: on a busy machine a large example can pass 200 ms, and the
# deadline check would then print (repr) a 64 KB example.
FIND = settings(max_examples=2000, database=None, deadline=None)


def _is_close(event: Event) -> bool:
    return isinstance(event, (Done, Cancel))


# --- chunks ---------------------------------------------------------------------


@SOME
@given(chunk_data(min_size=3, max_size=70_000, kind="any"))
def test_chunk_data_respects_its_sizes(data: bytes | bytearray | memoryview) -> None:
    assert 3 <= len(data) <= 70_000


@pytest.mark.parametrize("kind", ["bytes", "bytearray", "memoryview"])
def test_chunk_data_makes_the_kind_asked_for(kind: str) -> None:
    data = find(chunk_data(kind=kind), lambda d: len(d) > 2, settings=FIND)  # type: ignore[arg-type]
    assert type(data).__name__ == kind


def test_a_memoryview_chunk_is_a_view_into_a_larger_buffer() -> None:
    view = find(chunk_data(kind="memoryview"), lambda d: len(d) > 0, settings=FIND)
    assert isinstance(view, memoryview)
    assert len(view.obj) == len(view) + 2  # type: ignore[arg-type]


def test_any_kind_mixes_all_three() -> None:
    for kind in (bytes, bytearray, memoryview):
        find(chunk_data(kind="any"), lambda d, k=kind: type(d) is k, settings=FIND)  # type: ignore[misc]


@pytest.mark.parametrize("size", [0, 64_000, 65_536, 65_537], ids=lambda n: f"{n}-bytes")
def test_chunk_sizes_reach_the_interesting_ones(size: int) -> None:
    find(chunks(), lambda c: len(c.data) == size, settings=FIND)


def test_chunks_reach_several_times_64000() -> None:
    find(chunks(), lambda c: len(c.data) > 3 * 64_000, settings=FIND)


def test_large_chunks_are_not_all_zeros() -> None:
    chunk = find(
        chunks(), lambda c: len(c.data) > 65_536 and c.data.count(0) < len(c.data), settings=FIND
    )
    assert len(set(chunk.data)) > 1 or chunk.data[0] != 0


def test_a_total_well_past_64_kib_is_reachable() -> None:
    stream = find(event_streams(adversarial=False), lambda s: s.total > 4 * 65_536, settings=FIND)
    assert stream.total > 4 * 65_536


@SOME
@given(events(max_chunk_size=10))
def test_events_are_events(event: Event) -> None:
    assert isinstance(event, (Chunk, Done, Cancel))
    if isinstance(event, Chunk):
        assert len(event.data) <= 10


def test_events_include_each_kind() -> None:
    for kind in (Chunk, Done, Cancel):
        find(events(), lambda e, k=kind: isinstance(e, k), settings=FIND)  # type: ignore[misc]


# --- close reasons ----------------------------------------------------------------


def test_close_reasons_include_done_cancel_and_any_error() -> None:
    find(close_reasons(), lambda r: r == Done(), settings=FIND)
    find(close_reasons(), lambda r: r == Cancel(), settings=FIND)
    find(close_reasons(), lambda r: isinstance(r, Error) and isinstance(r.reason, OSError))
    find(close_reasons(), lambda r: isinstance(r, Error) and r.reason is None)
    find(close_reasons(), lambda r: isinstance(r, Error) and isinstance(r.reason, str))
    find(error_reasons(), lambda r: isinstance(r, InjectedFailure), settings=FIND)


@SOME
@given(error_reasons())
def test_error_reasons_repr_as_python(reason: object) -> None:
    rebuilt = eval(repr(reason), {"InjectedFailure": InjectedFailure})
    assert type(rebuilt) is type(reason)
    if not isinstance(reason, BaseException):
        assert rebuilt == reason


# --- whole uploads ----------------------------------------------------------------


@SOME
@given(event_streams(adversarial=False))
def test_well_formed_streams_send_chunks_then_done(stream: EventStream) -> None:
    *body, last = stream.events or (Done(),)
    assert all(isinstance(e, Chunk) for e in body)
    assert isinstance(last, (Chunk, Done))
    if stream.expected_size is None:
        assert last == Done()
    else:
        assert stream.expected_size == stream.total
    assert stream.max_size is None


@SOME
@given(event_streams(with_expected_size=True, adversarial=False, write_failures=False))
def test_sized_streams_announce_their_size(stream: EventStream) -> None:
    assert stream.expected_size == stream.total
    assert stream.fail_write_at is None


@SOME
@given(event_streams(with_expected_size=False))
def test_unsized_streams_do_not(stream: EventStream) -> None:
    assert stream.expected_size is None


@SOME
@given(event_streams())
def test_a_write_failure_names_an_existing_write(stream: EventStream) -> None:
    if stream.fail_write_at is not None:
        n_chunks = sum(isinstance(e, Chunk) for e in stream.events)
        assert 0 <= stream.fail_write_at < n_chunks


def _cancel_in_the_middle(s: EventStream) -> bool:
    e = s.events
    return any(
        isinstance(e[i], Cancel) and isinstance(e[i - 1], Chunk) and isinstance(e[i + 1], Chunk)
        for i in range(1, len(e) - 1)
    )


def _chunk_after_done(s: EventStream) -> bool:
    e = s.events
    return any(isinstance(e[i], Done) and isinstance(e[i + 1], Chunk) for i in range(len(e) - 1))


def _done_twice(s: EventStream) -> bool:
    return any(a == b == Done() for a, b in zip(s.events, s.events[1:], strict=False))


@pytest.mark.parametrize(
    "condition",
    [
        _cancel_in_the_middle,
        _chunk_after_done,
        _done_twice,
        lambda s: not s.events or s.events == (Done(),),  # a zero-byte upload
        lambda s: s.expected_size == 0 and s.events == (),  # closes as soon as it starts
        lambda s: s.expected_size is not None and s.expected_size < s.total,  # too small
        lambda s: s.expected_size is not None and s.expected_size > s.total,  # incomplete
        lambda s: s.max_size is not None and s.max_size < s.total,  # past the limit
        lambda s: s.events and not _is_close(s.events[-1]),  # left open
        lambda s: isinstance(s.fail_reason, OSError),
    ],
    ids=[
        "cancel-mid-way",
        "chunk-after-done",
        "done-twice",
        "zero-bytes",
        "expected-zero",
        "expected-too-small",
        "expected-too-large",
        "past-max-size",
        "left-open",
        "write-fails",
    ],
)
def test_adversarial_streams_reach(condition: Any) -> None:
    # Small chunks: the shapes do not depend on sizes, and shrink faster.
    find(event_streams(max_chunk_size=64), condition, settings=FIND)


def test_adversarial_false_never_cancels() -> None:
    with pytest.raises(NoSuchExample, match="No examples found"):
        find(
            event_streams(adversarial=False),
            lambda s: Cancel() in s.events,
            settings=settings(max_examples=300, database=None),
        )


# --- EventStream ----------------------------------------------------------------


@SOME
@given(event_streams(write_failures=False))
def test_event_stream_repr_is_python(stream: EventStream) -> None:
    rebuilt = eval(
        repr(stream), {"EventStream": EventStream, "Chunk": Chunk, "Done": Done, "Cancel": Cancel}
    )
    assert rebuilt == stream


@pytest.mark.parametrize(
    ("data", "source"),
    [
        (b"abc", "b'abc'"),
        (bytes(100), "bytes(100)"),
        (b"x" * 100, "b'x' * 100"),
        (b"ab" * 50 + b"a", "(b'ab' * 51)[:101]"),
        (bytes(range(40)), f"bytes.fromhex({bytes(range(40)).hex()!r})"),
        (bytes(range(256)) * 20, "<5120 bytes, not shown>"),
    ],
)
def test_chunks_print_short(data: bytes, source: str) -> None:
    stream = EventStream([Chunk(data)], expected_size=len(data), max_size=9999)
    assert (
        repr(stream) == f"EventStream([Chunk({source})], expected_size={len(data)}, max_size=9999)"
    )


def test_event_stream_total_and_conversion() -> None:
    stream = EventStream([Chunk(b"ab"), Done(), Chunk(b"c")])
    assert stream.events == (Chunk(b"ab"), Done(), Chunk(b"c"))
    assert stream.total == 3


# --- argument validation ---------------------------------------------------------


def loose(strategy: Any) -> Any:
    """The strategy function, untyped: these tests pass what mypy would refuse."""
    return strategy


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: loose(chunk_data)(min_size=-1), "min_size=-1 must be at least 0"),
        (lambda: loose(chunk_data)(max_size=1.5), "max_size=1.5 must be a whole number"),
        (lambda: loose(chunk_data)(min_size=True), "min_size=True must be a whole number"),
        (
            lambda: loose(chunk_data)(min_size=5, max_size=4),
            "min_size=5 must not be more than max_size=4",
        ),
        (lambda: loose(chunk_data)(kind="str"), "kind='str' must be one of"),
        (lambda: loose(chunks)(max_size=-3), "max_size=-3 must be at least 0"),
        (lambda: loose(events)(min_chunk_size=9, max_chunk_size=1), "min_chunk_size=9 must not"),
        (lambda: loose(event_streams)(with_expected_size=1), "with_expected_size=1 must be True"),
        (lambda: loose(event_streams)(adversarial=None), "adversarial=None must be True or False"),
        (lambda: loose(event_streams)(write_failures="yes"), "write_failures='yes' must be True"),
        (lambda: loose(event_streams)(max_chunks=-1), "max_chunks=-1 must be at least 0"),
        (
            lambda: loose(event_streams)(max_chunk_size="big"),
            "max_chunk_size='big' must be a whole",
        ),
    ],
)
def test_bad_arguments_raise_invalid_argument(make: Any, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message.replace("(", r"\(")):
        make()


@SOME
@given(chunks(min_size=70_000, max_size=70_000))
def test_a_fixed_size_outside_the_usual_ones_works(chunk: Chunk) -> None:
    assert len(chunk.data) == 70_000


@SOME
@given(chunks(min_size=0, max_size=0))
def test_empty_chunks_only(chunk: Chunk) -> None:
    assert chunk.data == b""


# --- st.from_type, through the hypothesis entry point ---------------------------


def test_the_entry_point_is_installed() -> None:
    hooks = {
        entry.name: entry.value for entry in importlib.metadata.entry_points(group="hypothesis")
    }
    assert hooks["uploadwriter"] == "uploadwriter.testing._hook:_hypothesis_setup_hook"


def test_from_type_uses_the_kits_strategies() -> None:
    # A plain builds(Chunk, binary()) would not reach 64 KiB; chunks() does.
    chunk = find(st.from_type(Chunk), lambda c: len(c.data) > 65_536, settings=FIND)
    assert len(chunk.data) > 65_536
    find(st.from_type(Error), lambda e: isinstance(e.reason, OSError), settings=FIND)
    stream = find(st.from_type(EventStream), lambda s: Cancel() in s.events, settings=FIND)
    assert isinstance(stream, EventStream)


@SOME
@given(st.from_type(CloseReason), st.from_type(Event))  # type: ignore[arg-type]
def test_from_type_of_the_unions(reason: CloseReason, event: Event) -> None:
    assert isinstance(reason, (Done, Cancel, Error))
    assert isinstance(event, (Chunk, Done, Cancel, Suspend))


def test_the_hook_can_run_again() -> None:
    _hypothesis_setup_hook()
    find(st.from_type(Chunk), lambda c: len(c.data) == 64_000, settings=FIND)
