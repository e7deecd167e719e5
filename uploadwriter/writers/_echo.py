"""``EchoWriter``: Phoenix's example writer, which logs chunk sizes and keeps nothing."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TypedDict

import attrs

from .._events import CloseReason
from .._results import Err, Ok

__all__ = ("EchoOpts", "EchoState", "EchoWriter")

logger = logging.getLogger("uploadwriter.echo")


class EchoOpts(TypedDict):
    """Options of :class:`EchoWriter`."""

    #: The logging level: a number (``logging.DEBUG``) or a name (``"debug"``).
    level: int | str


@attrs.frozen
class EchoState:
    """Bytes seen so far, and the level to log at (as given, and as a number)."""

    total: int
    level: int | str
    levelno: int


def _levelno(level: object) -> int | None:
    if isinstance(level, bool):
        return None
    if isinstance(level, int):
        return level
    if isinstance(level, str):
        number = logging.getLevelName(level.upper())
        if isinstance(number, int):
            return number
    return None


class EchoWriter:
    """Log each chunk's size at the configured level, and the total and reason on close.

    Meta is ``{"level": level}``. Logs go to the ``uploadwriter.echo`` logger.
    """

    def init(self, opts: EchoOpts) -> Ok[EchoState] | Err[None]:
        """Start counting (``Err`` if ``opts["level"]`` is missing or not a logging level)."""
        try:
            level: object = opts["level"]
        except (KeyError, TypeError):
            level = None
        levelno = _levelno(level)
        if levelno is None or not isinstance(level, (int, str)):
            return Err(
                ValueError(
                    "EchoWriter needs opts {'level': L}, L a logging level such as "
                    f"'debug' or logging.INFO; got {opts!r}"
                ),
                None,
            )
        return Ok(EchoState(0, level, levelno))

    def meta(self, state: EchoState) -> Mapping[str, object]:
        """``{"level": level}``, the level as it was given."""
        return {"level": state.level}

    def write_chunk(self, data: bytes, state: EchoState) -> Ok[EchoState] | Err[EchoState]:
        """Log ``received chunk of N bytes``."""
        size = len(data)
        logger.log(state.levelno, "received chunk of %d bytes", size)
        return Ok(EchoState(state.total + size, state.level, state.levelno))

    def close(self, state: EchoState, reason: CloseReason) -> Ok[EchoState] | Err[EchoState]:
        """Log ``closing upload after N bytes, <reason>``."""
        logger.log(state.levelno, "closing upload after %d bytes, %r", state.total, reason)
        return Ok(state)
