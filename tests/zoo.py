"""Writers for the testing kit's own tests: sound ones, and one broken per law (a-g).

Each broken writer has a realistic bug, the kind a user's writer would have.
They are annotated loosely (``Any``) on purpose: several return what a
writer must not, which is exactly what the kit has to catch at run time.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Mapping
from typing import Any

import attrs

from uploadwriter import Cancel, CloseReason, Done, Err, Error, Ok

# --- sound writers ------------------------------------------------------------


@attrs.frozen
class Mem:
    """A memory writer's state: the chunks so far and their total size."""

    chunks: tuple[bytes, ...] = ()
    total: int = 0
    closed: str | None = None


class MemoryWriter:
    """Keeps the upload in memory; meta is its size and SHA-256."""

    def init(self, opts: Any) -> Ok[Mem] | Err[None]:
        return Ok(Mem())

    def meta(self, state: Mem) -> Mapping[str, object]:
        data = b"".join(state.chunks)
        return {"size": state.total, "sha256": hashlib.sha256(data).hexdigest()}

    def write_chunk(self, data: bytes, state: Mem) -> Ok[Mem] | Err[Mem]:
        return Ok(Mem((*state.chunks, data), state.total + len(data)))

    def close(self, state: Mem, reason: CloseReason) -> Ok[Mem] | Err[Mem]:
        return Ok(attrs.evolve(state, closed=type(reason).__name__))


def total_matches(state: Mem) -> bool:
    """The memory writers' invariant: ``total`` is the number of bytes kept."""
    return state.total == sum(map(len, state.chunks))


class AsyncMemoryWriter:
    """:class:`MemoryWriter` with async callbacks."""

    def __init__(self) -> None:
        self._sync = MemoryWriter()

    async def init(self, opts: Any) -> Ok[Mem] | Err[None]:
        return self._sync.init(opts)

    def meta(self, state: Mem) -> Mapping[str, object]:
        return self._sync.meta(state)

    async def write_chunk(self, data: bytes, state: Mem) -> Ok[Mem] | Err[Mem]:
        return self._sync.write_chunk(data, state)

    async def close(self, state: Mem, reason: CloseReason) -> Ok[Mem] | Err[Mem]:
        return self._sync.close(state, reason)


# --- law a: callbacks return Ok or Err ----------------------------------------


class ForgotOkWriter(MemoryWriter):
    """Law a: ``close`` returns the bare state, not ``Ok(state)``."""

    def close(self, state: Mem, reason: CloseReason) -> Any:
        return state


class AsyncTupleWriter(AsyncMemoryWriter):
    """Law a (async): ``write_chunk`` answers Elixir-style ``("ok", state)``."""

    async def write_chunk(self, data: bytes, state: Mem) -> Any:
        return ("ok", Mem((*state.chunks, data), state.total + len(data)))


# --- law b: the state is never mutated -----------------------------------------


class ListState:
    """A plain, mutable state class: the bug the law is about."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []


class MutatingWriter:
    """Law b: appends to the list in the state it was given and returns that same state."""

    def init(self, opts: Any) -> Ok[ListState] | Err[None]:
        return Ok(ListState())

    def meta(self, state: ListState) -> Mapping[str, object]:
        return {"size": sum(map(len, state.chunks))}

    def write_chunk(self, data: bytes, state: ListState) -> Ok[ListState] | Err[ListState]:
        state.chunks.append(data)
        return Ok(state)

    def close(self, state: ListState, reason: CloseReason) -> Ok[ListState] | Err[ListState]:
        return Ok(state)


@attrs.frozen
class Hashing:
    """A frozen state holding a hash object, which is itself mutable."""

    hasher: Any


class AsyncHashMutatingWriter:
    """Law b (async): feeds the hasher inside a frozen state instead of a copy of it."""

    async def init(self, opts: Any) -> Ok[Hashing] | Err[None]:
        return Ok(Hashing(hashlib.sha256()))

    def meta(self, state: Hashing) -> Mapping[str, object]:
        return {"sha256": state.hasher.hexdigest()}

    async def write_chunk(self, data: bytes, state: Hashing) -> Ok[Hashing] | Err[Hashing]:
        state.hasher.update(data)  # the fix: hasher = state.hasher.copy(); hasher.update(data)
        return Ok(state)

    async def close(self, state: Hashing, reason: CloseReason) -> Ok[Hashing] | Err[Hashing]:
        return Ok(state)


class OptsPoppingWriter(MemoryWriter):
    """Law b: ``init`` pops its options out of the caller's dict."""

    def init(self, opts: Any) -> Ok[Mem] | Err[None]:
        opts.pop("level", None)
        return Ok(Mem())


# --- law c: meta is a mapping, the same each time --------------------------


_counter = itertools.count()


