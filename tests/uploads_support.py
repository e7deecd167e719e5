"""Writers and helpers shared by the tests of the uploads layer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import anyio
import attrs

from uploadwriter import (
    AsyncUploadWriter,
    CloseReason,
    Done,
    Err,
    Event,
    Ok,
    UploadEntry,
    Uploads,
    UploadWriter,
)
from uploadwriter.writers import TmpFileOpts, TmpFileState, TmpFileWriter

Fail = Literal["init", "write", "close"] | None
Driver = Literal["sync", "async"]

_TMP = TmpFileWriter()


@attrs.frozen
class FlakyOpts:
    """Where to write, and which callback fails (``write`` fails at chunk number ``at``)."""

    dir: str
    fail: Fail = None
    at: int = 0


@attrs.frozen
class FlakyState:
    inner: TmpFileState
    opts: FlakyOpts
    chunks: int = 0


class FlakyWriter:
    """A temp-file writer that fails where told to, cleaning up after itself as a writer must."""

    def init(self, opts: FlakyOpts) -> Ok[FlakyState] | Err[None]:
        if opts.fail == "init":
            return Err("init refused", None)
        match _TMP.init(TmpFileOpts(dir=opts.dir)):
            case Ok(inner):
                return Ok(FlakyState(inner, opts))
            case Err(reason, _):  # pragma: no cover - a tmp dir is writable
                return Err(reason, None)
        raise AssertionError  # pragma: no cover

    def meta(self, state: FlakyState) -> Mapping[str, object]:
        return {"path": state.inner.path, "flaky": True}

    def write_chunk(self, data: bytes, state: FlakyState) -> Ok[FlakyState] | Err[FlakyState]:
        if state.opts.fail == "write" and state.chunks == state.opts.at:
            return Err("disk full", state)
        _TMP.write_chunk(data, state.inner)
        return Ok(attrs.evolve(state, chunks=state.chunks + 1))

    def close(self, state: FlakyState, reason: CloseReason) -> Ok[FlakyState] | Err[FlakyState]:
        if state.opts.fail == "close" and reason == Done():
            _TMP.close(state.inner, reason)
            Path(state.inner.path).unlink()
            return Err("close failed", state)
        _TMP.close(state.inner, reason)
        return Ok(state)


class AsyncSlowWriter:
    """A native async writer (no thread) that keeps chunks in memory; writes take ``delay`` s."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.closed: list[CloseReason] = []

    async def init(self, opts: None) -> Ok[bytes] | Err[None]:
        return Ok(b"")

    def meta(self, state: bytes) -> Mapping[str, object]:
        return {"data": state}

    async def write_chunk(self, data: bytes, state: bytes) -> Ok[bytes] | Err[bytes]:
        await anyio.sleep(self.delay)
        return Ok(state + data)

    async def close(self, state: bytes, reason: CloseReason) -> Ok[bytes] | Err[bytes]:
        self.closed.append(reason)
        return Ok(state)


class MemoryLikeWriter:
    """A synchronous writer that keeps the chunks in memory (its state is the bytes so far)."""

    def init(self, opts: None) -> Ok[bytes] | Err[None]:
        return Ok(b"")

    def meta(self, state: bytes) -> Mapping[str, object]:
        return {"data": state}

    def write_chunk(self, data: bytes, state: bytes) -> Ok[bytes] | Err[bytes]:
        return Ok(state + data)

    def close(self, state: bytes, reason: CloseReason) -> Ok[bytes] | Err[bytes]:
        return Ok(state)


def flaky_factory(
    tmp: Path, fails: Mapping[str, FlakyOpts] | None = None
) -> Any:  # a WriterFactory; Any keeps the callers' configs short
    """A writer factory: the FlakyWriter for names in ``fails``, a TmpFileWriter otherwise."""
    plan = dict(fails or {})
    calls: list[tuple[str, str]] = []

    def factory(
        name: str, entry: UploadEntry
    ) -> tuple[UploadWriter[Any, Any] | AsyncUploadWriter[Any, Any], Any]:
        calls.append((name, entry.ref))
        opts = plan.get(entry.client_name)
        if opts is None:
            return TmpFileWriter(), TmpFileOpts(dir=tmp)
        return FlakyWriter(), attrs.evolve(opts, dir=str(tmp))

    factory.calls = calls  # type: ignore[attr-defined]
    return factory


async def run_upload(uploads: Uploads, ref: str, events: Sequence[Event], driver: Driver) -> None:
    """Send ``events`` to entry ``ref``'s upload with the chosen driver."""
    if driver == "sync":
        with uploads.upload(ref) as up:
            for event in events:
                up.send(event)
    else:
        async with uploads.upload_async(ref) as aup:
            for event in events:
                await aup.send(event)


def files_in(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())
