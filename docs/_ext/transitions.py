"""The reducer's transition table, printed and drawn from itself at build time.

Three directives, each reading :data:`uploadwriter.reducer.TRANSITIONS` (every
``(phase, kind of event)`` row: its handler, the phases it may lead to, and a
summary), so that the pages cannot disagree with the code:

- ``{transitions}``: the whole table, one row per pair, grouped by phase;
- ``{transition-diagram}``: the state diagram, drawn by Graphviz's ``dot``
  (``sphinx.ext.graphviz``): one node per phase, one arrow per pair of phases
  that some row links, labelled with the kinds of event that take it;
- ``{transitions-in-place}``: the rows that leave the phase as it is (the
  refusals, the cancels recorded while a call is pending...), grouped, which
  the diagram does not draw.

Where an upload begins is read from the code too: the phase of ``start()``'s
upload, and of ``resumed(saved)``'s.
"""

from __future__ import annotations

import textwrap
from collections import defaultdict
from collections.abc import Callable
from typing import Any, ClassVar

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.ext.graphviz import graphviz
from sphinx.pycode import ModuleAnalyzer
from sphinx.util.docutils import SphinxDirective

# The writer's answers to a pending call; every other kind is an event the caller
# (or the driver) sends. Arrows out of a phase whose call is pending are answers.
ANSWERS = ("OK", "ERR", "RAISED", "MALFORMED")


def _kinds(kinds: list[Any]) -> str:
    return ", ".join(kind.name for kind in sorted(kinds, key=lambda kind: kind.value))


def _phase_notes() -> dict[str, str]:
    """Each phase's ``#:`` comment where ``Phase`` is defined (``"OPEN"`` -> "waiting for ...")."""
    from uploadwriter.reducer import Phase

    docs = ModuleAnalyzer.for_module(Phase.__module__).find_attr_docs()
    return {name: " ".join(lines).strip() for (cls, name), lines in docs.items() if cls == "Phase"}


def _escape(text: str) -> str:
    """Text for a Graphviz HTML-like label or a quoted attribute."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("``", "")
    )


def diagram_source() -> str:
    """The Graphviz source of the state diagram of :data:`~uploadwriter.reducer.TRANSITIONS`."""
    from uploadwriter.reducer import PENDING, TRANSITIONS, Phase, SavedUpload, resumed, start

    notes = _phase_notes()
    # (from, to) -> the kinds of event that take it, and what the rows say.
    arrows: dict[tuple[Phase, Phase], list[Any]] = defaultdict(list)
    summaries: dict[tuple[Phase, Phase], list[str]] = defaultdict(list)
    for (phase, kind), row in TRANSITIONS.items():
        for target in row.to:
            if target is not phase:
                arrows[phase, target].append(kind)
                text = f"{kind.name}: {row.summary}"
                if text not in summaries[phase, target]:
                    summaries[phase, target].append(text)
    ends = {phase for phase in Phase if not any(source is phase for source, _ in arrows)}

    lines = [
        "digraph transitions {",
        '  graph [bgcolor="white", rankdir=TB, nodesep=0.2, ranksep=0.5, pad=0.2,',
        '         fontname="Helvetica,Arial,sans-serif"];',
        '  node [fontname="Helvetica,Arial,sans-serif", fontsize=12, shape=box,',
        '        style="rounded,filled", margin="0.15,0.06"];',
        '  edge [fontname="Helvetica,Arial,sans-serif", fontsize=10, arrowsize=0.7];',
    ]
    for phase in Phase:
        if phase in PENDING:
            fill, pen = "#fff4db", "#b7791f"  # a writer call is pending
        elif phase in ends:
            fill, pen = "#e8e8e8", "#555555"
        else:
            fill, pen = "#e3efff", "#2f6fbf"
        note = _escape(notes.get(phase.name, ""))
        wrapped = "<br/>".join(textwrap.wrap(note, 30))
        label = f'<<b>{phase.label}</b><br/><font point-size="9" color="#555555">{wrapped}</font>>'
        peripheries = 2 if phase in ends else 1
        lines.append(
            f'  {phase.name} [label={label}, fillcolor="{fill}", color="{pen}", '
            f'peripheries={peripheries}, tooltip="{phase.label}: {note}"];'
        )
    # Where uploads begin: not rows of the table, but the phases the entry points give.
    first = start().phase
    again = resumed(SavedUpload(0, None, None, None)).phase
    lines += [
        '  node [shape=plaintext, style="", fontsize=10, fontcolor="#333333", margin=0];',
        '  start_fn [label="start()"];',
        '  resumed_fn [label="resumed(saved)\\nin any process"];',
        f'  start_fn -> {first.name} [color="#333333"];',
        f'  resumed_fn -> {again.name} [color="#333333"];',
        "  { rank=source; start_fn; resumed_fn; }",
        f"  {{ rank=same; {first.name}; {again.name}; }}",
        f"  {{ rank=sink; {'; '.join(phase.name for phase in Phase if phase in ends)}; }}",
    ]
    for end in sorted(ends - {Phase.CLOSED}):
        lines.append(
            f'  {end.name} -> resumed_fn [style=dotted, color="#333333", constraint=false, '
            f'tooltip="{end.label}: resumed(saved) takes it up, in any process"];'
        )
    for (source, target), kinds in arrows.items():
        answer = source in PENDING
        label = "\\n".join(textwrap.wrap(_escape(_kinds(kinds)), 18))
        tooltip = _escape("; ".join(summaries[source, target]))
        style = (
            'style=dashed, color="#b7791f", fontcolor="#8a5a12"'
            if answer
            else ('color="#2f6fbf", fontcolor="#1f4f8f"')
        )
        lines.append(
            f'  {source.name} -> {target.name} [label="{label}", {style}, '
            f'tooltip="{tooltip}", labeltooltip="{tooltip}"];'
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


class Transitions(SphinxDirective):
    """Render ``TRANSITIONS`` as a table, grouped by phase."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        from uploadwriter.reducer import TRANSITIONS

        lines = [
            "| in phase | the reducer gets | it does | next phase |",
            "|---|---|---|---|",
        ]
        previous = None
        for (phase, kind), row in TRANSITIONS.items():
            shown = f"**{phase.label}**" if phase != previous else ""
            previous = phase
            to = ", ".join(p.label for p in sorted(row.to, key=lambda p: p.value))
            lines.append(f"| {shown} | `{kind.name}` | {row.summary} | {to} |")
        return self.parse_text_to_nodes("\n".join(lines))


