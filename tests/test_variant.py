"""The compiled (mypyc) and the pure-Python variants: which one runs, and forcing the pure one.

The whole suite runs on each variant (``.ci/run``); this file checks that the
variant running is the one asked for, and that ``UPLOADWRITER_PURE_PYTHON=1``
makes an install with compiled modules import their ``.py`` sources, all of them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import uploadwriter
from uploadwriter import _variant

_REPORT = """
import json, os, sys, uploadwriter, uploadwriter._variant as v
mods = {n: sys.modules["uploadwriter." + n].__file__ for n in v.COMPILED}
if v.requested_pure():  # asking twice installs one finder
    v.force_pure_python(os.path.dirname(uploadwriter.__file__))
finders = sum(isinstance(f, v._SourceFinder) for f in sys.meta_path)
print(json.dumps({"compiled": v.compiled(), "files": mods, "finders": finders}))
"""


def _report(**env: str) -> dict[str, object]:
    environment = {k: v for k, v in os.environ.items() if k != _variant.ENVIRONMENT_VARIABLE}
    environment.update(env)
    out = subprocess.run(
        [sys.executable, "-c", _REPORT],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        # Wherever this process imported uploadwriter from, the child does too.
        cwd=os.path.dirname(os.path.dirname(uploadwriter.__file__)),
    ).stdout
    result: dict[str, object] = json.loads(out)
    return result


def test_the_variant_running_is_the_one_asked_for() -> None:
    # .ci/run sets UPLOADWRITER_EXPECT_COMPILED=1 for its run on the mypyc wheel.
    expected = os.environ.get("UPLOADWRITER_EXPECT_COMPILED")
    if _variant.requested_pure() or expected == "0":
        assert not _variant.compiled()
    elif expected == "1":
        assert _variant.compiled()
    files = [sys.modules[f"uploadwriter.{name}"].__file__ or "" for name in _variant.COMPILED]
    # Never a mix: all compiled, or all sources.
    assert len({f.endswith(".py") for f in files}) == 1


@pytest.mark.parametrize("value", ["1", "yes"])
def test_the_environment_variable_forces_every_module_to_pure_python(value: str) -> None:
    report = _report(UPLOADWRITER_PURE_PYTHON=value)
    assert report["compiled"] is False
    files = report["files"]
    assert isinstance(files, dict)
    assert all(str(path).endswith(".py") for path in files.values())
    assert report["finders"] == 1


@pytest.mark.parametrize("value", ["", "0"])
def test_an_empty_or_zero_variable_asks_for_nothing(value: str) -> None:
    report = _report(UPLOADWRITER_PURE_PYTHON=value)
    assert report["compiled"] is _variant.compiled()


def test_the_source_finder_only_answers_for_the_compiled_modules() -> None:
    finder = _variant._SourceFinder(os.path.dirname(uploadwriter.__file__))
    assert finder.find_spec("uploadwriter._events", None) is None
    assert finder.find_spec("json", None) is None
    spec = finder.find_spec("uploadwriter.reducer", None)
    assert spec is not None
    assert str(spec.origin).endswith("reducer.py")


def test_the_records_are_immutable_values_in_this_variant() -> None:
    from uploadwriter.reducer import Ending, Limits

    limits = Limits(10, 20, 10, resumable=True)
    ending = Ending(None, None, None, "close failed")
    for record, name in ((limits, "limit"), (limits, "resumable"), (ending, "later_failure")):
        with pytest.raises(AttributeError):
            setattr(record, name, None)
    assert (limits.expected_size, limits.max_size, limits.limit, limits.resumable) == (
        10,
        20,
        10,
        True,
    )
    assert limits == Limits(10, 20, 10, True)
    assert hash(limits) == hash(Limits(10, 20, 10, True))
    assert limits != (10, 20, 10, True)
    assert ending == Ending(later_failure="close failed")
    assert ending != Ending()
    assert ending != "close failed"
    assert hash(ending) == hash(Ending(later_failure="close failed"))
    assert repr(limits) == "Limits(expected_size=10, max_size=20, limit=10, resumable=True)"
    assert repr(ending) == (
        "Ending(requested=None, close_reason=None, failure=None, later_failure='close failed')"
    )
    match ending:
        case Ending(None, None, None, later):
            assert later == "close failed"
        case _:  # pragma: no cover - the pattern above must match
            pytest.fail("Ending lost its match args")


def test_what_left_the_compiled_modules_still_checks_its_input() -> None:
    # start() and SavedUpload stay Python (see _start.py and _saved.py): their
    # own checks run, with their own messages, in either variant.
    from uploadwriter import SavedUpload
    from uploadwriter.reducer import start

    with pytest.raises(TypeError, match="resumable must be True or False"):
        start(resumable="yes")  # type: ignore[arg-type]  # the mistake under test
    for data, message in (
        (42, "no writer part"),
        ({"writer": 1}, "its size is missing"),
        ({"writer": 1, "size": -1}, "size is -1"),
    ):
        with pytest.raises(ValueError, match=message):
            SavedUpload.from_dict(data)
