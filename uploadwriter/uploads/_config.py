"""``UploadConfig``: what an upload accepts, validated at once (Phoenix's ``allow_upload``)."""

from __future__ import annotations

import mimetypes
import posixpath
import re
import typing
from collections.abc import Callable
from typing import Any, Literal, TypeAlias

import attrs

from .._errors import safe_repr
from .._options import count_validator, timeout_option
from .._protocols import AsyncUploadWriter, UploadWriter
from ..writers import TmpFileOpts, TmpFileWriter
from ._entries import UploadEntry

__all__ = (
    "ProgressCallback",
    "UploadConfig",
    "ValidatorCallback",
    "WriterFactory",
    "default_writer",
)

# The public aliases are typing.Callable, not collections.abc.Callable: on Python 3.10
# a subscripted collections.abc.Callable passes inspect.isclass() and claims to be
# a class of collections.abc, which misleads introspection (and the docs built from it).

#: ``writer(name, entry) -> (writer, opts)``: an entry's writer, called when its upload starts.
WriterFactory: TypeAlias = typing.Callable[
    [str, UploadEntry], tuple[UploadWriter[Any, Any] | AsyncUploadWriter[Any, Any], Any]
]
#: ``progress(name, entry, uploads)``: called when an entry's progress, ``done`` or errors
#: change; ``uploads`` is the :class:`~uploadwriter.Uploads` holding the entry (typed
#: ``Any`` here so that the configuration does not depend on the session).
ProgressCallback: TypeAlias = typing.Callable[[str, UploadEntry, Any], object]
#: ``validator(entry)``: the entry's errors (``None`` or an empty iterable when it is valid).
ValidatorCallback: TypeAlias = typing.Callable[[UploadEntry], object]

MaxEntriesMode: TypeAlias = Literal["selected", "total"]

WILDCARDS = ("image/*", "audio/*", "video/*")
# RFC 6838 restricted names: "type/subtype", no parameters, no wildcard.
_MIME = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")

_ACCEPT_HELP = (
    'accept must be "any" or a non-empty list of file type specifiers: extensions '
    'with a known MIME type such as ".jpg" or ".pdf", MIME types such as "image/png", '
    'or the wildcards "image/*", "audio/*", "video/*"'
)


def default_writer(name: str, entry: UploadEntry) -> tuple[TmpFileWriter, TmpFileOpts]:
    """The default writer factory: ``(TmpFileWriter(), TmpFileOpts())``."""
    return TmpFileWriter(), TmpFileOpts()


def extension_type(ext: str) -> str | None:
    """Return the MIME type the stdlib :mod:`mimetypes` knows for ``ext`` (``".jpg"``), or None."""
    mime, _ = mimetypes.guess_type("file" + ext, strict=False)
    if mime is None:
        # ".gz" and friends are "encodings" to guess_type, but are types too.
        if not mimetypes.inited:  # pragma: no cover - guess_type above initialised it
            mimetypes.init()
        mime = mimetypes.types_map.get(ext) or mimetypes.common_types.get(ext)
    return mime


def _filter(value: object, *, hint: bool = True) -> tuple[str, str | None]:
    """Return ``(normalised filter, MIME type it implies)`` for one accept entry, or raise.

    ``hint``: say in the message which filter was probably meant, if any.
    """
    if not isinstance(value, str):
        raise TypeError(
            f"accept entries must be strings; got {safe_repr(value)} "
            f"({type(value).__name__}). {_ACCEPT_HELP}"
        )
    spec = value.strip().lower()
    if spec in WILDCARDS:
        return spec, None
    if spec.startswith("."):
        mime = extension_type(spec) if len(spec) > 1 and "/" not in spec else None
        if mime is None:
            raise ValueError(
                f"invalid accept filter {value!r}: expected a file extension with a known "
                "MIME type (the stdlib mimetypes module has none for it; register one "
                "with mimetypes.add_type(type, ext) before building the config). " + _ACCEPT_HELP
            )
        return spec, mime
    if spec.endswith("/*"):
        raise ValueError(
            f'invalid accept filter {value!r}: the only wildcards are "image/*", "audio/*" '
            'and "video/*". ' + _ACCEPT_HELP
        )
    if _MIME.fullmatch(spec) is None:
        meant = _suggest(value) if hint else None
        raise ValueError(
            f'invalid accept filter {value!r}: expected a MIME type "type/subtype" without '
            'parameters, or an extension starting with "."'
            + (f" (did you mean {meant[0]!r}?)" if meant is not None and len(meant) == 1 else "")
            + ". "
            + _ACCEPT_HELP
        )
    return spec, spec


def _suggest(text: str) -> list[str] | None:
    """The accept list ``text`` was probably meant as (``"jpg, png"`` -> ``['.jpg', '.png']``).

    None when some part of it is no filter even with a leading dot.
    """
    suggestion: list[str] = []
    for part in re.split(r"[,\s]+", text.strip()):
        if not part:
            continue
        candidates = [part] if part.startswith(".") or "/" in part else ["." + part, part]
        for candidate in candidates:
            try:
                spec, _ = _filter(candidate, hint=False)
            except ValueError:
                continue
            suggestion.append(spec)
            break
        else:
            return None
    return suggestion or None


