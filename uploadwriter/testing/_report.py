"""Explain a broken law to a person."""

from __future__ import annotations

from collections.abc import Sequence

from ._laws import LAWS, short
from ._recorder import Call
from ._spec import Spec
from ._strategies import InjectedFailure
from ._streams import EventStream

__all__ = ("law_report", "render_call")

_LOG_LINES = 24


def render_call(call: Call) -> str:
    """One line of the call log, e.g. ``write_chunk(<3 bytes>, Mem(...)) -> Ok(...)``."""
    if call.name == "init":
        args = short(call.args[0], 80)
    elif call.name == "write_chunk":
        data = call.args[0]
        size = len(data) if isinstance(data, bytes) else "?"
        args = f"<{size} bytes>, {short(call.args[1], 60)}"
    elif call.name == "close":
        args = f"{short(call.args[0], 60)}, {short(call.args[1], 60)}"
    else:
        args = short(call.args[0], 60)
    if call.raised is not None:
        result = f"raised {short(call.raised, 100)}"
    else:
        result = short(call.answer, 100)
    return f"{call.name}({args}) -> {result}{call.note}"


def law_report(
    spec: Spec, law: str, detail: str, *, stream: EventStream, calls: Sequence[Call], which: str
) -> str:
    """The message of a :class:`~._laws.WriterLawError`: what broke, on which upload, how to
    replay it; ``which`` says where the stream comes from (e.g. "the smallest found")."""
    lines = [f"    {render_call(call)}" for call in calls]
    if len(lines) > _LOG_LINES:
        skipped = len(lines) - _LOG_LINES + 1
        lines = [lines[0], f"    ... {skipped} calls not shown ...", *lines[-_LOG_LINES + 2 :]]
    imports = (
        "EventStream, InjectedFailure, replay"
        if isinstance(stream.fail_reason, InjectedFailure)
        else "EventStream, replay"
    )
    extra = "".join(f", {h}" for h in spec.hooks.arguments(asynchronous=spec.asynchronous))
    return "\n".join(
        [
            f"{spec.name} breaks law {law}: {LAWS[law]}.",
            f"  {detail}",
            "",
            f"Event stream ({which}):",
            f"    {stream!r}",
            "",
            f"Writer calls ({'async' if spec.asynchronous else 'sync'} writer), in order:",
            *lines,
            "",
            f"Reproduce (writer = the {type(spec.writer).__name__} instance checked):",
            "    from uploadwriter import Cancel, Chunk, Done",
            f"    from uploadwriter.testing import {imports}",
            f"    replay(writer, {short(spec.opts, 200)}, {stream!r}{extra})",
            "Running the same check again replays this example first (Hypothesis's database).",
        ]
    )