class ImpureMetaWriter(MemoryWriter):
    """Law c: meta stamps a fresh serial number on each call."""

    def meta(self, state: Mem) -> Mapping[str, object]:
        return {"size": state.total, "serial": next(_counter)}


class ListMetaWriter(MemoryWriter):
    """Law c: meta returns a list of pairs, not a mapping."""

    def meta(self, state: Mem) -> Any:
        return [("size", state.total)]


class AsyncListMetaWriter(AsyncMemoryWriter):
    """Law c (async writer, sync meta): meta returns the size alone."""

    def meta(self, state: Mem) -> Any:
        return state.total


# --- law d: no exception escapes a callback --------------------------------


class EmptyChunkWriter(MemoryWriter):
    """Law d: divides by the chunk's length, so an empty chunk raises."""

    def write_chunk(self, data: bytes, state: Mem) -> Ok[Mem] | Err[Mem]:
        _ = 1024 // len(data)
        return super().write_chunk(data, state)


class AsyncEmptyChunkWriter(AsyncMemoryWriter):
    """Law d (async): the same bug as :class:`EmptyChunkWriter`."""

    async def write_chunk(self, data: bytes, state: Mem) -> Ok[Mem] | Err[Mem]:
        _ = 1024 // len(data)
        return await super().write_chunk(data, state)


class BufferOverflow(Exception):
    """The bug of :class:`BlockWriter`, raised once more than 64 KiB were written."""


class BlockWriter(MemoryWriter):
    """Law d, only past 64 KiB: a 64 KiB block buffer whose overflow path is broken."""

    BLOCK = 65_536

    def write_chunk(self, data: bytes, state: Mem) -> Ok[Mem] | Err[Mem]:
        if state.total + len(data) > self.BLOCK:
            raise BufferOverflow(f"block buffer overflow at {state.total + len(data)} bytes")
        return super().write_chunk(data, state)


class BrokenMetaWriter(MemoryWriter):
    """Law d: meta reads a key the state never had."""

    def meta(self, state: Mem) -> Mapping[str, object]:
        return {"name": attrs.asdict(state)["filename"]}


class RaisingInitWriter(MemoryWriter):
    """Law d: init raises instead of answering Err for options it does not understand."""

    def init(self, opts: Any) -> Ok[Mem] | Err[None]:
        return Ok(Mem(total=int(opts["start"])))


# --- law e: close accepts every reason ---------------------------------------


class OSErrorOnlyWriter(MemoryWriter):
    """Law e: assumes every ``Error(reason)`` carries an OSError with an errno."""

    def close(self, state: Mem, reason: CloseReason) -> Ok[Mem] | Err[Mem]:
        if isinstance(reason, Error):
            code = reason.reason.errno  # type: ignore[attr-defined]
            return Ok(attrs.evolve(state, closed=f"errno {code}"))
        return super().close(state, reason)


class AsyncCancelErrWriter(AsyncMemoryWriter):
    """Law e (async): answers a cancel with ``Err`` instead of cleaning up."""

    async def close(self, state: Mem, reason: CloseReason) -> Ok[Mem] | Err[Mem]:
        if reason == Cancel():
            return Err("cancelled", state)
        return Ok(state)


# --- law f: nothing left open ----------------------------------------------


@attrs.frozen
class FileState:
    """An open file in the upload's directory."""

    path: str
    fd: int


class LeakyFileWriter:
    """Law f: on a cancel or error, closes its file but forgets to remove it."""

    def init(self, opts: Any) -> Ok[FileState] | Err[None]:
        path = os.path.join(opts["dir"], f"upload-{next(_counter)}")
        return Ok(FileState(path, os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)))

    def meta(self, state: FileState) -> Mapping[str, object]:
        return {"path": state.path}

    def write_chunk(self, data: bytes, state: FileState) -> Ok[FileState] | Err[FileState]:
        os.write(state.fd, data)
        return Ok(state)

    def close(self, state: FileState, reason: CloseReason) -> Ok[FileState] | Err[FileState]:
        os.close(state.fd)
        return Ok(state)


class AsyncFdLeakWriter:
    """Law f (async): closes its descriptor on ``Done()`` only."""

    async def init(self, opts: Any) -> Ok[FileState] | Err[None]:
        return Ok(FileState(os.devnull, os.open(os.devnull, os.O_WRONLY)))

    def meta(self, state: FileState) -> Mapping[str, object]:
        return {}

    async def write_chunk(self, data: bytes, state: FileState) -> Ok[FileState] | Err[FileState]:
        return Ok(state)

    async def close(self, state: FileState, reason: CloseReason) -> Ok[FileState] | Err[FileState]:
        if reason == Done():
            os.close(state.fd)
        return Ok(state)


