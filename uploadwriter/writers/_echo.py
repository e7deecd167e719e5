"""``EchoWriter``: Phoenix's example writer, which logs chunk sizes and keeps nothing."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import attrs

from .._errors import safe_repr
from .._events import CloseReason
from .._results import Err, Ok

__all__ = ("EchoOpts", "EchoState", "EchoWriter")

logger = logging.getLogger("uploadwriter.echo")


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


def _level(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if _levelno(value) is None:
        raise ValueError(
            "EchoOpts.level must be a logging level such as 'debug' or logging.INFO, "
            f"not {safe_repr(value)}"
        )


@attrs.frozen
class EchoOpts:
    """Options of :class:`EchoWriter`.

    Raises:
        ValueError: ``level`` is not a logging level.
    """

    #: The logging level: a number (``logging.DEBUG``) or a name (``"debug"``).
    level: int | str = attrs.field(default="debug", validator=_level)


@attrs.frozen
class EchoState:
    """Bytes seen so far, and the level to log at (as given, and as a number)."""

    total: int
    level: int | str
    levelno: int


class EchoWriter:
    """Log each chunk's size at the configured level, and the total and reason on close.

    Meta is ``{"level": level}``. Logs go to the ``uploadwriter.echo`` logger.
    """

    def init(self, opts: EchoOpts) -> Ok[EchoState] | Err[None]:
        """Start counting (``Err`` if ``opts`` is not an ``EchoOpts``)."""
        levelno = _levelno(getattr(opts, "level", None))
        if levelno is None:
            return Err(
                TypeError(f"EchoWriter needs EchoOpts(level=...), not {safe_repr(opts)}"), None
            )
        return Ok(EchoState(0, opts.level, levelno))

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
