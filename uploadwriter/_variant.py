"""Which variant runs: the modules compiled with mypyc, or their pure-Python sources.

A wheel built from the source (``pip install .``) compiles :data:`COMPILED`
with mypyc when it can (``hatch_build.py``); the ``.py`` files ship beside the
compiled modules and are the fallback. Setting the environment variable
``UPLOADWRITER_PURE_PYTHON=1`` makes ``import uploadwriter`` load the
pure-Python sources even where compiled modules are installed (all of them:
compiled and pure modules never mix). This module imports nothing from the
package, so that the build hook can read :data:`COMPILED` too.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Final

__all__ = ("COMPILED", "ENVIRONMENT_VARIABLE", "compiled", "force_pure_python", "requested_pure")

#: The modules compiled with mypyc, in the package: the reducer, its handlers, its values.
COMPILED: Final = ("_values", "_transitions", "reducer")
#: Set to a non-empty value other than ``0``: build, or import, the pure-Python variant.
ENVIRONMENT_VARIABLE: Final = "UPLOADWRITER_PURE_PYTHON"

_PACKAGE: Final = __name__.rpartition(".")[0] or "uploadwriter"


def requested_pure() -> bool:
    """Whether the environment asks for the pure-Python variant."""
    return os.environ.get(ENVIRONMENT_VARIABLE, "") not in ("", "0")


class _SourceFinder(importlib.abc.MetaPathFinder):
    """Finds the compiled modules' ``.py`` sources, ahead of the compiled extension modules."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        package, _, name = fullname.rpartition(".")
        if package != _PACKAGE or name not in COMPILED:
            return None
        source = os.path.join(self.directory, name + ".py")
        return importlib.util.spec_from_file_location(fullname, source)


def force_pure_python(directory: str) -> None:
    """Import the compiled modules from their ``.py`` sources in ``directory`` from now on."""
    if not any(isinstance(finder, _SourceFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _SourceFinder(directory))


def compiled() -> bool:
    """Whether the compiled modules run (rather than their pure-Python sources)."""
    module = importlib.import_module(f"{_PACKAGE}.reducer")
    return not (module.__file__ or "").endswith(".py")
