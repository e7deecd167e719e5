"""Sphinx configuration of the uploadwriter documentation.

Built by ``.ci/run`` with ``sphinx-build -W --keep-going -n``: a warning fails
the build, and so does any reference that does not resolve. Nothing is fetched
at build time: no intersphinx, no remote assets (see ``about.md``).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import logging as std_logging
import re
import sys
import types
from pathlib import Path
from typing import Any

import attrs
from docutils import nodes
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.ext import napoleon
from sphinx.pycode import ModuleAnalyzer
from sphinx.util import logging

import uploadwriter

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

logger = logging.getLogger(__name__)

project = "uploadwriter"
author = "The uploadwriter developers"
copyright = "the uploadwriter developers"
release = version = uploadwriter.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    # sphinx.ext.napoleon (the "Raises:" sections of the docstrings) is set up in
    # setup() below, so that it leaves the docstrings of attributes alone.
    "sphinx.ext.viewcode",
    "sphinxarg.ext",  # the command line reference, generated from its argparse parser
    # _ext/transitions.py: the reducer's table, printed and drawn from itself. The
    # diagram is drawn by Graphviz's dot (Debian's graphviz package), at build time.
    "transitions",
    "datatables",  # _ext/datatables.py: LAWS and CLOSE_PATHS as tables, read from themselves
]

source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
root_doc = "index"

# Quotes and ellipses made typographic, but never "--" into a dash: option names.
smartquotes_action = "qe"

# -- MyST ---------------------------------------------------------------------
myst_enable_extensions = ["deflist"]
myst_heading_anchors = 3  # links to sections: [text](page.md#a-heading)

# -- autodoc ------------------------------------------------------------------
autodoc_default_options = {
    "members": True,
    # Every public name (what __all__ lists), documented or not: a missing
    # docstring shows as a bare entry rather than a hole in the reference.
    "undoc-members": True,
    "show-inheritance": True,
    "member-order": "bysource",
}
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
autodoc_class_signature = "mixed"
autodoc_inherit_docstrings = True
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

# -- strictness ---------------------------------------------------------------
nitpicky = True
# Without intersphinx (no network at build time), names from the standard
# library and other packages have nowhere to link to: they are listed here,
# by module, on purpose. Anything of ours that does not resolve still fails.
_EXTERNAL_MODULES = [
    "anyio",
    "argparse",
    "attr",
    "attrs",
    "collections",
    "collections.abc",
    "concurrent",
    "contextlib",
    "enum",
    "hashlib",
    "h11",
    "hypothesis",
    "io",
    "logging",
    "os",
    "pathlib",
    "socket",
    "ssl",
    # uploadwriter.web's signatures: Starlette's Request, Response, Starlette.
    "starlette",
    "tempfile",
    "threading",
    "types",
    "typing",
    "typing_extensions",
    "_typeshed",
]
nitpick_ignore_regex = [
    (r"py:.*", re.escape(module) + r"(\..*)?") for module in [*_EXTERNAL_MODULES, "mimetypes"]
] + [
    # Type variables of generic classes and protocols, shown in their signatures.
    (r"py:.*", r"(.*\.)?(O|S|T|R|O_contra|S_contra|S_co|T_co|T_contra|O1|O2|O3|O4)"),
]
nitpick_ignore = [
    # Named bare in the testing kit's docstrings: hypothesis.errors.InvalidArgument.
    ("py:exc", "InvalidArgument"),
    # Private names shown in signatures: the uploads layer's Literal["selected",
    # "total"] and the protocol an entry run reports to (Uploads), and the types
    # of check_writer's hooks (plain callables).
    ("py:class", "MaxEntriesMode"),
    ("py:class", "Leaks"),
    ("py:class", "Invariant"),
    ("py:class", "Consume"),
    ("py:class", "uploadwriter.uploads._runs.RunOwner"),
    # The writers' private types shown in their states' fields: an HTTP response
    # being read, an S3 part already sent, a hashlib object (hashlib's own type
    # is private too).
    ("py:class", "Response"),
    # Starlette's Request, named bare in uploadwriter.web's Endpoint alias.
    ("py:class", "Request"),
    ("py:class", "uploadwriter.writers._forward.Response"),
    ("py:class", "uploadwriter.writers._s3calls.Part"),
    ("py:class", "uploadwriter.writers._hash._Hash"),
]

# -- Graphviz (the state diagram) ---------------------------------------------
# SVG, so that the diagram scales and its arrows carry the table's summaries as tooltips.
graphviz_output_format = "svg"

# -- HTML ---------------------------------------------------------------------
html_theme = "furo"
html_title = f"uploadwriter {release}"
html_static_path: list[str] = []
html_theme_options: dict[str, Any] = {}


# -- our objects under their public names --------------------------------------
# Annotations name classes where they are defined (uploadwriter._events.Chunk);
# the reference documents them where users import them (uploadwriter.Chunk).
PUBLIC_MODULES = [
    "uploadwriter",
    "uploadwriter.reducer",
    "uploadwriter.writers",
    "uploadwriter.uploads",
    "uploadwriter.testing",
    "uploadwriter.web",
]


@functools.cache
def _public_names() -> dict[int, list[str]]:
    """Every public name of each object, by ``id``: ``uploadwriter.Uploads`` and
    ``uploadwriter.uploads.Uploads`` are one class, documented under one of them."""
    names: dict[int, list[str]] = {}
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            value = getattr(module, name)
            if not isinstance(value, types.ModuleType):
                names.setdefault(id(value), []).append(f"{module_name}.{name}")
    return names


def _lookup(path: str) -> object | None:
    """The object ``path`` names (``uploadwriter.writers._tmpfile.TmpFileWriter``), or None."""
    parts = path.split(".")
    for split in range(len(parts), 0, -1):  # the longest prefix that is a loaded module
        module = sys.modules.get(".".join(parts[:split]))
        if module is not None:
            value: object = module
            for part in parts[split:]:
                value = getattr(value, part, _MISSING)
            return None if value is _MISSING else value
    return None


_MISSING = object()


def _candidates(node: pending_xref) -> list[str]:
    """Full names the target may mean: itself, in the current module, in a public module."""
    target: str = node["reftarget"]
    if "." in target:
        return [target]
    module = node.get("py:module")
    return [*([f"{module}.{target}"] if module else []), *(f"{m}.{target}" for m in PUBLIC_MODULES)]


def _by_last_name(target: str) -> str | None:
    """The one public name ending in ``target``'s last component (a stale path), if unique."""
    last = target.rsplit(".", 1)[-1]
    found = {
        tuple(aliases)
        for aliases in _public_names().values()
        if any(name.rsplit(".", 1)[-1] == last for name in aliases)
    }
    return found.pop()[0] if len(found) == 1 else None


