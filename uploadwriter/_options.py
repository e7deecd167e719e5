"""The one set of validators for the options that drivers and configs share.

One rule everywhere: a value of the wrong type raises ``TypeError``, a value
out of range raises ``InvalidLimit`` (a ``ValueError``); the message names the
option and says what is allowed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import attrs

from ._errors import InvalidLimit, safe_repr

__all__ = ("count_option", "count_validator", "size_option", "timeout_option")


def size_option(name: str, value: object) -> int | None:
    """Return ``value`` as a size in bytes, or ``None``.

    Raises:
        TypeError: ``value`` is not an int or ``None`` (``bool`` is refused too).
        InvalidLimit: ``value`` is negative.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"{name} must be a whole number of bytes (an int) or None, not {safe_repr(value)} "
            f"({type(value).__name__})"
        )
    if value < 0:
        raise InvalidLimit(f"{name} must be 0 or more bytes, not {value}")
    return value


def timeout_option(name: str, value: object) -> float | None:
    """Return ``value`` as a number of seconds, or ``None`` (no timeout).

    Raises:
        TypeError: ``value`` is not an int, a float or ``None``.
        InvalidLimit: ``value`` is not a finite number of seconds above 0.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"{name} must be a number of seconds (an int or a float) or None, "
            f"not {safe_repr(value)} ({type(value).__name__})"
        )
    try:
        seconds = float(value)
    except OverflowError:
        seconds = math.inf
    if not (seconds > 0 and math.isfinite(seconds)):
        shown = safe_repr(value)
        raise InvalidLimit(
            f"{name} must be a finite number of seconds above 0, not {shown}"
            + (" (use None for no timeout)" if seconds == math.inf else "")
        )
    return seconds


def count_option(name: str, value: object, allowed: str = "1 or more") -> int:
    """Return ``value``, a whole number of at least 1 (``allowed`` says what is, in words).

    Raises:
        TypeError: ``value`` is not an int (``bool`` is refused too).
        InvalidLimit: ``value`` is less than 1.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int ({allowed}), not {safe_repr(value)}")
    if value < 1:
        raise InvalidLimit(f"{name} must be {allowed}, not {value}")
    return value


def count_validator(
    name: str, allowed: str = "1 or more"
) -> Callable[[Any, attrs.Attribute[Any], object], None]:
    """An attrs validator applying :func:`count_option` to a field."""

    def check(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        count_option(name, value, allowed)

    return check
