"""The "Test your writer" page (the README's section, moved) shows what the kit does.

Its python blocks run in order in ``tests/test_docs.py``, like every page's.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from uploadwriter._cli import main

PAGE = Path(__file__).parent.parent / "docs" / "howto" / "test-your-writer.md"


def section() -> str:
    return PAGE.read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section(), re.DOTALL)


def test_the_report_shown_is_the_report_given(capsys: pytest.CaptureFixture[str]) -> None:
    (shown,) = blocks("text")
    assert main(["check", "tests.zoo:MutatingWriter", "--max-examples", "20"]) == 1
    report = capsys.readouterr().err
    pattern = re.escape(shown.strip()).replace("0x7f…", "0x[0-9a-f]+")
    assert re.search(pattern, report), report


def test_the_command_shown_prints_what_is_shown(capsys: pytest.CaptureFixture[str]) -> None:
    (console,) = blocks("console")
    command, expected = console.strip().splitlines()
    argv = shlex.split(command.removeprefix("$ uploadwriter "))
    assert argv[:2] == ["check", "uploadwriter.writers:EchoWriter"]
    assert main(argv) == 0
    assert capsys.readouterr().out.strip() == expected
