"""``TeeWriter`` and ``AsyncTeeWriter``: one upload written to several writers at once.

Theory of operation
-------------------
The children are called in order, one after the other, with the same bytes.
The tee keeps each child's state in a tuple and holds the lifecycle rules for
them, so that every child that was initialised is closed exactly once:

* ``init``: children are started in order; if one refuses or raises, those
  already started are closed with ``Cancel()`` and the tee refuses.
* ``write_chunk``: the first child that answers ``Err`` (or raises) stops the
  round; the tee answers ``Err`` with every child's newest state, and the
  driver closes the tee with ``Error(reason)``, which closes every child with
  ``Error(reason)`` (the failing one with the state from its ``Err``).
* ``close(Done())``: children are closed in order; once one fails, the rest
  are closed with ``Error(reason)`` instead, those already done are
  discarded (their ``discard`` hook, if any), and the tee answers ``Err``.
* ``close(Cancel())`` / ``close(Error(r))``: every child is closed with it;
  the first failure is the answer, after all are closed.

Order matters on ``Done()``: put first the writers that can still refuse
(``HashWriter`` with ``expected``), and last those whose result cannot be
taken back (S3, a forwarded request), which have no ``discard``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Generic, TypeVar, overload

import anyio
import attrs

from .._errors import safe_repr
from .._events import Cancel, CloseReason, Done, Error
from .._protocols import (
    AsyncUploadWriter,
    UploadWriter,
    check_writer_shape,
    discard,
)
from .._results import Err, Ok

__all__ = ("AsyncTeeWriter", "TeeState", "TeeWriter")

O = TypeVar("O")  # noqa: E741 - the tuple of the children's opts
O1 = TypeVar("O1")
O2 = TypeVar("O2")
O3 = TypeVar("O3")
O4 = TypeVar("O4")

_CANCEL = Cancel()
_DONE = Done()


@attrs.frozen
class TeeState:
    """Each child's state, in the children's order, and the upload's closed flag.

    ``states`` is a value holding the children's states (each child says which
    of its fields are resources). ``closed`` is a resource, compared by
    identity, shared by every state of one upload: set once the tee has closed
    its children itself, when a write was interrupted by cancellation.
    """

    states: tuple[Any, ...]
    closed: threading.Event = attrs.field(factory=threading.Event, repr=False, eq=False)


def _answer(
    answer: object, callback: str, writer: object, last: object
) -> tuple[bool, object, object]:
    """Read a child's answer as (ok, reason, state).

    Anything but ``Ok``/``Err`` is a broken child: an ``Err`` with a
    ``TypeError`` saying so, and ``last``, the child's last good state.
    """
    if isinstance(answer, Ok):
        return True, None, answer.state
    if isinstance(answer, Err):
        return False, answer.reason, answer.state
    reason = TypeError(
        f"{type(writer).__name__}.{callback} returned {safe_repr(answer)}, "
        "not Ok(state) or Err(reason, state)"
    )
    return False, reason, last


def _opts(opts: object, count: int, tee: str) -> Err[None] | None:
    if not isinstance(opts, tuple) or len(opts) != count:
        return Err(
            TypeError(
                f"{tee} needs a tuple of {count} opts, one per writer in order, "
                f"not {safe_repr(opts)}"
            ),
            None,
        )
    return None


def _metas(writers: tuple[Any, ...], state: TeeState) -> Mapping[str, object]:
    return {"writers": tuple(w.meta(s) for w, s in zip(writers, state.states, strict=True))}


class TeeWriter(Generic[O]):
    """Write one upload to several synchronous writers; opts is the tuple of their opts.

    Meta is ``{"writers": (meta1, meta2, ...)}``, in order. Each child that was
    initialised is closed exactly once, whatever fails: if one refuses
    ``init``, those already started are closed with ``Cancel()``; if a write
    fails, every child is closed with ``Error(reason)``; at ``close(Done())``,
    once a child fails, the rest are closed with ``Error(reason)`` and those
    already done are discarded. An exception a child raises counts as its
    ``Err`` (a ``KeyboardInterrupt`` still propagates, after every child is
    closed). Put first the children that can still refuse at ``Done()`` (a
    ``HashWriter`` with ``expected``), last those with no ``discard`` (S3).

    Raises:
        TypeError: no writers, or one is not a synchronous upload writer.
    """

    __slots__ = ("writers",)

    writers: tuple[UploadWriter[Any, Any], ...]  #: the children, in order

    @overload
    def __init__(self: TeeWriter[tuple[O1]], w1: UploadWriter[O1, Any], /) -> None: ...
    @overload
    def __init__(
        self: TeeWriter[tuple[O1, O2]], w1: UploadWriter[O1, Any], w2: UploadWriter[O2, Any], /
    ) -> None: ...
    @overload
    def __init__(
        self: TeeWriter[tuple[O1, O2, O3]],
        w1: UploadWriter[O1, Any],
        w2: UploadWriter[O2, Any],
        w3: UploadWriter[O3, Any],
        /,
    ) -> None: ...
    @overload
    def __init__(
        self: TeeWriter[tuple[O1, O2, O3, O4]],
        w1: UploadWriter[O1, Any],
        w2: UploadWriter[O2, Any],
        w3: UploadWriter[O3, Any],
        w4: UploadWriter[O4, Any],
        /,
    ) -> None: ...
    @overload
    def __init__(self: TeeWriter[tuple[Any, ...]], *writers: UploadWriter[Any, Any]) -> None: ...
    def __init__(self, *writers: UploadWriter[Any, Any]) -> None:
        if not writers:
            raise TypeError("TeeWriter needs at least one writer")
        for writer in writers:
            check_writer_shape(writer, asynchronous=False, needed_by="TeeWriter")
        self.writers = writers

    def init(self, opts: O) -> Ok[TeeState] | Err[None]:
        """Start every child in order; if one refuses, close those started and refuse."""
        refused = _opts(opts, len(self.writers), "TeeWriter")
        if refused is not None:
            return refused
        assert isinstance(opts, tuple)
        states: list[object] = []
        for writer, child_opts in zip(self.writers, opts, strict=True):
            try:
                answer: object = writer.init(child_opts)
            except Exception as exc:  # noqa: BLE001 - a child's exception is its Err (L11)
                answer = Err(exc, None)
            except BaseException:
                self._close_all(TeeState(tuple(states)), _CANCEL)
                raise
            ok, reason, state = _answer(answer, "init", writer, None)
            if not ok:
                self._close_all(TeeState(tuple(states)), _CANCEL)
                return Err(reason, None)
            states.append(state)
        return Ok(TeeState(tuple(states)))

    def meta(self, state: TeeState) -> Mapping[str, object]:
        """``{"writers": (meta1, meta2, ...)}``, each child's meta in order."""
        return _metas(self.writers, state)

    def write_chunk(self, data: bytes, state: TeeState) -> Ok[TeeState] | Err[TeeState]:
        """Write ``data`` to each child in order; stop at the first that fails."""
        states = list(state.states)
        for i, writer in enumerate(self.writers):
            try:
                answer: object = writer.write_chunk(data, states[i])
            except BaseException as exc:  # noqa: BLE001 - a child's exception is its Err (L11)
                # A KeyboardInterrupt too: as an Err, the driver closes every
                # child from its newest state, then raises it again.
                return Err(exc, TeeState(tuple(states), state.closed))
            ok, reason, states[i] = _answer(answer, "write_chunk", writer, states[i])
            if not ok:
                return Err(reason, TeeState(tuple(states), state.closed))
        return Ok(TeeState(tuple(states), state.closed))

    def close(self, state: TeeState, reason: CloseReason) -> Ok[TeeState] | Err[TeeState]:
        """Close each child once, in order (failures: see :class:`TeeWriter`)."""
        # (The closed flag is the async tee's: a sync write is never cut short.)
        return self._close_all(state, reason)

    def discard(self, state: TeeState) -> None:
        """Call each child's ``discard`` hook, for those that have one."""
        for writer, child_state in zip(self.writers, state.states, strict=True):
            discard(writer, child_state)

    def _close_all(self, state: TeeState, reason: CloseReason) -> Ok[TeeState] | Err[TeeState]:
        states = list(state.states)
        failure: tuple[object] | None = None
        interrupted: BaseException | None = None
        for i, writer in enumerate(self.writers[: len(states)]):
            # After a failure on Done(), the rest are not done: they are cleaned up.
            child_reason: CloseReason = (
                Error(failure[0]) if failure is not None and reason == _DONE else reason
            )
            try:
                answer: object = writer.close(states[i], child_reason)
            except Exception as exc:  # noqa: BLE001 - a child's exception is its Err (L11)
                answer = Err(exc, states[i])
            except BaseException as exc:  # noqa: BLE001 - re-raised once every child is closed
                interrupted = interrupted or exc
                answer = Err(exc, states[i])
            ok, why, states[i] = _answer(answer, "close", writer, states[i])
            if not ok and failure is None:
                failure = (why,)
                if reason == _DONE:
                    # Those done already completed: give back what they hold.
                    for done, done_state in zip(self.writers[:i], states[:i], strict=True):
                        discard(done, done_state)
        closed = TeeState(tuple(states), state.closed)
        if interrupted is not None:
            raise interrupted
        if failure is not None:
            return Err(failure[0], closed)
        return Ok(closed)