def _resolve_public(
    app: Sphinx, env: BuildEnvironment, node: pending_xref, contnode: nodes.TextElement
) -> nodes.Element | None:
    """Resolve a name of ours that did not resolve as written to its public documented name.

    ``uploadwriter._events.Chunk`` -> ``uploadwriter.Chunk``; a bare ``Uploader``
    -> ``uploadwriter.Uploader``; a type alias named as a class -> the documented data.
    """
    if node.get("refdomain") != "py":
        return None
    public = _public_names()
    names: list[str] = []
    for candidate in _candidates(node):
        if candidate.startswith("uploadwriter"):
            value = _lookup(candidate)
            if value is not None and id(value) in public:
                names.extend(public[id(value)])
    if node["reftarget"].startswith("uploadwriter"):
        stale = _by_last_name(node["reftarget"])
        if stale is not None:
            names.extend(public[id(_lookup(stale))])
    domain = env.get_domain("py")
    for name in names:
        for reftype in (node["reftype"], "obj"):
            resolved: nodes.Element | None = domain.resolve_xref(
                env, node["refdoc"], app.builder, reftype, name, node, contnode
            )
            if resolved is not None:
                return resolved
    return None


def _public_bases(app: Sphinx, name: str, obj: object, options: object, bases: list[type]) -> None:
    """Show a class's bases by their public names; leave out private ones (``_Record``)."""
    public = _public_names()
    shown = [
        base
        for base in bases
        if id(base) in public
        or not (base.__module__.startswith("uploadwriter") or base.__name__.startswith("_"))
    ]
    bases[:] = shown or [object]  # rather than an empty "Bases:" line


