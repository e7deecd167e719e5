"""Wheel build hook: compile the reducer and the sync driver with mypyc, or build pure Python.

``pip install .`` and ``python -m build`` build a wheel whose hot modules
(``uploadwriter._variant.COMPILED``) are compiled with mypyc, the ``.py``
sources shipped beside them as the fallback. The wheel is pure Python (with a
warning saying why) when compiling is not possible: no C compiler, no Python
headers, mypyc failing. Never compiled:

* an editable install (``pip install -e .``): a compiled module would shadow
  the ``.py`` being edited;
* a build with ``UPLOADWRITER_PURE_PYTHON=1`` in the environment (the same
  variable makes an installed compiled wheel import its pure-Python sources).

mypyc runs in a subprocess, on a copy of the package in a temporary
directory, through setuptools (which mypyc builds with); the compiled files
are then added to the wheel.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

# Run by the subprocess, in the temporary copy: compile, in place.
_COMPILE = """
import sys
from setuptools import setup
from mypyc.build import mypycify

setup(
    name="uploadwriter-mypyc",
    packages=[],
    ext_modules=mypycify(sys.argv[1:], opt_level="3", group_name="uploadwriter"),
    script_args=["build_ext", "--inplace"],
)
"""


def _variant(root: str) -> Any:
    path = os.path.join(root, "uploadwriter", "_variant.py")
    spec = importlib.util.spec_from_file_location("_uploadwriter_variant", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class MypycHook(BuildHookInterface):
    """Compile ``uploadwriter._variant.COMPILED`` into the wheel when possible."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Compile, and add the compiled modules to the wheel; or leave it pure Python."""
        self._temporary: str | None = None
        variant = _variant(self.root)
        if self.target_name != "wheel" or version == "editable":
            return
        if variant.requested_pure():
            self.app.display_info(
                f"{variant.ENVIRONMENT_VARIABLE} is set: building a pure-Python wheel"
            )
            return
        self._temporary = temporary = tempfile.mkdtemp(prefix="uploadwriter-mypyc-")
        shutil.copytree(
            os.path.join(self.root, "uploadwriter"),
            os.path.join(temporary, "uploadwriter"),
            ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyd"),
        )
        sources = [f"uploadwriter/{name}.py" for name in variant.COMPILED]
        self.app.display_info(f"compiling with mypyc: {', '.join(sources)}")
        result = subprocess.run(
            [sys.executable, "-c", _COMPILE, "--ignore-missing-imports", *sources],
            cwd=temporary,
            capture_output=True,
            text=True,
            check=False,
        )
        built = [
            path
            for pattern in ("*.so", "*.pyd", "uploadwriter/*.so", "uploadwriter/*.pyd")
            for path in glob.glob(os.path.join(temporary, pattern))
        ]
        names = {os.path.basename(path).partition(".")[0] for path in built}
        if result.returncode != 0 or not names >= set(variant.COMPILED):
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
            self.app.display_warning(
                "uploadwriter: compiling with mypyc failed; building a pure-Python wheel "
                f"(it works the same, slower):\n{tail}"
            )
            return
        for path in built:
            build_data["force_include"][path] = os.path.relpath(path, temporary)
        build_data["pure_python"] = False
        build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        """Remove the temporary copy."""
        temporary = getattr(self, "_temporary", None)
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