class ForgetsOnErrorWriter:
    """Law f, on one close path: removes its file on ``Cancel()``, forgets to on ``Error(...)``.

    The bug of issue 14: a random search reaches a failed write on most runs,
    not all; the check's fixed uploads reach it on every run.
    """

    def init(self, opts: Any) -> Ok[FileState] | Err[None]:
        path = os.path.join(opts["dir"], f"upload-{next(_counter)}")
        return Ok(FileState(path, os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)))

    def meta(self, state: FileState) -> Mapping[str, object]:
        return {"path": state.path}

    def write_chunk(self, data: bytes, state: FileState) -> Ok[FileState] | Err[FileState]:
        os.write(state.fd, data)
        return Ok(state)

    def close(self, state: FileState, reason: CloseReason) -> Ok[FileState] | Err[FileState]:
        os.close(state.fd)
        if reason == Cancel():
            os.remove(state.path)
        return Ok(state)

    def discard(self, state: FileState) -> None:
        os.remove(state.path)


class AsyncForgetsOnErrorWriter:
    """:class:`ForgetsOnErrorWriter` with async callbacks."""

    def __init__(self) -> None:
        self._sync = ForgetsOnErrorWriter()

    async def init(self, opts: Any) -> Ok[FileState] | Err[None]:
        return self._sync.init(opts)

    def meta(self, state: FileState) -> Mapping[str, object]:
        return self._sync.meta(state)

    async def write_chunk(self, data: bytes, state: FileState) -> Ok[FileState] | Err[FileState]:
        return self._sync.write_chunk(data, state)

    async def close(self, state: FileState, reason: CloseReason) -> Ok[FileState] | Err[FileState]:
        return self._sync.close(state, reason)

    def discard(self, state: FileState) -> None:
        self._sync.discard(state)


# --- law g: the writer's own invariant ----------------------------------------


class MiscountingWriter(MemoryWriter):
    """Law g: counts chunks, not bytes, in ``total``."""

    def write_chunk(self, data: bytes, state: Mem) -> Ok[Mem] | Err[Mem]:
        return Ok(Mem((*state.chunks, data), state.total + 1))


class AsyncMiscountingWriter(AsyncMemoryWriter):
    """Law g (async): forgets to count the chunk when it is the first one."""

    async def write_chunk(self, data: bytes, state: Mem) -> Ok[Mem] | Err[Mem]:
        total = state.total + len(data) if state.chunks else 0
        return Ok(Mem((*state.chunks, data), total))


# --- not writers ---------------------------------------------------------------

NOT_A_WRITER = 42


class NeedsArguments(MemoryWriter):
    """A writer whose class cannot be created with no arguments."""

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket


class MixedWriter(MemoryWriter):
    """Half async: no driver can run it."""

    async def write_chunk(self, data: bytes, state: Mem) -> Any:  # type: ignore[override]
        return Ok(state)


class FlakyWriter(MemoryWriter):
    """Breaks law d on its first write of more than 100 bytes, and never again.

    The check's fixed uploads write a few bytes at a time, so Hypothesis finds
    it, and then cannot make it fail again.
    """

    def __init__(self) -> None:
        self.failed = False

    def write_chunk(self, data: bytes, state: Mem) -> Ok[Mem] | Err[Mem]:
        if len(data) > 100 and not self.failed:
            self.failed = True
            raise RuntimeError("once")
        return super().write_chunk(data, state)


class RefusingWriter(MemoryWriter):
    """Refuses every upload (L1), whatever the opts."""

    def init(self, opts: Any) -> Ok[Mem] | Err[None]:
        return Err("no", None)


class UnresolvableOptsWriter(MemoryWriter):
    """Its opts annotation names a type that does not exist at run time."""

    def init(self, opts: NoSuchOpts) -> Ok[Mem] | Err[None]:  # type: ignore[name-defined]  # noqa: F821
        return Ok(Mem())


class MappingOptsWriter(MemoryWriter):
    """Annotates its opts with a parameterised ``Mapping``, as the README's Sha256Writer."""

    def init(self, opts: Mapping[str, object]) -> Ok[Mem] | Err[None]:
        return Ok(Mem(total=0 * len(opts)))


class PastSixMiBWriter(MemoryWriter):
    """Law d, only past 6 MiB: a part buffer that overflows once more than 6 MiB was written.

    Keeps only the byte count, so multi-megabyte uploads cost it nothing.
    """

    LIMIT = 6 * 2**20

    def write_chunk(self, data: bytes, state: Mem) -> Ok[Mem] | Err[Mem]:
        if state.total + len(data) > self.LIMIT:
            raise BufferOverflow(f"part buffer overflow at {state.total + len(data)} bytes")
        return Ok(Mem((), state.total + len(data)))


class DictOptsWriter(MemoryWriter):
    """Takes a plain dict of opts."""

    def init(self, opts: dict[str, int]) -> Ok[Mem] | Err[None]:
        return Ok(Mem(total=0 * len(opts)))
