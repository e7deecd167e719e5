"""Registers the kit's strategies with ``st.from_type`` (the ``hypothesis`` entry point)."""

from __future__ import annotations

__all__ = ("_hypothesis_setup_hook",)


def _hypothesis_setup_hook() -> None:
    """Register strategies for Chunk, Error and EventStream; Hypothesis calls this on import."""
    # Imported here, not above: Hypothesis imports this module while it is
    # itself being imported, and only the hook's caller needs the rest.
    from hypothesis import strategies as st

    from .._events import Chunk, Error
    from ._strategies import chunks, error_reasons
    from ._streams import EventStream, event_streams

    st.register_type_strategy(Chunk, chunks())
    st.register_type_strategy(Error, st.builds(Error, error_reasons()))
    st.register_type_strategy(EventStream, event_streams())
