"""Immutable snapshots of writer states, to see whether a callback mutated one (law b).

A snapshot ("fingerprint") is a tree of tuples holding only immutable
values, so two snapshots of the same object compare equal exactly when
nothing inside it changed. ``copy.deepcopy`` would not do: objects without
``__eq__`` compare by identity, so every copy would look changed, and open
files cannot be copied at all.

What is looked inside: attrs classes, dataclasses, builtin containers,
bytearray, and plain objects of the writer's own package. Resources a state
may reference (files, sockets, clients of other libraries) are compared by
identity only: writing to a referenced file is not mutating the state.
"""

from __future__ import annotations

import array
import collections
import dataclasses
import datetime
import decimal
import enum
import fractions
import io
import math
import pathlib
import socket
import types
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, cast

import attrs

from ._laws import short

__all__ = ("DISPLAY_BUDGET", "Fingerprint", "describe_change", "fingerprint", "render", "shown")

_LEAF_TYPES = (
    type(None),
    bool,
    int,
    float,
    complex,
    str,
    bytes,
    range,
    enum.Enum,
    decimal.Decimal,
    fractions.Fraction,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    uuid.UUID,
    pathlib.PurePath,
    type(Ellipsis),
)
_RESOURCE_TYPES = (io.IOBase, socket.socket, type, types.ModuleType, types.FunctionType)
_MAX_DEPTH = 60

Fingerprint = tuple[Any, ...]


def _package(obj: object) -> str:
    return (getattr(type(obj), "__module__", None) or "").partition(".")[0]


def fingerprint(
    value: object, packages: frozenset[str] = frozenset(), *, budget: int | None = None
) -> Fingerprint:
    """Return an immutable snapshot of ``value``; plain objects are looked inside if their
    class comes from one of ``packages`` (top-level package names).

    With a ``budget``, at most that many values are looked at, and the rest
    is marked as not seen: enough to show a value, not to compare it whole.
    """
    return _Snapshot(packages, -1 if budget is None else budget).take(value, 0)


# Exact types whose values are their own snapshot, looked up first: the
# values most states hold (sizes, names, chunks of data). Not float: a NaN
# is not equal to itself.
_PLAIN = frozenset({type(None), bool, int, str, bytes})


class _Snapshot:
    """One snapshot being taken: the objects being looked inside (to stop at cycles)."""

    __slots__ = ("active", "left", "packages")

    def __init__(self, packages: frozenset[str], budget: int) -> None:
        self.packages = packages
        self.active: set[int] = set()
        self.left = budget  # values still to look at; negative: no limit

    def take(self, value: object, depth: int) -> Fingerprint:  # noqa: PLR0911 - one per kind
        cls = type(value)
        if self.left >= 0:
            if self.left == 0:
                return ("more", cls.__qualname__)
            self.left -= 1
        if cls in _PLAIN:
            return ("leaf", cls.__qualname__, value)
        kind = cls.__qualname__
        if isinstance(value, float) and math.isnan(value):
            return ("nan",)
        if isinstance(value, _LEAF_TYPES):
            return ("leaf", kind, value)
        if isinstance(value, bytearray):
            return ("leaf", kind, bytes(value))
        if isinstance(value, memoryview):
            try:
                return ("leaf", kind, value.tobytes())
            except ValueError:  # released
                return ("leaf", kind, None)
        if isinstance(value, _RESOURCE_TYPES) or (callable(value) and not attrs.has(cls)):
            return ("id", kind, id(value))
        if id(value) in self.active:
            return ("cycle", kind)
        if depth > _MAX_DEPTH:
            return ("deep", kind)
        self.active.add(id(value))
        try:
            return self._inside(value, kind, depth + 1)
        finally:
            self.active.discard(id(value))

    def _inside(  # noqa: PLR0911 - one return per kind of container
        self, value: object, kind: str, depth: int
    ) -> Fingerprint:
        if attrs.has(type(value)):
            fields = attrs.fields(cast(Any, type(value)))
            named = ((f.name, getattr(value, f.name, None)) for f in fields)
            return ("obj", kind, self._pairs(named, depth))
        if dataclasses.is_dataclass(value):
            named = ((f.name, getattr(value, f.name, None)) for f in dataclasses.fields(value))
            return ("obj", kind, self._pairs(named, depth))
        if isinstance(value, Mapping):
            return ("map", kind, self._pairs(value.items(), depth))
        if isinstance(value, (list, tuple, collections.deque, array.array)):
            return ("seq", kind, tuple(child for _, child in self._pairs(enumerate(value), depth)))
        if isinstance(value, (set, frozenset)):
            return (
                "set",
                kind,
                frozenset(child for _, child in self._pairs(enumerate(value), depth)),
            )
        digest = _digest(value)
        if digest is not None:
            return ("hash", kind, digest)
        if _package(value) in self.packages or isinstance(value, types.SimpleNamespace):
            attributes = dict(getattr(value, "__dict__", {}))
            for cls in type(value).__mro__:
                for name in getattr(cls, "__slots__", ()):
                    if name not in attributes and hasattr(value, name):
                        attributes[name] = getattr(value, name)
            return ("obj", kind, self._pairs(sorted(attributes.items()), depth))
        return ("id", kind, id(value))

    def _pairs(self, pairs: Iterable[tuple[Any, object]], depth: int) -> tuple[Any, ...]:
        """``(key, snapshot)`` for each pair; once the budget is spent, one last ``…``."""
        taken: list[tuple[Any, Fingerprint]] = []
        for key, item in pairs:
            if self.left == 0:
                taken.append(("…", _MORE))
                break
            taken.append((key, self.take(item, depth)))
        return tuple(taken)


_MORE: Fingerprint = ("more", "")


