"""``uploadwriter serve`` fixes glibc malloc's thresholds: the memory of one chunk serves the next.

Without it, a process that takes and frees two 256 KiB blocks per chunk (what
uvicorn does for each piece of a request body) can have the kernel map and
clear fresh pages for every chunk: a page fault per 4 KiB received. Counted
here in a fresh interpreter, by its own minor page faults.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

from uploadwriter.web._malloc import applies

GLIBC = platform.libc_ver()[0] == "glibc"

# 64 rounds of what uvicorn does per chunk: two 256 KiB pieces, written, freed.
CHURN = """
import json, resource, sys
from uploadwriter.web._malloc import steady_malloc
applied = steady_malloc()
N = 256 * 1024
for _ in range(8):  # settle
    a = b"\\1" * N; b = b"\\2" * N; del a; del b
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(64):
    a = b"\\1" * N; b = b"\\2" * N; del a; del b
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
json.dump({"applied": applied, "faults": faults}, sys.stdout)
"""


def _churn(**malloc: str) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")} | malloc
    out = subprocess.run(
        [sys.executable, "-c", CHURN], check=True, capture_output=True, text=True, env=env
    ).stdout
    result: dict[str, object] = json.loads(out)
    return result


@pytest.mark.skipif(not GLIBC, reason="glibc's malloc only")
def test_with_the_thresholds_fixed_the_chunks_reuse_their_memory() -> None:
    result = _churn()
    assert result["applied"] is True
    # 32 MiB went through the heap: 8,192 pages. Fixed, they are the same few pages.
    faults = result["faults"]
    assert isinstance(faults, int)
    assert faults < 64


@pytest.mark.skipif(not GLIBC, reason="glibc's malloc only")
def test_an_operators_own_malloc_setting_is_left_alone() -> None:
    assert _churn(MALLOC_TRIM_THRESHOLD_="131072")["applied"] is False


@pytest.mark.parametrize(
    ("libc", "environ", "expected"),
    [
        ("glibc", {}, True),
        ("glibc", {"PATH": "/bin"}, True),
        ("glibc", {"MALLOC_MMAP_THRESHOLD_": "65536"}, False),
        ("glibc", {"MALLOC_TOP_PAD_": "0"}, False),
        ("", {}, False),  # musl, macOS, Windows: not glibc's malloc
        ("libc", {}, False),
    ],
)
def test_it_applies_to_glibc_unless_the_environment_says_otherwise(
    libc: str, environ: dict[str, str], expected: bool
) -> None:
    assert applies(libc, environ) is expected
