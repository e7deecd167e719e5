"""Bad input (DESIGN L14): a clear error naming what was wrong, no writer call, nothing lost."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uploadwriter import (
    AsyncUploader,
    Chunk,
    Done,
    Err,
    Error,
    InvalidEvent,
    InvalidLimit,
    Ok,
    Uploader,
    UploadError,
    WriterFailure,
)
from uploadwriter.reducer import start

from .recording import AsyncRecordingWriter, RecordingWriter, RecState, err

# --- chunk data ---------------------------------------------------------------------------


def test_str_chunk_is_refused_with_a_hint_to_encode() -> None:
    with pytest.raises(InvalidEvent) as info:
        Chunk("héllo")  # type: ignore[arg-type]  # the mistake under test
    assert isinstance(info.value, TypeError)
    assert isinstance(info.value, UploadError)
    message = str(info.value)
    assert "bytes, bytearray or memoryview" in message
    assert "not str" in message
    assert ".encode()" in message


not_bytes_like = st.one_of(
    st.text(),
    st.integers(),
    st.none(),
    st.lists(st.integers(0, 255)),
    st.floats(),
    st.builds(object),
)


@settings(max_examples=50)
@given(not_bytes_like)
def test_non_bytes_chunk_data_is_refused_naming_its_type(data: object) -> None:
    with pytest.raises(InvalidEvent, match=f"not {type(data).__name__}"):
        Chunk(data)  # type: ignore[arg-type]  # the mistake under test


@settings(max_examples=50)
@given(st.binary(max_size=64), st.sampled_from([bytes, bytearray, memoryview]))
def test_bytes_like_chunk_data_becomes_equal_bytes(data: bytes, kind: type) -> None:
    chunk = Chunk(kind(data))
    assert type(chunk.data) is bytes
    assert chunk.data == data


def test_chunk_repr_does_not_print_the_payload() -> None:
    assert repr(Chunk(b"x" * 10_000)) == "Chunk(<10000 bytes>)"


# --- events -----------------------------------------------------------------------------------

not_events = st.one_of(
    st.text(),
    st.binary(),
    st.integers(),
    st.none(),
    st.just(Error("x")),
    st.builds(Ok, st.integers()),
    st.builds(Err, st.text(), st.none()),
    st.builds(ValueError, st.text()),
    st.builds(object),
)


@settings(max_examples=60)
@given(st.lists(not_events, min_size=1, max_size=4))
def test_unknown_events_are_refused_and_nothing_is_lost(events: list[object]) -> None:
    writer = RecordingWriter()
    with Uploader(writer, None) as up:
        up.send(Chunk(b"ab"))
        for event in events:
            before = up.upload
            with pytest.raises(InvalidEvent, match="nothing was done"):
                up.send(event)  # type: ignore[arg-type]  # the mistake under test
            assert up.upload == before
        up.send(Chunk(b"cd"))
        up.send(Done())
    assert writer.names() == ["init", "write_chunk", "write_chunk", "close"]
    assert up.meta()["data"] == b"abcd"


def test_unknown_event_message_says_what_is_allowed() -> None:
    with Uploader(RecordingWriter(), None) as up, pytest.raises(InvalidEvent) as info:
        up.send(b"raw")  # type: ignore[arg-type]  # the mistake under test
    message = str(info.value)
    assert "b'raw'" in message
    assert "(bytes)" in message
    assert "Chunk(data), Done() or Cancel()" in message


def test_a_writer_answer_sent_as_an_event_is_refused() -> None:
    with Uploader(RecordingWriter(), None) as up, pytest.raises(InvalidEvent) as info:
        up.send(Ok("state"))  # type: ignore[arg-type]  # the mistake under test
    assert "looks like a writer's answer" in str(info.value)


def test_a_close_reason_is_not_an_event() -> None:
    writer = RecordingWriter()
    with Uploader(writer, None) as up, pytest.raises(InvalidEvent):
        up.send(Error("stop"))  # type: ignore[arg-type]  # the mistake under test
    assert writer.names() == ["init", "close"]  # the close is the exit's Cancel()


@pytest.mark.anyio
async def test_unknown_event_to_the_async_driver() -> None:
    writer = AsyncRecordingWriter()
    async with AsyncUploader(writer, None) as up:
        with pytest.raises(InvalidEvent):
            await up.send(42)  # type: ignore[arg-type]  # the mistake under test
        await up.send(Chunk(b"ok"))
        await up.send(Done())
    assert up.meta()["data"] == b"ok"


# --- sizes -----------------------------------------------------------------------------------

# One rule for every option a driver or a config shares: a value of the wrong
# type raises TypeError, a value out of range InvalidLimit (a ValueError); the
# message names the option and shows the value.
WRONG_TYPE_SIZES: list[Any] = [1.5, 10.0, "10", "3", True, False, math.nan, [1]]
OUT_OF_RANGE_SIZES: list[Any] = [-1, -(2**70)]


@pytest.mark.parametrize("option", ["expected_size", "max_size"])
@pytest.mark.parametrize("value", WRONG_TYPE_SIZES)
def test_a_size_of_the_wrong_type_is_a_type_error_naming_the_option(
    option: str, value: Any
) -> None:
    writer = RecordingWriter()
    with pytest.raises(TypeError) as info:
        Uploader(writer, None, **{option: value})
    assert not isinstance(info.value, ValueError)
    message = str(info.value)
    assert message.startswith(f"{option} must be a whole number of bytes (an int) or None")
    assert repr(value) in message
    assert writer.calls == []


@pytest.mark.parametrize("option", ["expected_size", "max_size"])
@pytest.mark.parametrize("value", OUT_OF_RANGE_SIZES)
def test_a_size_out_of_range_is_invalid_limit_naming_the_option(option: str, value: Any) -> None:
    writer = RecordingWriter()
    with pytest.raises(InvalidLimit) as info:
        Uploader(writer, None, **{option: value})
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, UploadError)
    assert str(info.value) == f"{option} must be 0 or more bytes, not {value}"
    assert writer.calls == []


@pytest.mark.parametrize("option", ["expected_size", "max_size"])
def test_bad_size_is_refused_by_the_async_driver_too(option: str) -> None:
    writer = AsyncRecordingWriter()
    with pytest.raises(InvalidLimit, match=option):
        AsyncUploader(writer, None, **{option: -5})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=option):
        AsyncUploader(writer, None, **{option: "3"})  # type: ignore[arg-type]
    assert writer.calls == []


def test_negative_size_message_says_what_is_allowed() -> None:
    with pytest.raises(InvalidLimit, match=r"max_size must be 0 or more bytes, not -3"):
        start(max_size=-3)
    with pytest.raises(TypeError, match=r"whole number of bytes \(an int\) or None, not 2.5"):
        start(expected_size=2.5)  # type: ignore[arg-type]  # the mistake under test


@settings(max_examples=50)
@given(st.one_of(st.none(), st.integers(0, 10**12)), st.one_of(st.none(), st.integers(0, 10**12)))
def test_good_sizes_are_accepted_and_the_limit_is_the_smaller(
    expected: int | None, maximum: int | None
) -> None:
    upload = start(expected_size=expected, max_size=maximum)
    known = [n for n in (expected, maximum) if n is not None]
    assert upload.limits.limit == (min(known) if known else None)


# --- chunk_timeout -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 0.0, -0.5, -1, -math.inf, math.nan, math.inf, 10**400])
def test_a_chunk_timeout_out_of_range_is_invalid_limit(value: Any) -> None:
    writer = AsyncRecordingWriter()
    with pytest.raises(InvalidLimit) as info:
        AsyncUploader(writer, None, chunk_timeout=value)
    message = str(info.value)
    assert message.startswith("chunk_timeout must be a finite number of seconds above 0, not ")
    assert len(message) < 300  # 10**400 is shown cut short, not as 401 digits
    if value in (math.inf, 10**400):
        assert "use None for no timeout" in message
    assert writer.calls == []


@pytest.mark.parametrize("value", ["10", "1", True, [1], b"1"])
def test_a_chunk_timeout_of_the_wrong_type_is_a_type_error(value: Any) -> None:
    with pytest.raises(TypeError) as info:
        AsyncUploader(AsyncRecordingWriter(), None, chunk_timeout=value)
    assert not isinstance(info.value, ValueError)
    assert str(info.value).startswith(
        "chunk_timeout must be a number of seconds (an int or a float) or None, not "
    )


@pytest.mark.parametrize("value", [None, 0.001, 1, 10.0, 10**6])
def test_good_chunk_timeout_is_accepted(value: float | None) -> None:
    AsyncUploader(AsyncRecordingWriter(), None, chunk_timeout=value)


@pytest.mark.parametrize(
    ("value", "error"),
    [("1", TypeError), (True, TypeError), (math.inf, InvalidLimit), (10**400, InvalidLimit)],
)
def test_the_driver_and_the_config_apply_the_same_rule_to_chunk_timeout(
    value: Any, error: type[Exception]
) -> None:
    from uploadwriter import UploadConfig

    with pytest.raises(error) as by_driver:
        AsyncUploader(AsyncRecordingWriter(), None, chunk_timeout=value)
    with pytest.raises(error) as by_config:
        UploadConfig("a", accept="any", chunk_timeout=value)
    assert str(by_driver.value) == str(by_config.value)


def test_the_config_takes_none_as_no_chunk_timeout_like_the_driver() -> None:
    from uploadwriter import UploadConfig

    assert UploadConfig("a", accept="any", chunk_timeout=None).chunk_timeout is None


# --- chunk data is copied, never computed ------------------------------------------------------


class Evil(bytes):
    """A bytes subclass whose __bytes__ lies: what is written must be the data it holds."""

    def __bytes__(self) -> bytes:
        return b"EVIL"


def test_a_bytes_subclass_is_copied_from_its_buffer_never_through_bytes() -> None:
    chunk = Chunk(Evil(b"good"))
    assert type(chunk.data) is bytes
    assert chunk.data == b"good"
    writer = RecordingWriter()
    with Uploader(writer, None) as up:
        up.send(Chunk(Evil(b"good")))
        up.send(Done())
    assert up.meta()["data"] == b"good"


def test_a_released_memoryview_is_an_invalid_event() -> None:
    view = memoryview(b"abc")
    view.release()
    with pytest.raises(InvalidEvent, match=r"Chunk data is unusable: .*released"):
        Chunk(view)


# --- messages stay small -----------------------------------------------------------------------


def test_messages_never_grow_with_the_data_they_describe() -> None:
    big = b"x" * 10_000_000
    writer = RecordingWriter()
    with Uploader(writer, None) as up:
        with pytest.raises(InvalidEvent) as info:
            up.send(big)  # type: ignore[arg-type]  # the mistake under test: no Chunk()
        assert len(str(info.value)) < 400
        assert "wrap data in Chunk(...)" in str(info.value)
    failing = RecordingWriter(write=[err("x" * 1_000_000)])
    with Uploader(failing, None) as up, pytest.raises(WriterFailure) as failed:
        up.send(Chunk(b"a"))
    assert len(str(failed.value)) < 400
    assert failed.value.reason == "x" * 1_000_000  # the reason itself is kept whole


class _SubChunk(Chunk):
    """A subclass of Chunk: sent like a Chunk."""


class _Hostile:
    """An object whose class cannot even be looked up."""

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        raise RuntimeError("no class for you")


def test_subclasses_of_the_events_are_events_and_hostile_objects_are_not() -> None:
    writer = RecordingWriter()
    with Uploader(writer, None) as up:
        up.send(_SubChunk(b"ab"))
        with pytest.raises(InvalidEvent, match="send Chunk"):
            up.send(_Hostile())  # type: ignore[arg-type]  # the mistake under test
        up.send(Done())
    assert up.meta()["data"] == b"ab"


def test_the_adapters_pass_the_discard_hook_on(tmp_path: Any) -> None:
    from uploadwriter import InlineWriter, ThreadedWriter
    from uploadwriter.writers import TmpFileOpts, TmpFileWriter

    for adapter in (ThreadedWriter, InlineWriter):
        writer = TmpFileWriter()
        with Uploader(writer, TmpFileOpts(dir=tmp_path)) as up:
            up.send(Chunk(b"x"))
            up.send(Done())
        assert len(list(tmp_path.iterdir())) == 1
        adapter(writer).discard(up.state)
        assert list(tmp_path.iterdir()) == []
        # A writer without the hook: nothing to release, nothing happens.
        adapter(RecordingWriter()).discard(RecState())
