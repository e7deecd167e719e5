"""What a check runs: the writer, its opts, the hooks."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from .._protocols import check_writer_shape, is_async_writer
from ._laws import short

__all__ = ("BACKENDS", "Consume", "Hooks", "Invariant", "Leaks", "Spec", "make_spec")

BACKENDS = ("asyncio", "trio")

Leaks = Callable[[], Iterable[object]]
Invariant = Callable[[Any], object]
Consume = Callable[[Mapping[str, object]], object]


def _function_or_none(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not callable(value):
        raise TypeError(f"{attribute.name}= must be a function or None, not {short(value)}")


def _backend(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value not in BACKENDS:
        raise ValueError(f"backend must be 'asyncio' or 'trio', not {value!r}")


@attrs.frozen
class Hooks:
    """The hooks every check takes (see ``check_writer``), validated here and only here.

    Raises:
        TypeError: ``leaks``, ``invariant`` or ``consume`` is not callable.
        ValueError: ``backend`` is not ``"asyncio"`` or ``"trio"``.
    """

    leaks: Leaks | None = attrs.field(default=None, validator=_function_or_none)
    invariant: Invariant | None = attrs.field(default=None, validator=_function_or_none)
    consume: Consume | None = attrs.field(default=None, validator=_function_or_none)
    backend: str = attrs.field(default="asyncio", validator=_backend)

    def arguments(self, *, asynchronous: bool, awaited: bool = False) -> list[str]:
        """The keyword arguments that repeat these hooks in a ``replay(...)`` line."""
        given = [
            f"{name}=..."
            for name in ("leaks", "invariant", "consume")
            if getattr(self, name) is not None
        ]
        if asynchronous and not awaited and self.backend != "asyncio":
            given.append(f"backend={self.backend!r}")
        return given


@attrs.frozen
class Spec:
    """What is checked and how: the writer (an instance), its opts, and the hooks."""

    writer: Any
    opts: Any
    hooks: Hooks
    asynchronous: bool
    #: The writer's class, as ``module.QualifiedName``.
    name: str
    #: Top-level packages whose plain objects snapshots look inside (law b).
    packages: frozenset[str]
    #: Checked from a running event loop (``check_writer_async``): reports
    #: say ``await replay_async(...)``.
    awaited: bool = False


def make_spec(
    writer: object, opts: object, hooks: Hooks | None = None, *, awaited: bool = False
) -> Spec:
    """Validate what to check; a writer class is instantiated with no arguments.

    Raises:
        TypeError: ``writer`` is not a sync or async upload writer.
    """
    if isinstance(writer, type):
        writer = writer()
    asynchronous = is_async_writer(writer)
    check_writer_shape(writer, asynchronous=asynchronous)
    cls = type(writer)
    return Spec(
        writer,
        opts,
        Hooks() if hooks is None else hooks,
        asynchronous,
        f"{cls.__module__}.{cls.__qualname__}",
        frozenset({cls.__module__.partition(".")[0]}),
        awaited,
    )
