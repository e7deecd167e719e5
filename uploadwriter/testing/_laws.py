"""The laws a writer must keep, and the errors that report a broken one."""

from __future__ import annotations

import types
from collections.abc import Mapping

from .._errors import safe_repr

__all__ = ("LAWS", "InitRefused", "WriterLawError", "short")

LAWS: Mapping[str, str] = types.MappingProxyType(
    {
        "a": "init, write_chunk and close return Ok or Err (an async writer: awaitables of them)",
        "b": "a callback never mutates the state (or, for init, the opts) it is given",
        "c": "meta returns a mapping, and an equal one each time it is asked about the same state",
        "d": "no exception escapes init, write_chunk, meta or discard",
        "e": "close accepts every reason, Done(), Cancel() and Error(anything): it never "
        "raises, and answers Ok to Cancel() and Error(...)",
        "f": "nothing is left open after an upload (what leaks= returns does not grow)",
        "g": "the writer's own invariant holds after every successful callback (invariant=)",
    }
)
"""Each law's letter and what it says: the letters of ``WriterLawError.law``."""


class WriterLawError(AssertionError):
    """Raised by the testing kit when a writer breaks one of the :data:`LAWS`."""

    def __init__(self, law: str, writer_name: str, message: str, stream: object = None) -> None:
        super().__init__(message)
        #: The letter of the broken law, a key of :data:`LAWS`.
        self.law = law
        #: The writer's class, as ``module.QualifiedName``.
        self.writer_name = writer_name
        #: The upload (an ``EventStream``) on which the law broke.
        self.stream = stream


class InitRefused(ValueError):
    """Raised by the testing kit when the writer's ``init`` refuses the opts it was given."""


def short(value: object, limit: int = 160) -> str:
    """``repr(value)``, never raising, cut to ``limit`` characters."""
    text = safe_repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
