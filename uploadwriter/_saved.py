"""``SavedUpload``: a suspended upload as storage keeps it.

Not in :mod:`uploadwriter._values`, which is compiled with mypyc: this attrs
class stays Python (mypyc compiles no attrs class, and fails at import on
one with a field typed ``object``, as ``writer`` is).
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from ._errors import safe_repr

__all__ = ("SavedUpload",)


@attrs.frozen
class SavedUpload:
    """A suspended upload as storage keeps it: all any process needs to resume it (L17).

    ``writer`` is what the writer's ``suspend`` answered: for the stores
    shipped, plain JSON data (see ``as_dict()``).
    """

    size: int
    expected_size: int | None
    max_size: int | None
    writer: object

    def as_dict(self) -> dict[str, object]:
        """The saved upload as plain data (JSON-able when the writer's part is)."""
        return {
            "size": self.size,
            "expected_size": self.expected_size,
            "max_size": self.max_size,
            "writer": self.writer,
        }

    @classmethod
    def from_dict(cls, data: object) -> SavedUpload:
        """Read back what ``as_dict()`` gave.

        Raises:
            ValueError: ``data`` is not a saved upload (a field missing or of the wrong type).
        """
        if not isinstance(data, Mapping) or "writer" not in data:
            raise ValueError(f"not a saved upload (no writer part): {safe_repr(data)}")
        size = _saved_size(data, "size")
        if size is None:
            raise ValueError("not a saved upload: its size is missing")
        expected = _saved_size(data, "expected_size")
        return cls(size, expected, _saved_size(data, "max_size"), data["writer"])


def _saved_size(data: Mapping[str, object], name: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ValueError(f"not a saved upload: {name} is {safe_repr(value)}")
