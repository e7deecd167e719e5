"""Explain a broken law to a person."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from ._laws import LAWS, short
from ._recorder import Call
from ._snapshot import shown
from ._spec import Spec
from ._strategies import InjectedFailure
from ._streams import EventStream

__all__ = ("AS_GIVEN", "AS_SENT", "SHRUNK", "Origin", "law_report", "render_call")

# The first call and the last ones: where a long upload broke is at its end.
_LOG_LINES = 14


@attrs.frozen
class Origin:
    """Where a reported upload comes from, and what running the check again does with it."""

    which: str
    again: str = ""


_DATABASE = "Running the same check again replays this example first (Hypothesis's database)."
AS_GIVEN = Origin("as given")
SHRUNK = Origin("the smallest found", _DATABASE)
AS_SENT = Origin("of the failing upload, as sent; Hypothesis shows the steps to it", _DATABASE)


def render_call(call: Call, packages: frozenset[str]) -> str:
    """One line of the call log, e.g. ``write_chunk(<3 bytes>, Mem(...)) -> Ok(...)``.

    States are shown as they were when the call was made and when it
    returned, even if a callback mutated them later (law b).
    """
    given = shown(call.watched, call.given, packages, 80 if call.name == "init" else 60)
    if call.name == "write_chunk":
        data = call.args[0]
        size = len(data) if isinstance(data, bytes) else "?"
        args = f"<{size} bytes>, {given}"
    elif call.name == "close":
        args = f"{given}, {short(call.args[1], 60)}"
    else:
        args = given
    if call.raised is not None:
        result = f"raised {short(call.raised, 100)}"
    elif call.name == "discard":
        result = "None"
    else:
        result = shown(call.answer, call.returned, packages, 100)
    return f"{call.name}({args}) -> {result}{call.note}"


def law_report(
    spec: Spec, law: str, detail: str, *, stream: EventStream, calls: Sequence[Call], origin: Origin
) -> str:
    """The message of a :class:`~._laws.WriterLawError`: what broke, on which upload (from
    ``origin``), the writer calls made, and how to replay it."""
    lines = [f"    {render_call(call, spec.packages)}" for call in calls]
    if len(lines) > _LOG_LINES:
        skipped = len(lines) - _LOG_LINES + 1
        lines = [lines[0], f"    ... {skipped} calls not shown ...", *lines[-_LOG_LINES + 2 :]]
    replay = "replay_async" if spec.awaited else "replay"
    names = ["EventStream", replay]
    if isinstance(stream.fail_reason, InjectedFailure):
        names.insert(1, "InjectedFailure")
    hooks = spec.hooks.arguments(asynchronous=spec.asynchronous, awaited=spec.awaited)
    extra = "".join(f", {h}" for h in hooks)
    return "\n".join(
        [
            f"{spec.name} breaks law {law}: {LAWS[law]}.",
            f"  {detail}",
            "",
            f"Event stream ({origin.which}):",
            f"    {stream!r}",
            "",
            f"Writer calls ({'async' if spec.asynchronous else 'sync'} writer), in order:",
            *lines,
            "",
            f"Reproduce (writer = the {type(spec.writer).__name__} instance checked):",
            "    from uploadwriter import Cancel, Chunk, Done",
            f"    from uploadwriter.testing import {', '.join(names)}",
            f"    {'await ' if spec.awaited else ''}{replay}(writer, {short(spec.opts, 200)}, "
            f"{stream!r}{extra})",
            *([origin.again] if origin.again else []),
        ]
    )
