"""glibc malloc's thresholds, fixed for the process of ``uploadwriter serve``.

By default glibc's mmap threshold follows the largest block freed, and the top
of the heap goes back to the kernel once twice that is free. uvicorn reads a
request body 256 KiB at a time and makes a ``bytes`` of each piece: in a
process whose heap holds nothing long-lived above those blocks, their memory
is given back after each chunk and taken again for the next, and the kernel
maps and clears every page of it, over and over. That took half the CPU time
of receiving a body (see ``docs/explanation/performance-server.md``); which
processes pay it depends on their allocation history. Fixing the thresholds
keeps the freed blocks for the next chunks: at most ``TRIM_THRESHOLD`` of free
memory stays with the process after a burst.

Only the ``serve`` command calls :func:`steady_malloc`: it owns its process.
A library must not change the allocator of the application it runs in.
"""

from __future__ import annotations

import ctypes
import os
import platform
from collections.abc import Mapping

__all__ = ("MMAP_THRESHOLD", "TRIM_THRESHOLD", "applies", "steady_malloc")

#: Blocks under this size come from the heap, never from a mapping of their own.
MMAP_THRESHOLD = 1024 * 1024
#: Free memory at the top of the heap is given back only past this size.
TRIM_THRESHOLD = 8 * 1024 * 1024

# mallopt's parameters (glibc's malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

# Set by the operator: then the process is left as they said.
_ENVIRONMENT = (
    "MALLOC_MMAP_THRESHOLD_",
    "MALLOC_TRIM_THRESHOLD_",
    "MALLOC_TOP_PAD_",
    "MALLOC_MMAP_MAX_",
)


def applies(libc: str, environ: Mapping[str, str]) -> bool:
    """Whether to fix the thresholds: glibc, and none of its ``MALLOC_*_`` variables set."""
    return libc == "glibc" and not any(name in environ for name in _ENVIRONMENT)


def steady_malloc() -> bool:
    """Fix glibc malloc's mmap and trim thresholds for this process; return whether it did.

    Does nothing (and returns ``False``) on another C library, or when the
    environment sets any of glibc's own ``MALLOC_*_`` tunables.
    """
    if not applies(platform.libc_ver()[0], os.environ):
        return False
    mallopt = ctypes.CDLL(None).mallopt  # the process's own C library
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success.
    mmap: int = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    trim: int = mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    return mmap == 1 and trim == 1
