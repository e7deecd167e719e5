"""What a client selected (``ClientFile``), the entry tracking it (``UploadEntry``), its errors."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import attrs

from .._errors import safe_repr

__all__ = ("ClientFile", "EntryError", "Postpone", "UploadEntry")

T_co = TypeVar("T_co", covariant=True)


def _check_str(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{attribute.name} must be a string, not {safe_repr(value)}")


def _check_size(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"size must be a whole number of bytes, not {safe_repr(value)}")
    if value < 0:
        raise ValueError(f"size must be 0 or more bytes, not {value}")


def _check_optional_int(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise TypeError(f"{attribute.name} must be an int or None, not {safe_repr(value)}")


def _check_ref(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise TypeError(f"ref must be a string or None, not {safe_repr(value)}")
    if not value:
        raise ValueError("ref must be a non-empty string or None (None picks the next free ref)")


@attrs.frozen
class ClientFile:
    """A file the client selected, as the browser describes it (nothing here is trusted).

    ``last_modified`` is the browser's ``File.lastModified`` (milliseconds),
    ``ref`` the client's reference for the entry (``None``: the next free one).

    Raises:
        TypeError: a field has the wrong type.
        ValueError: ``size`` is negative or ``ref`` is empty.
    """

    name: str = attrs.field(validator=_check_str)
    size: int = attrs.field(validator=_check_size)
    type: str = attrs.field(default="", validator=_check_str)
    last_modified: int | None = attrs.field(default=None, validator=_check_optional_int)
    ref: str | None = attrs.field(default=None, validator=_check_ref)


@attrs.frozen
class EntryError:
    """One error of an entry (or, ``too_many_files``, of the whole upload).

    ``code`` is Phoenix's atom as a string: ``"too_large"``, ``"not_accepted"``,
    ``"too_many_files"``, ``"writer_failure"``, ``"chunk_timeout"``,
    ``"incomplete"``, or a validator's own code. ``reason`` is what caused it
    (the error raised by the driver, the writer's reason...), or ``None``.
    """

    code: str
    reason: object = None


@attrs.frozen
class UploadEntry:
    """One selected file and its upload: immutable; the owning :class:`Uploads` replaces it.

    ``progress`` is an integer percent; it only grows, and is 100 exactly when
    ``done`` (the writer closed with ``Done()`` and answered ``Ok``).
    ``valid`` is ``not errors``.
    """

    ref: str
    uuid: str
    #: The name of the :class:`UploadConfig` this entry belongs to.
    upload_config: str
    client_name: str
    client_size: int
    client_type: str
    client_last_modified: int | None
    progress: int = 0
    #: The upload has been started (its writer factory was called).
    started: bool = False
    done: bool = False
    #: Set on the entry :meth:`Uploads.cancel` returns; cancelled entries are dropped.
    cancelled: bool = False
    errors: tuple[EntryError, ...] = ()

    @property
    def valid(self) -> bool:
        """True while the entry has no errors."""
        return not self.errors

    @property
    def error_codes(self) -> tuple[str, ...]:
        """The codes of :attr:`errors`, in order (``("too_large",)``)."""
        return tuple(error.code for error in self.errors)


@attrs.frozen
class Postpone(Generic[T_co]):
    """Returned by a consume function: give ``value`` back, but keep the entry for later.

    The entry, its file and its writer state stay; the writer's meta is
    computed again when it is consumed next time.
    """

    value: T_co
