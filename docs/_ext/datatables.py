"""The ``{mapping-table}`` directive: a public mapping of ours, printed as a two-column table.

``uploadwriter.testing.LAWS`` and ``CLOSE_PATHS`` map a short name to a
sentence; their repr on one line is unreadable, so the reference shows them
as tables, read from the objects themselves when the docs are built.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective


class MappingTable(SphinxDirective):
    """``{mapping-table} module.NAME`` with the two column titles as its content (one per line)."""

    required_arguments = 1
    has_content = True

    def run(self) -> list[nodes.Node]:
        module_name, _, attribute = self.arguments[0].rpartition(".")
        mapping = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(mapping, Mapping):
            raise self.error(f"{self.arguments[0]} is not a mapping")
        key_title, value_title = [*self.content, "", ""][:2]
        lines = [f"| {key_title} | {value_title} |", "|---|---|"]
        lines += [f"| `{key}` | {value} |" for key, value in mapping.items()]
        return self.parse_text_to_nodes("\n".join(lines))


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("mapping-table", MappingTable)
    return {"parallel_read_safe": True}