def _accept(value: object) -> Literal["any"] | tuple[str, ...]:
    if isinstance(value, str):
        if value == "any":
            return "any"
        hint = _suggest(value)
        raise ValueError(
            f"accept={value!r} is not allowed. {_ACCEPT_HELP}"
            + (
                f"; did you mean accept={hint!r}?"
                if hint is not None
                else ' (give a list, e.g. accept=[".jpg", "image/png"])'
            )
        )
    if not isinstance(value, (list, tuple)):
        raise TypeError(
            f"accept must be a list or tuple, not {type(value).__name__}. {_ACCEPT_HELP}"
        )
    if not value:
        raise ValueError(f"accept=[] accepts nothing. {_ACCEPT_HELP}")
    specs: dict[str, None] = {}  # ordered set: duplicates are harmless, kept once
    for item in value:
        spec, _ = _filter(item)
        specs[spec] = None
    return tuple(specs)


def _check_mode(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str):
        raise TypeError(
            f'max_entries_mode must be the string "selected" or "total", not {safe_repr(value)}'
        )
    if value not in ("selected", "total"):
        raise ValueError(
            f'max_entries_mode must be "selected" (count the entries selected now) or "total" '
            f"(count consumed entries too), not {value!r}"
        )


def _chunk_timeout(value: object) -> float | None:
    # The drivers' own rule, so that a config and an AsyncUploader agree.
    return timeout_option("chunk_timeout", value)


def _check_bool(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{attribute.name} must be True or False, not {safe_repr(value)}")


def _callable(*, optional: bool) -> Callable[[Any, attrs.Attribute[Any], object], None]:
    def check(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is None and optional:
            return
        if not callable(value):
            allowed = "a callable or None" if optional else "a callable"
            raise TypeError(f"{attribute.name} must be {allowed}, not {safe_repr(value)}")

    return check


def _check_name(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str):
        raise TypeError(f"the upload name must be a string, not {safe_repr(value)}")
    if not value:
        raise ValueError("the upload name must be a non-empty string")


def _extension(name: str) -> str:
    # Browsers may send "C:\fakepath\photo.jpg"; only the last component counts.
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return posixpath.splitext(base)[1].lower()


@attrs.frozen
class UploadConfig:
    """How one named upload is allowed: Phoenix's ``allow_upload(name, ...)``, validated at once.

    ``accept`` is required: ``"any"``, or a non-empty list of extensions with
    a MIME type known to :mod:`mimetypes` (``".jpg"``), MIME types
    (``"image/png"``), and the wildcards ``"image/*"``, ``"audio/*"``,
    ``"video/*"``. Filters are compared lower-cased.

    ``writer(name, entry) -> (writer, opts)`` picks the writer of each entry
    when its upload starts (default: :class:`~uploadwriter.writers.TmpFileWriter`
    with ``TmpFileOpts()``). ``progress(name, entry, uploads)`` is called whenever an
    entry's progress, ``done`` or errors change. ``validator(entry)`` returns
    the entry's extra errors (``None``, a string, or an iterable of strings or
    :class:`EntryError`).

    Raises:
        TypeError: an option has the wrong type (the message names it).
        ValueError: an option has a value that is not allowed (the message names
            it and says what is).
    """

    name: str = attrs.field(validator=_check_name)
    accept: Literal["any"] | tuple[str, ...] = attrs.field(kw_only=True, converter=_accept)
    max_entries: int = attrs.field(
        default=1, kw_only=True, validator=count_validator("max_entries", "1 or more")
    )
    max_entries_mode: MaxEntriesMode = attrs.field(
        default="selected", kw_only=True, validator=_check_mode
    )
    max_file_size: int = attrs.field(
        default=8_000_000,
        kw_only=True,
        validator=count_validator("max_file_size", "1 or more bytes"),
    )
    chunk_size: int = attrs.field(
        default=64_000, kw_only=True, validator=count_validator("chunk_size", "1 or more bytes")
    )
    #: Seconds without a chunk before an async upload is timed out; ``None``: never.
    chunk_timeout: float | None = attrs.field(default=10.0, kw_only=True, converter=_chunk_timeout)
    auto_upload: bool = attrs.field(default=False, kw_only=True, validator=_check_bool)
    progress: ProgressCallback | None = attrs.field(
        default=None, kw_only=True, validator=_callable(optional=True)
    )
    validator: ValidatorCallback | None = attrs.field(
        default=None, kw_only=True, validator=_callable(optional=True)
    )
    writer: WriterFactory = attrs.field(
        default=default_writer, kw_only=True, validator=_callable(optional=False)
    )
    #: MIME types accepted exactly: those listed, and those of the listed extensions.
    acceptable_types: frozenset[str] = attrs.field(init=False, repr=False)
    #: Extensions accepted (lower-case, with the dot).
    acceptable_exts: frozenset[str] = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        types: set[str] = set()
        exts: set[str] = set()
        if self.accept != "any":
            for spec in self.accept:
                _, mime = _filter(spec)
                if spec.startswith("."):
                    exts.add(spec)
                if mime is not None:
                    types.add(mime)
                if spec in WILDCARDS:
                    types.add(spec)
        object.__setattr__(self, "acceptable_types", frozenset(types))
        object.__setattr__(self, "acceptable_exts", frozenset(exts))

    def accepts(self, name: str, type: str) -> bool:
        """Return whether a file ``name`` of MIME type ``type`` is accepted (Phoenix's rules).

        Accepted when ``accept`` is ``"any"``; or the type is ``image/…``,
        ``audio/…`` or ``video/…`` and the matching wildcard is listed; or the
        type is listed (or is the type of a listed extension); or the name's
        lower-cased extension is listed.
        """
        if self.accept == "any":
            return True
        client_type = type.strip().lower()
        top = client_type.split("/", 1)[0]
        if f"{top}/*" in self.acceptable_types:
            return True
        if client_type in self.acceptable_types:
            return True
        return _extension(name) in self.acceptable_exts
