"""The client's file name, made safe to keep as text (never as a path)."""

from __future__ import annotations

import re
import unicodedata
from typing import Final

__all__ = ("MAX_NAME_LENGTH", "safe_client_name", "safe_extension", "safe_text")

#: Longest client name kept, in characters (most file systems allow 255 bytes).
MAX_NAME_LENGTH: Final = 255
#: Kept when the client's name has nothing left once made safe.
UNNAMED: Final = "unnamed"

# An extension worth keeping at the end of a truncated name, and on a stored file.
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,16}\Z")


def safe_client_name(name: str) -> str:
    """Return the client's file name as safe text: a base name, printable, at most 255 characters.

    Only the last path component is kept (``../../etc/passwd`` is ``passwd``,
    ``C:\\fakepath\\photo.jpg`` is ``photo.jpg``), control and format
    characters (NUL, newlines, bidirectional overrides...) are removed,
    surrounding spaces stripped, and a name longer than
    255 characters is cut in the middle, keeping its extension. A
    name with nothing left (``""``, ``".."``, ``"/"``) becomes ``"unnamed"``.
    The result is for display and records: it is still never used as a path.
    """
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    kept = _printable(base).strip()
    if kept in ("", ".", ".."):
        return UNNAMED
    if len(kept) > MAX_NAME_LENGTH:
        tail = _tail_extension(kept)
        kept = kept[: MAX_NAME_LENGTH - len(tail)].rstrip() + tail
    return kept


def _printable(text: str) -> str:
    # Cc: control characters (NUL, CR, LF, ESC...); Cf: format characters,
    # which can disguise a name (U+202E RIGHT-TO-LEFT OVERRIDE); Cs: lone
    # surrogates, which cannot be encoded (a %-decoded URL, or JSON's "\udc80",
    # can carry them).
    return "".join(c for c in text if unicodedata.category(c) not in ("Cc", "Cf", "Cs"))


def safe_text(text: str, limit: int = MAX_NAME_LENGTH) -> str:
    """Return a client's short text (a content type) printable, at most ``limit`` long."""
    return _printable(text)[:limit].strip()


def _tail_extension(name: str) -> str:
    match = _EXTENSION.search(name[-17:])  # only the tail: a name may be 100,000 characters
    return "" if match is None else match.group()


def safe_extension(name: str) -> str:
    """Return the name's extension if short and plain (``".jpg"``), lower-cased; else ``""``."""
    return _tail_extension(name).lower()
