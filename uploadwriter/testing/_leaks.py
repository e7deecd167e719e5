"""Ready-made ``leaks=`` helpers: open file descriptors, and files left in a directory."""

from __future__ import annotations

import os

__all__ = ("files_in", "open_fds")

_FD_DIRS = ("/proc/self/fd", "/dev/fd")


def open_fds() -> list[str]:
    """Return this process's open file descriptors, as ``"fd 7 -> /tmp/upload-x1"``.

    Use it as ``leaks=open_fds``: a writer must not leave a descriptor open
    after an upload, whatever its outcome.

    Raises:
        OSError: the platform lists no descriptors (``/proc/self/fd`` on Linux,
            ``/dev/fd`` on macOS and BSD); there is no such listing on Windows.
    """
    for directory in _FD_DIRS:
        if os.path.isdir(directory):
            break
    else:  # pragma: no cover - Linux has /proc/self/fd
        raise OSError("open_fds needs /proc/self/fd or /dev/fd, which this platform lacks")
    found = []
    for name in os.listdir(directory):
        fd = int(name)
        try:
            # The listing's own descriptor is closed by now: skip it.
            os.fstat(fd)
        except OSError:
            continue
        try:
            target = os.readlink(os.path.join(directory, name))
        except OSError:  # pragma: no cover - /dev/fd entries on macOS are not links
            target = "?"
        found.append((fd, f"fd {fd} -> {target}"))
    return [text for _, text in sorted(found)]


def files_in(directory: str | os.PathLike[str]) -> list[str]:
    """Return the paths of the files in ``directory`` (and below), sorted.

    Give the writer that directory (``TmpFileWriter``'s ``{"dir": ...}``) and
    check with ``leaks=lambda: files_in(d)``: a cancelled or failed upload
    must leave no file behind.
    """
    paths: list[str] = []
    for root, _dirs, files in os.walk(directory):
        paths.extend(os.path.join(root, name) for name in files)
    return sorted(paths)