def _words(text: str | None) -> list[str]:
    return (text or "").split()


def _reexported_data_docs(
    app: Sphinx, what: str, name: str, obj: object, options: object, lines: list[str]
) -> None:
    """Give re-exported data (``uploadwriter.uploads.WriterFactory``) its ``#:`` comment.

    autodoc reads such comments only from the module being documented; a
    package's ``__init__`` only imports the name from where it is defined.
    """
    if what != "data" or (lines and _words("\n".join(lines)) != _words(type(obj).__doc__)):
        return
    lines.clear()  # not the docstring of the value's type ("Represent a PEP 604 union type")
    module_name, _, attribute = name.rpartition(".")
    # The package has imported the module that defines it (importing more could
    # run code: uploadwriter.__main__ runs the command line).
    for defining in sorted(sys.modules):
        if not defining.startswith(f"{module_name}."):
            continue
        if getattr(sys.modules[defining], attribute, None) is obj:
            docs = ModuleAnalyzer.for_module(defining).find_attr_docs().get(("", attribute))
            if docs:
                lines[:0] = [*docs, ""]
                return


def _no_protocol_signature(
    app: Sphinx,
    what: str,
    name: str,
    obj: object,
    options: object,
    signature: str | None,
    return_annotation: str | None,
) -> tuple[str, str | None] | None:
    """Leave out ``(*args, **kwargs)``: what a Protocol's inherited ``__init__`` shows."""
    if what == "class" and signature == "(*args, **kwargs)":
        return "", return_annotation
    return None


def _split_params(signature: str) -> list[str] | None:
    """The top-level parameters of ``(a: int = 1, *, b: X[c, d] = f)``, as written; None if odd."""
    if not (signature.startswith("(") and signature.endswith(")")):
        return None
    params, depth, start = [], 0, 1
    for index, char in enumerate(signature[1:-1], start=1):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            params.append(signature[start:index].strip())
            start = index + 1
    last = signature[start:-1].strip()
    return [*params, last] if last else params


def _shown_default(value: object) -> str:
    """A default as a reader wants it: a function by name, an attrs factory as a call."""
    if isinstance(value, attrs.Factory):  # type: ignore[arg-type]
        value = value.factory
        return f"{getattr(value, '__name__', value)}()"
    if callable(value) and hasattr(value, "__name__"):
        return str(value.__name__)
    if attrs.has(type(value)):
        with contextlib.suppress(TypeError, ValueError):
            if type(value)() == value:  # the options class's own defaults: HttpLimits()
                return f"{type(value).__name__}()"
    if type(value) is int and abs(value) >= 10_000:
        return f"{value:_}"
    return repr(value)


def _real_defaults(obj: object) -> dict[str, object]:
    """The defaults of a function's (or a class's ``__init__``'s) parameters, by name.

    Read from the code object: ``autodoc_preserve_defaults`` has replaced
    ``inspect.signature``'s defaults with their source text.
    """
    func = getattr(obj, "__init__", None) if isinstance(obj, type) else obj
    func = inspect.unwrap(func)  # type: ignore[arg-type]
    code = getattr(func, "__code__", None)
    if code is None:
        return {}
    names = code.co_varnames[: code.co_argcount]
    defaults = getattr(func, "__defaults__", None) or ()
    found: dict[str, object] = dict(zip(names[len(names) - len(defaults) :], defaults, strict=True))
    found.update(getattr(func, "__kwdefaults__", None) or {})
    if isinstance(obj, type) and attrs.has(obj):
        for field in attrs.fields(obj):
            if field.alias in found and field.default is not attrs.NOTHING:
                found[field.alias] = field.default  # the Factory, where attrs passes NOTHING
    return found


