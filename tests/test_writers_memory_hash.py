"""MemoryWriter and HashWriter: content, digests over any chunking, expected digests, the laws."""

from __future__ import annotations

import hashlib
import io
import weakref
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uploadwriter import (
    AsyncUploader,
    Cancel,
    Chunk,
    CloseReason,
    Done,
    Err,
    Error,
    InitError,
    InlineWriter,
    Ok,
    Uploader,
    WriterFailure,
)
from uploadwriter.testing import check_writer, default_settings, open_fds
from uploadwriter.writers import (
    DigestMismatch,
    HashOpts,
    HashState,
    HashWriter,
    MemoryOpts,
    MemoryState,
    MemoryWriter,
)

FEW = settings(default_settings(), max_examples=60, database=None)

# --- MemoryWriter -------------------------------------------------------------------------


def test_memory_keeps_exactly_what_was_sent() -> None:
    chunks = [b"hello ", b"", b"world", bytes(range(256)) * 100]
    with Uploader(MemoryWriter(), MemoryOpts()) as up:
        for data in chunks:
            up.send(Chunk(data))
        up.send(Done())
    assert up.meta() == {"data": b"".join(chunks), "size": len(b"".join(chunks))}


@settings(max_examples=50)
@given(st.lists(st.binary(max_size=3000), max_size=8))
def test_memory_content_over_any_chunking(chunks: list[bytes]) -> None:
    with Uploader(MemoryWriter(), MemoryOpts()) as up:
        for data in chunks:
            up.send(Chunk(bytearray(data)))  # copied by Chunk: reusing it cannot matter
        up.send(Done())
    assert up.meta()["data"] == b"".join(chunks)


def test_memory_releases_the_buffer_on_cancel_and_error() -> None:
    writer = MemoryWriter()
    for reason in (Cancel(), Error("boom")):
        state = writer.init(MemoryOpts()).state
        assert isinstance(state, MemoryState)
        state = writer.write_chunk(b"abc", state).state
        assert writer.close(state, reason).state is state
        assert state.buffer.closed
        with pytest.raises(ValueError, match="released"):
            writer.meta(state)


def test_memory_discard_releases_a_completed_upload() -> None:
    writer = MemoryWriter()
    with Uploader(writer, MemoryOpts()) as up:
        up.send(Chunk(b"abc"))
        up.send(Done())
    assert up.meta()["data"] == b"abc"
    writer.discard(up.state)
    assert up.state.buffer.closed


def test_memory_refuses_other_opts() -> None:
    with pytest.raises(InitError, match=r"MemoryWriter needs MemoryOpts\(\)"):
        Uploader[Any, Any](MemoryWriter(), {"dir": "/tmp"}).__enter__()


_OPTS = MemoryOpts()


class TrackedMemoryWriter(MemoryWriter):
    """MemoryWriter that remembers its buffers, so that a test can see which are still held."""

    def __init__(self) -> None:
        self.buffers: list[weakref.ref[io.BytesIO]] = []
        self.last: MemoryState | None = None

    def init(self, opts: MemoryOpts = _OPTS) -> Ok[MemoryState] | Err[None]:
        answer = super().init(opts)
        if answer.state is not None:
            self.buffers.append(weakref.ref(answer.state.buffer))
        return answer

    def close(self, state: MemoryState, reason: CloseReason) -> Ok[MemoryState] | Err[MemoryState]:
        self.last = state
        return super().close(state, reason)

    def held(self) -> list[str]:
        return [f"open buffer {id(b):#x}" for ref in self.buffers if (b := ref()) and not b.closed]

    def consume(self, meta: Mapping[str, object]) -> None:
        # What an application does with a completed upload: take the data, release it.
        assert isinstance(meta["data"], bytes)
        assert self.last is not None
        self.discard(self.last)


def test_memory_passes_check_writer_and_holds_nothing_after() -> None:
    writer = TrackedMemoryWriter()
    report = check_writer(
        writer, MemoryOpts(), settings=FEW, leaks=writer.held, consume=writer.consume
    )
    assert report.uploads > 0
    assert not report.paths_missed


def test_memory_through_inline_writer_passes_check_writer() -> None:
    writer = TrackedMemoryWriter()
    check_writer(
        InlineWriter(writer),
        MemoryOpts(),
        settings=settings(FEW, max_examples=30),
        leaks=writer.held,
        consume=writer.consume,
        backend="trio",
    )


# --- HashWriter ---------------------------------------------------------------------------

ALGORITHMS = sorted(hashlib.algorithms_guaranteed)


def _digest(algorithm: str, data: bytes) -> str:
    h = hashlib.new(algorithm, data)
    if algorithm.startswith("shake_"):
        return h.hexdigest(16 if algorithm == "shake_128" else 32)  # type: ignore[call-arg]
    return h.hexdigest()


def _hash(chunks: list[bytes], opts: HashOpts) -> Uploader[HashOpts, HashState]:
    with Uploader(HashWriter(), opts) as up:
        for data in chunks:
            up.send(Chunk(data))
        up.send(Done())
    return up


