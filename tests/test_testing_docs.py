"""The "Test your writer" page runs as printed, and shows what the kit really does.

The conventions are the docs harness's (ROUND.md): python blocks run in order
in one namespace, in a fresh temporary directory (also :mod:`tempfile`'s); a
block after ``<!-- not run: why -->`` is only compiled; after ``<!-- mypy -->``
it is type-checked by mypy strict; a ``text`` block after ``<!-- output -->``
is what the python block before it prints, ``…`` standing for any text
within a line. This file checks that page alone, and what the harness does not:
the command shown prints what is shown, and the page leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import re
import shlex
import tempfile
from pathlib import Path

import attrs
import pytest

from uploadwriter._cli import main

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "howto" / "test-your-writer.md"

FENCE = re.compile(r"^```(?P<language>\S*)\s*$")
MARKER = re.compile(r"^<!--\s*(?P<marker>.*?)\s*-->\s*$")


@attrs.frozen
class Block:
    line: int
    language: str
    code: str
    marker: str | None


def blocks() -> list[Block]:
    found: list[Block] = []
    lines = PAGE.read_text(encoding="utf-8").splitlines()
    marker: str | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        fence = FENCE.match(line)
        if fence is None:
            comment = MARKER.match(line)
            if comment is not None:
                marker = comment["marker"]
            elif line.strip():
                marker = None
            continue
        start = index
        while lines[index] != "```":
            index += 1
        found.append(
            Block(start + 1, fence["language"], "\n".join(lines[start:index]) + "\n", marker)
        )
        index += 1
        marker = None
    return found


def expected_output(shown: str) -> re.Pattern[str]:
    return re.compile(
        "".join(".*?" if part == "…" else re.escape(part) for part in re.split("(…)", shown))
    )


@pytest.fixture
def page_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cwd, tmp = tmp_path / "cwd", tmp_path / "tmp"
    cwd.mkdir()
    tmp.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    return tmp_path


def test_the_python_blocks_run_and_print_what_is_shown(page_directory: Path) -> None:
    namespace: dict[str, object] = {"__name__": "__main__"}
    terminal = io.StringIO()
    printed: str | None = None
    checked = 0
    for block in blocks():
        source = "\n" * (block.line - 1) + block.code
        if block.language == "python" and block.marker is None:
            start = terminal.tell()
            with contextlib.redirect_stdout(terminal), contextlib.redirect_stderr(terminal):
                exec(compile(source, str(PAGE), "exec"), namespace)
            printed = terminal.getvalue()[start:]
        elif block.language == "python":
            assert block.marker is not None
            assert block.marker.startswith("not run: ") or block.marker == "mypy"
            compile(source, str(PAGE), "exec")
        elif block.marker == "output":
            assert printed is not None
            if not expected_output(block.code).fullmatch(printed):
                diff = difflib.unified_diff(
                    block.code.splitlines(keepends=True), printed.splitlines(keepends=True)
                )
                pytest.fail(f"{PAGE.name}:{block.line}: printed:\n" + "".join(diff))
            checked += 1
    assert checked >= 5
    # What pytest would collect from the page.
    assert "TestSha256Writer" in namespace
    # Checking writers leaves the machine clean: nothing in the temp or the
    # working directory but Hypothesis's own (its caches, created wherever the
    # process first needs them: `uploadwriter check` sends it elsewhere).
    assert list((page_directory / "tmp").iterdir()) == []
    assert [p.name for p in (page_directory / "cwd").iterdir()] in ([], [".hypothesis"])


def test_the_commands_shown_print_what_is_shown(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HYPOTHESIS_STORAGE_DIRECTORY", str(Path.cwd() / ".hypothesis"))
    consoles = [block for block in blocks() if block.language == "console"]
    assert consoles
    for block in consoles:
        command, *shown = block.code.strip().splitlines()
        argv = shlex.split(command.removeprefix("$ uploadwriter "))
        assert argv[0] == "check"
        status = main(argv)
        out, err = capsys.readouterr()
        printed = (out if status == 0 else err).splitlines()
        assert len(printed) >= len(shown)
        for want, got in zip(shown, printed, strict=False):
            assert expected_output(want).fullmatch(got), (want, got)


def test_the_page_says_what_each_part_of_the_kit_is() -> None:
    text = PAGE.read_text(encoding="utf-8")
    for name in (
        "check_writer(",
        "sizes=",
        "consume=",
        "discard(",
        "leaks=",
        "check_writer_async(",
        "replay(",
        "writer_machine(",
        "event_streams(",
        "uploadwriter check",
        "CLOSE_PATHS",
    ):
        assert name in text, name
