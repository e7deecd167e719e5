"""``uploadwriter check module:attr``: check_writer from the command line."""

from __future__ import annotations

import importlib
import inspect
import json
import operator
import os
import re
import sys
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

import hypothesis
from hypothesis.errors import HypothesisException

from ._check import check_writer, default_settings
from ._laws import InitRefused, WriterLawError
from ._leaks import open_fds

__all__ = ("cache_directory", "parse_sizes", "run_check")

OK, BROKEN, USAGE = 0, 1, 2

_UNITS = {
    "": 1,
    "b": 1,
    "k": 10**3,
    "kb": 10**3,
    "ki": 2**10,
    "kib": 2**10,
    "m": 10**6,
    "mb": 10**6,
    "mi": 2**20,
    "mib": 2**20,
    "g": 10**9,
    "gb": 10**9,
    "gi": 2**30,
    "gib": 2**30,
}
_SIZE = re.compile(r"\s*(\d[\d_]*(?:\.\d+)?)\s*([a-zA-Z]*)\s*")


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


def parse_sizes(text: str) -> tuple[int, ...]:
    """``"131072,6MiB"`` -> ``(131072, 6291456)``: sizes in bytes, with an optional unit.

    KB, MB, GB are powers of 1000; KiB, MiB, GiB powers of 1024 (any case;
    ``B`` may be left out: ``6Mi``).

    Raises:
        ValueError: a part is not a size, or is less than 1 byte.
    """
    sizes = []
    for part in text.split(","):
        match = _SIZE.fullmatch(part)
        unit = _UNITS.get(match.group(2).lower()) if match else None
        if match is None or unit is None:
            raise ValueError(
                f"{part.strip()!r} is not a size: give bytes, or a number and a unit, "
                "e.g. 131072,128KiB,6MiB,5MB (KB, MB, GB: powers of 1000; "
                "KiB, MiB, GiB: of 1024)"
            )
        number = match.group(1).replace("_", "")
        whole, _, fraction = number.partition(".")
        value = int(whole) * unit + int(fraction or "0") * unit // 10 ** len(fraction)
        if int(fraction or "0") * unit % 10 ** len(fraction):
            raise ValueError(f"{part.strip()!r} is not a whole number of bytes")
        if value < 1:
            raise ValueError(f"{part.strip()!r} is less than 1 byte")
        sizes.append(value)
    return tuple(sizes)


def cache_directory() -> Path:
    """Where ``uploadwriter check`` keeps Hypothesis's files, unless told otherwise.

    ``$XDG_CACHE_HOME/uploadwriter/hypothesis``, by default
    ``~/.cache/uploadwriter/hypothesis``: the example database (failing
    uploads, replayed first by the next check) and Hypothesis's caches.
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base, "uploadwriter", "hypothesis")


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
    # A parameterised alias such as Mapping[str, object] passes isinstance(.., type)
    # on Python 3.10, and then makes issubclass raise: the JSON fits it as it is.
    if typing.get_origin(hint) is not None:
        return None
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
    sizes: str | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Check the writer named by ``target`` (``module:attr``); return the exit status.

    0: every law holds (the report goes to ``out``); 1: one breaks (the report
    goes to ``err``); 2: bad usage. ``sizes`` is the text of ``--sizes``.
    Hypothesis's files go to :func:`cache_directory`, not the current
    directory, unless ``HYPOTHESIS_STORAGE_DIRECTORY`` says where.
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    try:
        try:
            parsed = parse_sizes(sizes) if sizes is not None else ()
        except ValueError as exc:
            raise _Usage(f"--sizes: {exc}") from None
        writer = _load(target)
        opts = _make_opts(writer, opts)
    except _Usage as exc:
        print(f"uploadwriter check: {exc}", file=err)
        return USAGE
    # Read by Hypothesis when it first needs its directory (not committed
    # API, but stable for years; the CLI's tests would see a change).
    os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(cache_directory()))
    settings = default_settings()
    if max_examples is not None:
        settings = hypothesis.settings(settings, max_examples=max_examples)
    try:
        report = check_writer(
            writer, opts, settings=settings, sizes=parsed, leaks=open_fds if fds else None
        )
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
    print(f"{target}: {report.summary()}", file=out)
    return OK
