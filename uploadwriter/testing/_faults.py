"""Make one chosen write fail on purpose."""

from __future__ import annotations

import attrs

from .._results import Err, Ok
from ._laws import short

__all__ = ("Faults",)


@attrs.define
class Faults:
    """Which ``write_chunk`` call (counted from 0) the check makes fail, and how.

    By default the writer's own answer to that call, if ``Ok(s2)``, is replaced
    by ``Err(reason, s2)``: as if the writer had failed after writing, so that
    ``close(s2, Error(reason))`` is tested. With ``raises``, the call raises
    ``reason`` (an exception) instead, and the writer is not called: as a
    write that raised before doing anything, so that ``close(last good state,
    Error(exception))`` is tested (L11) without the writer's state missing
    something its write did.
    """

    fail_write_at: int | None = None
    reason: object = None
    raises: bool = False
    #: ``write_chunk`` calls made so far.
    writes: int = 0
    #: Whether the write that raises has been made.
    raised: bool = False

    def fail_next(self, reason: object, *, raises: bool = False) -> None:
        """Make the next ``write_chunk`` fail with ``reason`` (raise it, with ``raises``)."""
        self.fail_write_at = self.writes
        self.reason = reason
        self.raises = raises

    def before_write(self) -> Exception | None:
        """Count a write; return the exception to raise in place of it, if this one raises."""
        index = self.writes
        self.writes += 1
        if index == self.fail_write_at and self.raises and isinstance(self.reason, Exception):
            self.raised = True
            return self.reason
        return None

    def after_write(self, answer: object) -> tuple[object, str]:
        """Return the answer the driver gets for the write just counted, and a note for the log."""
        if self.writes - 1 == self.fail_write_at and isinstance(answer, Ok):
            note = f" (made Err({short(self.reason, 60)}, state) by the check)"
            return Err(self.reason, answer.state), note
        return answer, ""
