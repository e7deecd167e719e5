"""Writers mypy rejects: each differs from ``GoodWriter`` in one thing only.

Most writers are structural (no base class), so mypy rejects them where they
are handed to a driver or typed as the protocol. A writer that subclasses
``UploadWriter`` explicitly is rejected at the faulty method itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, TypedDict

import attrs

from uploadwriter import CloseReason, Err, Ok, Uploader, UploadWriter
from uploadwriter.writers import EchoOpts, TmpFileOpts, TmpFileState, TmpFileWriter


class Opts(TypedDict):
    name: str


@attrs.frozen
class State:
    size: int


class GoodWriter:
    """The reference: accepted (see the first lines of ``rejected``)."""

    def init(self, opts: Opts) -> Ok[State] | Err[None]:
        return Ok(State(0))

    def meta(self, state: State) -> Mapping[str, object]:
        return {}

    def write_chunk(self, data: bytes, state: State) -> Ok[State] | Err[State]:
        return Ok(state)

    def close(self, state: State, reason: CloseReason) -> Ok[State] | Err[State]:
        return Ok(state)


class ReturnsBareState:
    def init(self, opts: Opts) -> Ok[State] | Err[None]:
        return Ok(State(0))

    def meta(self, state: State) -> Mapping[str, object]:
        return {}

    def write_chunk(self, data: bytes, state: State) -> State:
        return State(state.size + len(data))

    def close(self, state: State, reason: CloseReason) -> Ok[State] | Err[State]:
        return Ok(state)


class ReturnsElixirTuple:
    def init(self, opts: Opts) -> Ok[State] | Err[None]:
        return Ok(State(0))

    def meta(self, state: State) -> Mapping[str, object]:
        return {}

    def write_chunk(self, data: bytes, state: State) -> tuple[Literal["ok"], State]:
        return ("ok", state)

    def close(self, state: State, reason: CloseReason) -> Ok[State] | Err[State]:
        return Ok(state)


class MissingClose:
    def init(self, opts: Opts) -> Ok[State] | Err[None]:
        return Ok(State(0))

    def meta(self, state: State) -> Mapping[str, object]:
        return {}

    def write_chunk(self, data: bytes, state: State) -> Ok[State] | Err[State]:
        return Ok(state)


class TakesStr:
    def init(self, opts: Opts) -> Ok[State] | Err[None]:
        return Ok(State(0))

    def meta(self, state: State) -> Mapping[str, object]:
        return {}

    def write_chunk(self, data: str, state: State) -> Ok[State] | Err[State]:
        return Ok(state)

    def close(self, state: State, reason: CloseReason) -> Ok[State] | Err[State]:
        return Ok(state)


class StateMismatch:
    """``init`` starts an ``int`` state, the other callbacks expect ``State``."""

    def init(self, opts: Opts) -> Ok[int] | Err[None]:
        return Ok(0)

    def meta(self, state: State) -> Mapping[str, object]:
        return {}

    def write_chunk(self, data: bytes, state: State) -> Ok[State] | Err[State]:
        return Ok(state)

    def close(self, state: State, reason: CloseReason) -> Ok[State] | Err[State]:
        return Ok(state)


class CloseWithoutReason:
    def init(self, opts: Opts) -> Ok[State] | Err[None]:
        return Ok(State(0))

    def meta(self, state: State) -> Mapping[str, object]:
        return {}

    def write_chunk(self, data: bytes, state: State) -> Ok[State] | Err[State]:
        return Ok(state)

    def close(self, state: State) -> Ok[State] | Err[State]:
        return Ok(state)


class MetaReturnsList:
    def init(self, opts: Opts) -> Ok[State] | Err[None]:
        return Ok(State(0))

    def meta(self, state: State) -> list[str]:
        return []

    def write_chunk(self, data: bytes, state: State) -> Ok[State] | Err[State]:
        return Ok(state)

    def close(self, state: State, reason: CloseReason) -> Ok[State] | Err[State]:
        return Ok(state)


class InitErrCarriesState:
    """``init`` has no state to give back when it refuses: its ``Err`` carries ``None``."""

    def init(self, opts: Opts) -> Ok[State] | Err[State]:
        return Err("refused", State(0))

    def meta(self, state: State) -> Mapping[str, object]:
        return {}

    def write_chunk(self, data: bytes, state: State) -> Ok[State] | Err[State]:
        return Ok(state)

    def close(self, state: State, reason: CloseReason) -> Ok[State] | Err[State]:
        return Ok(state)


def rejected() -> None:
    opts = Opts(name="a")
    Uploader(GoodWriter(), opts)
    good: UploadWriter[Opts, State] = GoodWriter()

    Uploader(ReturnsBareState(), opts)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    Uploader(ReturnsElixirTuple(), opts)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    Uploader(MissingClose(), opts)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    Uploader(TakesStr(), opts)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    Uploader(CloseWithoutReason(), opts)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    Uploader(MetaReturnsList(), opts)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    Uploader(InitErrCarriesState(), opts)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    # No single state type fits init and write_chunk: S cannot be solved.
    Uploader(StateMismatch(), opts)  # type: ignore[misc]  # pyright: ignore[reportArgumentType]
    # The class where an instance is needed: its methods would lack self.
    Uploader(TmpFileWriter, TmpFileOpts())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    # The same writers, typed as the protocol: mypy names the conflicting member.
    bare: UploadWriter[Opts, State] = ReturnsBareState()  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]
    mismatch: UploadWriter[Opts, State] = StateMismatch()  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]
    no_close: UploadWriter[Opts, State] = MissingClose()  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]


def wrong_opts() -> None:
    # Opts of another writer, or not opts at all: O cannot be solved.
    Uploader(GoodWriter(), EchoOpts(level="info"))  # type: ignore[misc]  # pyright: ignore[reportArgumentType]
    Uploader(TmpFileWriter(), EchoOpts(level="info"))  # type: ignore[misc]  # pyright: ignore[reportArgumentType]
    Uploader(TmpFileWriter(), "/tmp")  # type: ignore[misc]  # pyright: ignore[reportArgumentType]
    Uploader(GoodWriter(), None)  # type: ignore[misc]  # pyright: ignore[reportArgumentType]
    # With the parameters named, the opts are checked item by item.
    Uploader[Opts, State](GoodWriter(), {"name": 1})  # type: ignore[typeddict-item]  # pyright: ignore[reportArgumentType]
    Uploader[TmpFileOpts, TmpFileState](TmpFileWriter(), {"path": "/x"})  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    wrong: UploadWriter[EchoOpts, State] = GoodWriter()  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]


class DeclaredBadWriter(UploadWriter[Opts, State]):
    """Subclassing the protocol: each faulty method is rejected where it is defined."""

    def init(self, opts: int) -> Ok[State] | Err[None]:  # type: ignore[override]  # pyright: ignore[reportIncompatibleMethodOverride]
        return Ok(State(opts))

    def meta(self, state: State) -> list[str]:  # type: ignore[override]  # pyright: ignore[reportIncompatibleMethodOverride]
        return []

    def write_chunk(self, data: bytes, state: State) -> State:  # type: ignore[override]  # pyright: ignore[reportIncompatibleMethodOverride]
        return state

    def close(self, state: State) -> Ok[State] | Err[State]:  # type: ignore[override]  # pyright: ignore[reportIncompatibleMethodOverride]
        return Ok(state)


class DeclaredWithoutClose(UploadWriter[Opts, State]):
    def init(self, opts: Opts) -> Ok[State] | Err[None]:
        return Ok(State(0))

    def meta(self, state: State) -> Mapping[str, object]:
        return {}

    def write_chunk(self, data: bytes, state: State) -> Ok[State] | Err[State]:
        return Ok(state)


def declared_without_close_cannot_be_built() -> None:
    DeclaredWithoutClose()  # type: ignore[abstract]  # pyright: ignore[reportAbstractUsage]
