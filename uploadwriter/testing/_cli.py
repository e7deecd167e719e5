"""``uploadwriter check module:attr``: check_writer from the command line."""

from __future__ import annotations

import importlib
import inspect
import json
import operator
import os
import sys
import typing
from collections.abc import Mapping
from typing import TextIO

import hypothesis
from hypothesis.errors import HypothesisException

from .._protocols import is_async_writer
from ._check import check_writer, default_settings
from ._laws import InitRefused, WriterLawError
from ._leaks import open_fds

__all__ = ("run_check",)

OK, BROKEN, USAGE = 0, 1, 2


class _Usage(Exception):
    """Raised when the target of ``uploadwriter check`` cannot be loaded as a writer."""


def _load(target: str) -> object:
    module_name, colon, attribute = target.partition(":")
    if not colon or not module_name or not attribute:
        raise _Usage(f"expected MODULE:ATTR, e.g. mypackage.writers:S3Writer, not {target!r}")
    # Like `python -m`: the current directory's modules are importable.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise _Usage(f"cannot import module {module_name!r}: {type(exc).__name__}: {exc}") from exc
    try:
        value: object = operator.attrgetter(attribute)(module)
    except AttributeError:
        raise _Usage(f"module {module_name!r} has no attribute {attribute!r}") from None
    if isinstance(value, type):
        try:
            value = value()
        except Exception as exc:
            raise _Usage(
                f"cannot create {target}() with no arguments ({type(exc).__name__}: {exc}); "
                "point at an instance instead, e.g. module:writer where writer = "
                f"{attribute}(...)"
            ) from exc
    return value


def _opts_class(writer: object) -> type | None:
    """The class ``writer.init`` annotates its opts with, if it is one to build from JSON."""
    init = getattr(writer, "init", None)
    if not callable(init):
        return None
    try:
        parameters = list(inspect.signature(init).parameters.values())
        hints = typing.get_type_hints(init)
    except Exception:  # noqa: BLE001 - unresolvable annotations: pass the JSON as it is
        return None
    hint = hints.get(parameters[0].name) if parameters else None
    if hint in (object, typing.Any) or not isinstance(hint, type) or issubclass(hint, Mapping):
        return None
    return hint


def _make_opts(writer: object, data: object) -> object:
    """Build the opts from ``--opts``: keyword arguments of the opts class, if it has one."""
    cls = _opts_class(writer)
    if cls is None or not isinstance(data, dict):
        return data
    try:
        return cls(**data)
    except Exception as exc:
        raise _Usage(
            f"--opts {json.dumps(data)} is not valid for {cls.__name__}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def run_check(
    target: str,
    opts: object,
    *,
    max_examples: int | None = None,
    fds: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Check the writer named by ``target`` (``module:attr``); return the exit status.

    0: every law holds; 1: one breaks (the report goes to ``err``); 2: bad usage.
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    try:
        writer = _load(target)
        opts = _make_opts(writer, opts)
    except _Usage as exc:
        print(f"uploadwriter check: {exc}", file=err)
        return USAGE
    settings = default_settings()
    if max_examples is not None:
        settings = hypothesis.settings(settings, max_examples=max_examples)
    try:
        count = check_writer(writer, opts, settings=settings, leaks=open_fds if fds else None)
    except TypeError as exc:
        print(f"uploadwriter check: {target} is not an upload writer: {exc}", file=err)
        return USAGE
    except InitRefused as exc:
        print(f"uploadwriter check: {exc} (give them with --opts JSON)", file=err)
        return USAGE
    except WriterLawError as exc:
        print(f"uploadwriter check: FAILED, law {exc.law} is broken\n\n{exc}", file=err)
        return BROKEN
    except (AssertionError, HypothesisException) as exc:
        # Hypothesis's own verdicts, e.g. a failure that did not happen again
        # when the example was replayed (a flaky writer).
        print(f"uploadwriter check: FAILED: {type(exc).__name__}: {exc}", file=err)
        return BROKEN
    laws = "a-f" if fds else "a-e"
    kind = "async" if is_async_writer(writer) else "sync"
    print(f"{target}: laws {laws} hold over {count} uploads ({kind} writer)", file=out)
    return OK