def _digest(value: object) -> str | None:
    # hashlib objects: a state that feeds its own hasher is mutating it.
    hexdigest = getattr(value, "hexdigest", None)
    if hexdigest is None or not hasattr(value, "update") or not callable(hexdigest):
        return None
    try:
        result = hexdigest()
    except TypeError:  # shake_* need a length
        result = hexdigest(32)
    return result if isinstance(result, str) else None


def describe_change(  # noqa: PLR0911 - one return per kind of difference
    before: Fingerprint, after: Fingerprint, path: str = "state"
) -> str:
    """Say where ``after`` first differs from ``before``, e.g. ``state.total: 0 -> 5``."""
    if before[0] != after[0] or before[1] != after[1]:
        return f"{path}: {_show(before)} -> {_show(after)}"
    tag = before[0]
    if tag in ("obj", "map"):
        old, new = dict(before[2]), dict(after[2])
        for key in [*old, *(k for k in new if k not in old)]:
            where = f"{path}.{key}" if tag == "obj" else f"{path}[{short(key, 40)}]"
            if key not in new:
                return f"{where}: removed"
            if key not in old:
                return f"{where}: added, {_show(new[key])}"
            if old[key] != new[key]:
                return describe_change(old[key], new[key], where)
    if tag == "seq":
        old_items, new_items = before[2], after[2]
        for i, (a, b) in enumerate(zip(old_items, new_items, strict=False)):
            if a != b:
                return describe_change(a, b, f"{path}[{i}]")
        return f"{path}: {len(old_items)} items -> {len(new_items)} items"
    return f"{path}: {_show(before)} -> {_show(after)}"


def _show(fp: Fingerprint) -> str:
    tag = fp[0]
    if tag == "leaf":
        return short(fp[2], 60)
    if tag == "hash":
        return f"<{fp[1]} with digest {fp[2][:16]}…>"
    if tag == "seq":
        return f"<{fp[1]} of {len(fp[2])} items>"
    if tag == "map":
        return f"<{fp[1]} of {len(fp[2])} keys>"
    if tag == "nan":
        return "nan"
    return f"<{fp[1]}>"


# --- showing a snapshot, for reports ------------------------------------------


#: How many values a snapshot taken only to show a value looks at.
DISPLAY_BUDGET = 200

# Past this many bytes of data inside it, a value is written out from its
# snapshot (which stops at the limit) rather than by repr (which would first
# spell out megabytes, for each line of a call log).
_REPR_WEIGHT = 4096


def shown(value: object, snapshot: Fingerprint | None, packages: frozenset[str], limit: int) -> str:
    """``value`` as it was when ``snapshot`` was taken, in at most ``limit`` characters.

    Its own ``repr`` if nothing inside it changed since (then that is what it
    printed then) and it is small; otherwise the snapshot, written out like
    an attrs repr.
    """
    if snapshot is None:
        return short(value, limit)
    if _weight(snapshot) <= _REPR_WEIGHT and _taken_alike(value, snapshot, packages):
        return short(value, limit)
    text = render(snapshot, limit + 1)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _taken_alike(value: object, snapshot: Fingerprint, packages: frozenset[str]) -> bool:
    """Whether a snapshot of ``value`` now equals ``snapshot`` (taken with a budget or not)."""
    if fingerprint(value, packages) == snapshot:
        return True
    return fingerprint(value, packages, budget=DISPLAY_BUDGET) == snapshot


def _weight(fp: Fingerprint) -> int:
    """Roughly how long a repr of the snapshot's value would be."""
    tag = fp[0]
    if tag == "leaf":
        value = fp[2]
        return len(value) if isinstance(value, (bytes, str)) else 1
    if tag in ("obj", "map"):
        return 1 + sum(_weight(child) for _, child in fp[2])
    if tag in ("seq", "set"):
        return 1 + sum(_weight(child) for child in fp[2])
    return 1


def render(fp: Fingerprint, limit: int = 160) -> str:
    """Write a snapshot out as Python-like text, stopping once past ``limit`` characters."""
    out: list[str] = []
    _render(fp, out, [0], limit)
    return "".join(out)


def _render(fp: Fingerprint, out: list[str], used: list[int], limit: int) -> None:
    def put(text: str) -> None:
        out.append(text)
        used[0] += len(text)

    def items(children: list[tuple[str, Fingerprint]], opening: str, closing: str) -> None:
        put(opening)
        for i, (prefix, child) in enumerate(children):
            if used[0] > limit or child[0] == "more":
                put((", " if i else "") + "…")
                break
            put((", " if i else "") + prefix)
            _render(child, out, used, limit)
        put(closing)

    tag, kind = fp[0], fp[1] if len(fp) > 1 else ""
    if tag == "leaf":
        put(short(fp[2], max(limit - used[0], 20)))
    elif tag == "nan":
        put("nan")
    elif tag == "obj":
        items([(f"{name}=", child) for name, child in fp[2]], f"{kind}(", ")")
    elif tag == "map":
        opening, closing = ("{", "}") if kind == "dict" else (f"{kind}({{", "})")
        items([(f"{short(key, 40)}: ", child) for key, child in fp[2]], opening, closing)
    elif tag == "seq":
        children = [("", child) for child in fp[2]]
        if kind == "list":
            items(children, "[", "]")
        elif kind == "tuple":
            items(children, "(", ",)" if len(children) == 1 else ")")
        else:
            items(children, f"{kind}([", "])")
    elif tag == "set":
        items([("", child) for child in sorted(fp[2], key=repr)], f"{kind}({{", "})")
    elif tag == "hash":
        put(f"<{kind} with digest {fp[2][:16]}…>")
    elif tag == "more":
        put("…")
    else:  # "id", "cycle", "deep": not looked inside
        put(f"<{kind}>")
