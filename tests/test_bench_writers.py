"""``python -m bench.writers --smoke`` runs (its figures mean nothing at that size)."""

from __future__ import annotations

import pytest

from bench.writers import main


def test_the_writers_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--smoke"]) == 0
    out = capsys.readouterr().out
    assert "| Uploader + S3Writer (moto, 8 MiB parts) |" in out
    assert "| Uploader + HashWriter sha256 |" in out
