"""The README's "Testing your writer" section runs as printed."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from uploadwriter._cli import main

README = Path(__file__).parent.parent / "README.md"


@pytest.fixture(autouse=True)
def _hypothesis_storage_as_usual(monkeypatch: pytest.MonkeyPatch) -> None:
    # `check` sends Hypothesis's files to the user's cache directory unless this
    # variable says where: in this process, keep them where they were.
    monkeypatch.setenv("HYPOTHESIS_STORAGE_DIRECTORY", str(Path.cwd() / ".hypothesis"))


def section() -> str:
    text = README.read_text()
    start = text.index("## Testing your writer")
    return text[start : text.index("\n## ", start + 1)]


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section(), re.DOTALL)


def test_the_python_examples_run_in_order() -> None:
    namespace: dict[str, object] = {"__name__": "readme_example"}
    for code in blocks("python"):
        exec(compile(code, "README.md", "exec"), namespace)
    assert "TestSha256Writer" in namespace


def test_the_report_shown_is_the_report_given(capsys: pytest.CaptureFixture[str]) -> None:
    (shown,) = blocks("text")
    assert main(["check", "tests.zoo:MutatingWriter", "--max-examples", "20"]) == 1
    report = capsys.readouterr().err
    pattern = re.escape(shown.strip()).replace("0x7f…", "0x[0-9a-f]+")
    assert re.search(pattern, report), report


def test_the_command_shown_prints_what_is_shown(capsys: pytest.CaptureFixture[str]) -> None:
    (console,) = blocks("console")
    command, *expected = console.strip().splitlines()
    argv = shlex.split(command.removeprefix("$ uploadwriter "))
    assert argv[:2] == ["check", "uploadwriter.writers:EchoWriter"]
    assert main(argv) == 0
    assert capsys.readouterr().out.splitlines() == expected