class TransitionDiagram(SphinxDirective):
    """Draw ``TRANSITIONS`` as a state diagram (a ``graphviz`` node, rendered by ``dot``)."""

    has_content = False
    option_spec: ClassVar[dict[str, Callable[[str], Any]]] = {"alt": str}

    def run(self) -> list[nodes.Node]:
        node = graphviz()
        node["code"] = diagram_source()
        node["options"] = {"docname": self.env.docname}
        node["alt"] = self.options.get("alt", "The state diagram of the reducer")
        node["align"] = "center"
        return [node]


class TransitionsInPlace(SphinxDirective):
    """The rows that keep the phase as it is, grouped by what they do."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        from uploadwriter.reducer import TRANSITIONS, Phase

        # summary -> kinds -> phases, in the table's order.
        groups: dict[str, dict[tuple[Any, ...], list[Phase]]] = defaultdict(dict)
        by_phase: dict[tuple[str, Phase], list[Any]] = defaultdict(list)
        for (phase, kind), row in TRANSITIONS.items():
            if row.to == {phase}:
                by_phase[row.summary, phase].append(kind)
        for (summary, phase), kinds in by_phase.items():
            key = tuple(sorted(kinds, key=lambda kind: kind.value))
            groups[summary].setdefault(key, []).append(phase)
        lines = ["| the reducer gets | in phase | it does |", "|---|---|---|"]
        for summary, rows in groups.items():
            for group, phases in rows.items():
                names = ", ".join(f"`{kind.name}`" for kind in group)
                where = ", ".join(phase.label for phase in phases)
                lines.append(f"| {names} | {where} | {summary} |")
        return self.parse_text_to_nodes("\n".join(lines))


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("sphinx.ext.graphviz")
    app.add_directive("transitions", Transitions)
    app.add_directive("transition-diagram", TransitionDiagram)
    app.add_directive("transitions-in-place", TransitionsInPlace)
    return {"parallel_read_safe": True}
