"""Writer results: ``Ok(state)`` and ``Err(reason, state)``.

Plain immutable data, read with ``match``::

    match writer.write_chunk(data, state):
        case Ok(state):
            ...
        case Err(reason, state):
            ...
"""

from __future__ import annotations

from typing import Generic, TypeVar

import attrs

S_co = TypeVar("S_co", covariant=True)


@attrs.frozen
class Ok(Generic[S_co]):
    """The callback succeeded; ``state`` is the writer's next state."""

    state: S_co


@attrs.frozen
class Err(Generic[S_co]):
    """The callback failed with ``reason``; ``state`` is the writer's state to close with."""

    reason: object
    state: S_co