# A default written as a name: shown as it is if the name is public (DEFAULT_WINDOW,
# describe), else as its value. attrs's generated __init__ writes attr_dict['x'].default.
_NAMED_DEFAULT = re.compile(r"attr_dict\['\w+'\]\.default|[A-Za-z_][\w.]*")
_LITERALS = {"None", "True", "False"}


def _readable_defaults(
    app: Sphinx,
    what: str,
    name: str,
    obj: object,
    options: object,
    signature: str | None,
    return_annotation: str | None,
) -> tuple[str, str | None] | None:
    """Show a default the reader cannot look up (``= _LIMITS``, ``= attr_dict[...]``) as its value.

    With ``autodoc_preserve_defaults`` a default is shown as the source writes
    it: readable for ``= 10.0`` or ``= describe``, not for a private name or
    attrs's generated ``__init__``. Those become the value (``= 8_000_000``), a
    function's name, or an attrs factory as a call (``= dict()``).
    """
    params = _split_params(signature or "")
    if not params:
        return None
    public = {full.rsplit(".", 1)[-1] for names in _public_names().values() for full in names}
    defaults: dict[str, object] | None = None
    shown = []
    for param in params:
        head, sep, default = param.partition(" = ")
        text = param
        if sep and _NAMED_DEFAULT.fullmatch(default) and default not in _LITERALS | public:
            defaults = _real_defaults(obj) if defaults is None else defaults
            key = head.split(":")[0].strip()
            if key in defaults:
                text = f"{head} = {_shown_default(defaults[key])}"
        shown.append(text)
    if defaults is None:
        return None
    return f"({', '.join(shown)})", return_annotation


def _napoleon_except_attributes(
    app: Sphinx, what: Any, name: str, obj: object, options: Any, lines: list[str]
) -> None:
    # Napoleon reads the first line of an attribute's docstring as "type: text",
    # so "#: Directory for the file (default: ...)" would become a type. Our
    # attribute docstrings are prose: only functions and classes go through it.
    if what not in ("attribute", "data", "property"):
        napoleon._process_docstring(app, what, name, obj, options, lines)


def _check_every_public_name(app: Sphinx, env: BuildEnvironment) -> None:
    """Warn (so fail the strict build) for a public name the reference does not document."""
    names = {name for name, *_ in env.get_domain("py").get_objects()}
    documented = {id(value) for value in map(_lookup, names) if value is not None}
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            if id(getattr(module, name)) not in documented:
                logger.warning(
                    "%s.%s is public (in __all__) but not in the reference (docs/reference/)",
                    module_name,
                    name,
                )


class _ExpectedEmptyGlob(std_logging.Filter):
    """Drop "toctree glob pattern '*' didn't match any documents" (and only that).

    Each section's index lists its pages in order, then ``*`` for pages added
    later; once every page is listed, ``*`` matches nothing, as intended. Sphinx
    9.0 gives this warning no type, so ``suppress_warnings`` cannot name it.
    """

    def filter(self, record: std_logging.LogRecord) -> bool:
        return not (
            isinstance(record.msg, str)
            and record.msg.startswith("toctree glob pattern")
            and record.args == ("*",)
        )


def setup(app: Sphinx) -> dict[str, Any]:
    std_logging.getLogger("sphinx.sphinx.directives.other").addFilter(_ExpectedEmptyGlob())
    napoleon.setup(app)
    for listener in list(app.events.listeners["autodoc-process-docstring"]):
        if listener.handler is napoleon._process_docstring:
            app.disconnect(listener.id)
    app.connect("autodoc-process-docstring", _reexported_data_docs)
    app.connect("autodoc-process-docstring", _napoleon_except_attributes)
    app.connect("autodoc-process-bases", _public_bases)
    app.connect("autodoc-process-signature", _no_protocol_signature)
    app.connect("autodoc-process-signature", _readable_defaults)
    app.connect("missing-reference", _resolve_public)
    app.connect("env-check-consistency", _check_every_public_name)
    return {"parallel_read_safe": True}