class AsyncTeeWriter(Generic[O]):
    """Write one upload to several async writers, one after the other; opts is their opts tuple.

    The same rules as :class:`TeeWriter`. Wrap a synchronous child in
    :class:`~uploadwriter.InlineWriter` (never blocks: memory, hash) or
    :class:`~uploadwriter.ThreadedWriter` (blocks: files, network). If the
    task is cancelled during a write (the chunk timeout, or the task's own
    cancellation), the tee closes every child with ``Cancel()`` from its newest
    state at once, shielded, and the driver's later ``close`` does nothing more.

    Raises:
        TypeError: no writers, or one is not an async upload writer.
    """

    __slots__ = ("writers",)

    writers: tuple[AsyncUploadWriter[Any, Any], ...]  #: the children, in order

    @overload
    def __init__(self: AsyncTeeWriter[tuple[O1]], w1: AsyncUploadWriter[O1, Any], /) -> None: ...
    @overload
    def __init__(
        self: AsyncTeeWriter[tuple[O1, O2]],
        w1: AsyncUploadWriter[O1, Any],
        w2: AsyncUploadWriter[O2, Any],
        /,
    ) -> None: ...
    @overload
    def __init__(
        self: AsyncTeeWriter[tuple[O1, O2, O3]],
        w1: AsyncUploadWriter[O1, Any],
        w2: AsyncUploadWriter[O2, Any],
        w3: AsyncUploadWriter[O3, Any],
        /,
    ) -> None: ...
    @overload
    def __init__(
        self: AsyncTeeWriter[tuple[O1, O2, O3, O4]],
        w1: AsyncUploadWriter[O1, Any],
        w2: AsyncUploadWriter[O2, Any],
        w3: AsyncUploadWriter[O3, Any],
        w4: AsyncUploadWriter[O4, Any],
        /,
    ) -> None: ...
    @overload
    def __init__(
        self: AsyncTeeWriter[tuple[Any, ...]], *writers: AsyncUploadWriter[Any, Any]
    ) -> None: ...
    def __init__(self, *writers: AsyncUploadWriter[Any, Any]) -> None:
        if not writers:
            raise TypeError("AsyncTeeWriter needs at least one writer")
        for writer in writers:
            check_writer_shape(writer, asynchronous=True, needed_by="AsyncTeeWriter")
        self.writers = writers

    async def init(self, opts: O) -> Ok[TeeState] | Err[None]:
        """Start every child in order; if one refuses, close those started and refuse."""
        refused = _opts(opts, len(self.writers), "AsyncTeeWriter")
        if refused is not None:
            return refused
        assert isinstance(opts, tuple)
        states: list[object] = []
        for writer, child_opts in zip(self.writers, opts, strict=True):
            try:
                answer: object = await writer.init(child_opts)
            except Exception as exc:  # noqa: BLE001 - a child's exception is its Err (L11)
                answer = Err(exc, None)
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await self._close_all(TeeState(tuple(states)), _CANCEL)
                raise
            ok, reason, state = _answer(answer, "init", writer, None)
            if not ok:
                # Shielded as above: a cancel now must not leave the started children open.
                with anyio.CancelScope(shield=True):
                    await self._close_all(TeeState(tuple(states)), _CANCEL)
                return Err(reason, None)
            states.append(state)
        return Ok(TeeState(tuple(states)))

    def meta(self, state: TeeState) -> Mapping[str, object]:
        """``{"writers": (meta1, meta2, ...)}``, each child's meta in order."""
        return _metas(self.writers, state)

    async def write_chunk(self, data: bytes, state: TeeState) -> Ok[TeeState] | Err[TeeState]:
        """Write ``data`` to each child in order; stop at the first that fails."""
        states = list(state.states)
        for i, writer in enumerate(self.writers):
            try:
                answer: object = await writer.write_chunk(data, states[i])
            except Exception as exc:  # noqa: BLE001 - a child's exception is its Err (L11)
                return Err(exc, TeeState(tuple(states), state.closed))
            except BaseException:
                # Cancelled mid-round: the driver will close the tee from the
                # state before this write, which would close the children that
                # already wrote from their older states (an S3 child may have
                # started its multipart upload in this write). Close them now
                # from their newest states; the driver's close then does nothing.
                state.closed.set()
                with anyio.CancelScope(shield=True):
                    await self._close_all(TeeState(tuple(states)), _CANCEL)
                raise
            ok, reason, states[i] = _answer(answer, "write_chunk", writer, states[i])
            if not ok:
                return Err(reason, TeeState(tuple(states), state.closed))
        return Ok(TeeState(tuple(states), state.closed))

    async def close(self, state: TeeState, reason: CloseReason) -> Ok[TeeState] | Err[TeeState]:
        """Close each child once, in order (failures: see :class:`TeeWriter`)."""
        if state.closed.is_set():
            return Ok(state)
        return await self._close_all(state, reason)

    def discard(self, state: TeeState) -> None:
        """Call each child's ``discard`` hook, for those that have one."""
        for writer, child_state in zip(self.writers, state.states, strict=True):
            discard(writer, child_state)

    async def _close_all(
        self, state: TeeState, reason: CloseReason
    ) -> Ok[TeeState] | Err[TeeState]:
        states = list(state.states)
        failure: tuple[object] | None = None
        interrupted: BaseException | None = None
        for i, writer in enumerate(self.writers[: len(states)]):
            # After a failure on Done(), the rest are not done: they are cleaned up.
            child_reason: CloseReason = (
                Error(failure[0]) if failure is not None and reason == _DONE else reason
            )
            try:
                answer: object = await writer.close(states[i], child_reason)
            except Exception as exc:  # noqa: BLE001 - a child's exception is its Err (L11)
                answer = Err(exc, states[i])
            except BaseException as exc:  # noqa: BLE001 - re-raised once every child is closed
                interrupted = interrupted or exc
                answer = Err(exc, states[i])
            ok, why, states[i] = _answer(answer, "close", writer, states[i])
            if not ok and failure is None:
                failure = (why,)
                if reason == _DONE:
                    for done, done_state in zip(self.writers[:i], states[:i], strict=True):
                        discard(done, done_state)
        closed = TeeState(tuple(states), state.closed)
        if interrupted is not None:
            raise interrupted
        if failure is not None:
            return Err(failure[0], closed)
        return Ok(closed)
