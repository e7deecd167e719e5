"""The ``{transitions}`` directive: the reducer's transition table, printed from itself.

Every row of :data:`uploadwriter.reducer.TRANSITIONS` — a phase, a kind of
event, what the reducer does, the phases it may lead to — becomes a row of
the table, so the page cannot disagree with the code.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective


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


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("transitions", Transitions)
    return {"parallel_read_safe": True}
