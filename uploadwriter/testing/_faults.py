"""Make one chosen write fail on purpose."""

from __future__ import annotations

import attrs

from .._results import Err, Ok
from ._laws import short

__all__ = ("Faults",)


@attrs.define
class Faults:
    """Which ``write_chunk`` call (counted from 0) the check makes fail, and with what.

    The writer's own answer to that call, if ``Ok(s2)``, is replaced by
    ``Err(reason, s2)``: as if the writer had failed after writing, so that
    ``close(s2, Error(reason))`` is tested.
    """

    fail_write_at: int | None = None
    reason: object = None
    #: ``write_chunk`` calls made so far.
    writes: int = 0

    def fail_next(self, reason: object) -> None:
        """Make the next ``write_chunk`` fail with ``reason``."""
        self.fail_write_at = self.writes
        self.reason = reason

    def after_write(self, answer: object) -> tuple[object, str]:
        """Count a write; return the answer the driver gets, and a note for the call log."""
        index = self.writes
        self.writes += 1
        if index == self.fail_write_at and isinstance(answer, Ok):
            note = f" (made Err({short(self.reason, 60)}, state) by the check)"
            return Err(self.reason, answer.state), note
        return answer, ""
