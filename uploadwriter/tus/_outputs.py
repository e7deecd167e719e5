"""What an :class:`~uploadwriter.tus.Exchange` asks of its driver: replies, and storage work."""

from __future__ import annotations

from typing import Literal, TypeAlias

import attrs

from ._headers import Metadata

__all__ = (
    "Checkpoint",
    "Commit",
    "CreateUpload",
    "Drop",
    "LoadUpload",
    "LocalProtocolError",
    "Output",
    "Reply",
    "StartWriting",
    "Terminate",
    "Write",
)


class LocalProtocolError(RuntimeError):
    """Raised when the driver calls an :class:`Exchange` method its state does not allow (a bug)."""


@attrs.frozen
class Reply:
    """Send this response; the exchange is over."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (case-insensitive), or ``None``."""
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)


@attrs.frozen
class CreateUpload:
    """Create an upload of ``length`` bytes (lock it); answer :meth:`Exchange.created`."""

    length: int
    metadata: Metadata
    expires: float | None


@attrs.frozen
class LoadUpload:
    """Read upload ``upload_id`` (and take its lock if ``lock``); answer ``loaded`` or ``busy``."""

    upload_id: str
    lock: bool


@attrs.frozen
class StartWriting:
    """Resume the upload's writer; it stands at ``offset`` bytes."""

    offset: int


@attrs.frozen
class Write:
    """Give ``data``, the upload's next bytes, to the writer."""

    data: bytes = attrs.field(repr=lambda data: f"<{len(data)} bytes>")


@attrs.frozen
class Checkpoint:
    """Make the upload durable at ``offset``: suspend, save, resume."""

    offset: int
    expires: float | None


@attrs.frozen
class Commit:
    """Keep this request's bytes: save the upload at ``offset`` (``complete``: close with Done)."""

    offset: int
    complete: bool
    expires: float | None


@attrs.frozen
class Drop:
    """Do not keep this request's bytes: suspend without saving (the saved offset stays)."""

    reason: str


@attrs.frozen
class Terminate:
    """Close upload ``upload_id`` with ``Cancel()``, remove its data, keep a tombstone."""

    upload_id: str
    why: Literal["terminated", "expired"]


Output: TypeAlias = (
    Reply
    | CreateUpload
    | LoadUpload
    | StartWriting
    | Write
    | Checkpoint
    | Commit
    | Drop
    | Terminate
)
