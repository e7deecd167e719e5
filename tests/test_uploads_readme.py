"""The README's "A complete upload flow" runs, and prints what the README says it prints."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def section() -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^## A complete upload flow\n(.*?)(?=^## )", text, re.S | re.M)
    assert match is not None, "the README lost its 'A complete upload flow' section"
    return match.group(1)


def blocks(kind: str) -> list[str]:
    return re.findall(rf"^```{kind}\n(.*?)^```$", section(), re.S | re.M)


def test_the_section_has_the_whole_flow() -> None:
    code = "\n".join(blocks("python"))
    for step in ("UploadConfig(", ".select(", ".upload(", "Chunk(", "consume_uploaded_entr"):
        assert step in code


@pytest.mark.parametrize("index", [0, 1])
def test_readme_flow_runs(
    index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Every temp file of the example (uploads, and its "keep" directory) in tmp_path.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    code = blocks("python")[index]
    exec(compile(code, f"README.md (upload flow, block {index + 1})", "exec"), {})
    printed = capsys.readouterr().out
    if index == 0:
        (expected,) = blocks("text")
        assert printed == expected
        # Only the directory the example moved its file to is left; no temp file.
        (keep,) = tmp_path.iterdir()
        assert [p.suffix for p in keep.iterdir()] == [".jpg"]
    else:
        assert printed == "100\n"
        assert list(tmp_path.iterdir()) == []
