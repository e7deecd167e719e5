"""``MemoryWriter``: keeps the upload in memory, for small uploads and tests."""

from __future__ import annotations

import io
from collections.abc import Mapping

import attrs

from .._errors import safe_repr
from .._events import CloseReason, Done
from .._results import Err, Ok

__all__ = ("MemoryOpts", "MemoryState", "MemoryWriter")


@attrs.frozen
class MemoryOpts:
    """Options of :class:`MemoryWriter` (none: bound the size with the driver's ``max_size``)."""


@attrs.frozen
class MemoryState:
    """The bytes received so far.

    ``size`` is a value. ``buffer`` is a resource, compared by identity: the
    ``io.BytesIO`` the bytes are appended to, which the next ``write_chunk``
    extends. Continue from the state the last callback returned (drivers do).
    """

    size: int
    buffer: io.BytesIO = attrs.field(repr=False)


class MemoryWriter:
    """Keep the upload in a buffer in memory; meta is ``{"data": bytes, "size": int}``.

    Bound it with the driver's ``max_size``: the whole upload is held. The
    buffer is released on ``Cancel()`` or ``Error(...)``, and by ``discard``
    once a completed upload is no longer wanted.
    """

    def init(self, opts: MemoryOpts = MemoryOpts()) -> Ok[MemoryState] | Err[None]:
        """Start with an empty buffer (``Err`` if ``opts`` is not a ``MemoryOpts``)."""
        given: object = opts  # typed as MemoryOpts, but a caller may pass anything
        if not isinstance(given, MemoryOpts):
            return Err(TypeError(f"MemoryWriter needs MemoryOpts(), not {safe_repr(opts)}"), None)
        return Ok(MemoryState(0, io.BytesIO()))

    def meta(self, state: MemoryState) -> Mapping[str, object]:
        """``{"data": the bytes, "size": their number}``.

        Raises:
            ValueError: the upload's data was discarded, or it did not complete.
        """
        if state.buffer.closed:
            raise ValueError(
                "MemoryWriter: this upload's data was released (cancelled or discarded)"
            )
        # BytesIO shares its bytes with the value getvalue() returns until the
        # next write, and there is none after Done(): asking again copies nothing.
        return {"data": state.buffer.getvalue(), "size": state.size}

    def write_chunk(self, data: bytes, state: MemoryState) -> Ok[MemoryState] | Err[MemoryState]:
        """Append ``data`` to the buffer."""
        state.buffer.write(data)
        return Ok(MemoryState(state.size + len(data), state.buffer))

    def close(self, state: MemoryState, reason: CloseReason) -> Ok[MemoryState] | Err[MemoryState]:
        """Keep the bytes on ``Done()``; release them otherwise."""
        if reason != Done():
            state.buffer.close()
        return Ok(state)

    def discard(self, state: MemoryState) -> None:
        """Release the bytes of a completed upload nobody took."""
        state.buffer.close()
