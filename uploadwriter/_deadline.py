"""The chunk timeout of :class:`~uploadwriter.AsyncUploader`: one cancel scope, a lazy deadline.

The speed trick of the async driver lives here, and only here: the deadline is
moved only once 5% of the timeout has passed since it was last set (so it
fires between 1 and 1.05 timeouts after the last chunk, without a timer
update per chunk), and the loop's clock is looked up once per upload.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import sys
from collections.abc import Callable
from types import TracebackType

import anyio

__all__ = ("ChunkDeadline",)

#: The timeout fires between ``seconds`` and this many times it after the last chunk.
SLACK = 1.05


def _loop_clock() -> Callable[[], float]:
    """Return the running loop's clock: the one ``anyio.current_time()`` reads.

    ``anyio.current_time()`` looks up the running backend on every call (about
    half a microsecond); this looks it up once per upload. Each candidate is
    checked against anyio's own reading, so whatever loop runs (a mock clock,
    trio-asyncio), the deadlines are in anyio's time.
    """
    candidates: list[Callable[[], float]] = []
    with contextlib.suppress(RuntimeError):  # no asyncio loop runs here
        candidates.append(asyncio.get_running_loop().time)
    trio = sys.modules.get("trio")
    if trio is not None:
        candidates.append(trio.current_time)
    for clock in candidates:
        try:
            before = anyio.current_time()
            now = clock()
            after = anyio.current_time()
        except RuntimeError:  # that loop is not the one running here
            continue
        if before <= now <= after:
            return clock
    return anyio.current_time


class ChunkDeadline:
    """A cancel scope around an ``async with`` body that fires ``seconds`` after the last chunk."""

    __slots__ = ("_clock", "_refreshed", "_scope", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._scope = anyio.CancelScope()
        self._clock: Callable[[], float] = anyio.current_time
        self._refreshed = -math.inf  # when the deadline was last set; -inf: disarmed

    def enter(self) -> None:
        """Enter the scope (in the task that runs the body) and arm the deadline."""
        self._clock = _loop_clock()
        self._scope.__enter__()
        self.refresh()

    def exit(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        """Exit the scope; return whether it swallowed a cancellation of its own (it fired)."""
        swallowed = self._scope.__exit__(exc_type, exc, tb)
        # trio's scope answers True when it exits with no exception at all.
        return bool(swallowed) and exc is not None

    @property
    def fired(self) -> bool:
        """Whether the deadline has passed and cancelled the scope."""
        return self._scope.cancel_called

    def refresh(self) -> None:
        """A chunk arrived (or a call answered): the timeout counts from now."""
        now = self._clock()
        seconds = self.seconds
        if now - self._refreshed >= seconds * (SLACK - 1):
            self._refreshed = now
            self._scope.deadline = now + seconds * SLACK

    def disarm(self) -> None:
        """Stop the deadline: a close is never timed out, nor what follows a closed upload."""
        if self._refreshed != -math.inf:
            self._refreshed = -math.inf
            self._scope.deadline = math.inf