@settings(max_examples=100)
@given(st.sampled_from(ALGORITHMS), st.lists(st.binary(max_size=2000), max_size=8))
def test_hash_digest_is_hashlibs_over_any_chunking(algorithm: str, chunks: list[bytes]) -> None:
    data = b"".join(chunks)
    up = _hash(chunks, HashOpts(algorithm))
    assert up.meta() == {
        "algorithm": algorithm,
        "hexdigest": _digest(algorithm, data),
        "size": len(data),
    }


def test_hash_default_is_sha256_and_names_are_canonical() -> None:
    assert HashOpts().algorithm == "sha256"
    up = _hash([b"abc"], HashOpts("SHA256"))
    assert up.meta()["algorithm"] == "sha256"
    assert up.meta()["hexdigest"] == hashlib.sha256(b"abc").hexdigest()


def test_hash_older_states_keep_their_own_digest() -> None:
    writer = HashWriter()
    first = writer.init(HashOpts()).state
    assert first is not None
    second = writer.write_chunk(b"abc", first).state
    writer.write_chunk(b"def", second)  # a branch from `second`: leaves it as it was
    assert writer.meta(first)["hexdigest"] == hashlib.sha256().hexdigest()
    assert writer.meta(second)["hexdigest"] == hashlib.sha256(b"abc").hexdigest()
    assert second == writer.write_chunk(b"abc", first).state  # equal digests, equal states
    assert second != first


@settings(max_examples=50)
@given(st.lists(st.binary(max_size=500), max_size=5), st.booleans(), st.booleans())
def test_hash_expected_digest_decides_whether_the_upload_completes(
    chunks: list[bytes], right: bool, upper: bool
) -> None:
    data = b"".join(chunks)
    expected = hashlib.sha256(data if right else data + b"!").hexdigest()
    opts = HashOpts(expected=expected.upper() if upper else expected)
    if right:
        assert _hash(chunks, opts).meta()["hexdigest"] == expected
        return
    with pytest.raises(WriterFailure) as info:
        _hash(chunks, opts)
    mismatch = info.value.reason
    assert isinstance(mismatch, DigestMismatch)
    assert mismatch.actual == hashlib.sha256(data).hexdigest()
    assert mismatch.expected == expected
    assert f"but {expected} was expected" in str(mismatch)


def test_hash_expected_is_not_checked_on_cancel() -> None:
    writer = HashWriter()
    state = writer.init(HashOpts(expected="0" * 64)).state
    assert state is not None
    assert writer.close(state, Cancel()).state is state


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"algorithm": "sha257"}, ValueError, r"'sha257' is not a hashlib algorithm.*sha256"),
        ({"algorithm": 256}, TypeError, "must be a str such as 'sha256'"),
        ({"expected": "abc"}, ValueError, "must be a sha256 digest: 64 hex digits, not 'abc'"),
        ({"algorithm": "md5", "expected": "g" * 32}, ValueError, "md5 digest: 32 hex digits"),
        ({"expected": b"00"}, TypeError, r"must be a hex digest \(str\) or None"),
    ],
)
def test_hash_opts_are_validated(kwargs: dict[str, object], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        HashOpts(**kwargs)  # type: ignore[arg-type]


def test_hash_shake_uses_openssl_default_lengths() -> None:
    assert len(_hash([b"x"], HashOpts("shake_128")).meta()["hexdigest"]) == 32  # type: ignore[arg-type]
    assert HashOpts("shake_256", expected="a" * 64).expected == "a" * 64


def test_hash_refuses_other_opts() -> None:
    with pytest.raises(InitError, match=r"HashWriter needs HashOpts"):
        Uploader[Any, Any](HashWriter(), "sha256").__enter__()


def test_hash_passes_check_writer() -> None:
    # HashWriter holds no resource (the hasher is a value it copies): law b
    # would catch a hasher updated in place; nothing can be left open.
    check_writer(HashWriter(), HashOpts("blake2b"), settings=FEW, leaks=open_fds)


def test_hash_with_expected_passes_check_writer() -> None:
    check_writer(HashWriter(), HashOpts(expected=hashlib.sha256().hexdigest()), settings=FEW)


@pytest.mark.anyio
async def test_hash_through_inline_writer() -> None:
    async with AsyncUploader(InlineWriter(HashWriter()), HashOpts("md5")) as up:
        await up.send(Chunk(b"abc"))
        await up.send(Done())
    assert up.meta()["hexdigest"] == hashlib.md5(b"abc").hexdigest()


# --- messages stay short, whatever they were given ------------------------------------------


def test_a_huge_wrong_option_gives_a_short_message() -> None:
    huge = b"x" * 1_000_000
    refused = MemoryWriter().init(huge)  # type: ignore[arg-type]
    assert isinstance(refused, Err)
    assert "MemoryWriter needs MemoryOpts()" in str(refused.reason)
    assert len(str(refused.reason)) < 300
    with pytest.raises(TypeError, match=r"HashOpts\.expected must be a hex digest") as info:
        HashOpts(expected=huge)
    assert len(str(info.value)) < 300
