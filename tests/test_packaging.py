"""The Python versions the package claims are the ones CI tests."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = (ROOT / "pyproject.toml").read_text(encoding="utf-8")


def claimed_versions() -> list[tuple[int, int]]:
    found = re.findall(r'"Programming Language :: Python :: 3\.(\d+)"', PYPROJECT)
    return [(3, int(minor)) for minor in found]


def test_the_classifiers_start_at_requires_python_and_leave_no_gap() -> None:
    # .ci/run tests every version these classifiers name; requires-python must
    # not claim one it does not test.
    match = re.search(r'requires-python = ">=3\.(\d+)"', PYPROJECT)
    assert match is not None
    versions = claimed_versions()
    assert versions[0] == (3, int(match.group(1)))
    assert versions == [(3, minor) for minor in range(versions[0][1], versions[-1][1] + 1)]
