"""What the tus protocol knows of an upload, and the server's settings."""

from __future__ import annotations

from typing import Literal

import attrs

from ._headers import Metadata

__all__ = ("TusConfig", "UploadInfo")


@attrs.frozen
class UploadInfo:
    """An upload as the protocol sees it (the store keeps it, with the writer's saved form).

    ``state``: ``"open"`` (takes bytes), ``"completed"`` (all ``length`` bytes
    received, the writer closed with ``Done()``), ``"terminated"`` (a
    tombstone: deleted or expired). ``expires``: seconds since the epoch, or
    ``None`` for never.
    """

    id: str
    length: int
    offset: int
    metadata: Metadata = ()
    expires: float | None = None
    state: Literal["open", "completed", "terminated"] = "open"


@attrs.frozen
class TusConfig:
    """The server's tus settings.

    ``max_size``: the largest upload (``Tus-Max-Size``). ``expires_after``:
    seconds an unfinished upload lives after its last change (``None``:
    forever). ``checkpoint_every``: bytes between checkpoints inside one
    request (``None``: only at its end).

    Raises:
        ValueError: a size or a number of seconds is not above 0.
    """

    max_size: int = attrs.field(default=2**40)
    expires_after: float | None = attrs.field(default=24 * 3600.0)
    checkpoint_every: int | None = attrs.field(default=8 * 2**20)

    @max_size.validator
    def _max_size(self, attribute: object, value: object) -> None:
        if not (isinstance(value, int) and value > 0):
            raise ValueError(f"max_size must be a whole number of bytes above 0, not {value!r}")

    @expires_after.validator
    def _expires(self, attribute: object, value: object) -> None:
        if value is not None and not (isinstance(value, (int, float)) and value > 0):
            raise ValueError(f"expires_after must be seconds above 0 or None, not {value!r}")

    @checkpoint_every.validator
    def _checkpoint(self, attribute: object, value: object) -> None:
        if value is not None and not (isinstance(value, int) and value > 0):
            raise ValueError(
                f"checkpoint_every must be a whole number of bytes above 0 or None, not {value!r}"
            )
