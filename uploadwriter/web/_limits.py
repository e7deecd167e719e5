"""``HttpLimits``: what an HTTP upload route accepts, validated once, when the route is made."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeAlias

import attrs

from .._errors import safe_repr
from .._options import count_validator, timeout_option
from ..uploads import UploadConfig

__all__ = ("Accept", "HttpLimits")

#: ``"any"``, or file type specifiers as :class:`~uploadwriter.UploadConfig` takes them.
Accept: TypeAlias = Literal["any"] | Sequence[str]


def _count(option: str, allowed: str) -> Callable[[Any, attrs.Attribute[Any], object], None]:
    return count_validator(f"HttpLimits.{option}", allowed)


def _timeout(value: object) -> float | None:
    return timeout_option("HttpLimits.chunk_timeout", value)


def _accept(value: object) -> Literal["any"] | tuple[str, ...]:
    # UploadConfig validates accept, with messages that name it, and
    # normalises it (a tuple of lower-cased filters, duplicates dropped).
    return UploadConfig("http", accept=value).accept


def _accept_config(limits: HttpLimits) -> UploadConfig:
    # Answers ``accepts`` for every request, with Phoenix's rules.
    return UploadConfig("http", accept=limits.accept)


@attrs.frozen
class HttpLimits:
    """What an HTTP upload route accepts; checked as the bytes arrive.

    ``accept`` takes what :class:`~uploadwriter.UploadConfig` takes (``"any"``,
    extensions, MIME types, ``image/*``...), with the same rules.
    ``max_file_size`` bounds each file, ``max_entries`` the files of one
    request, ``max_field_size`` and ``max_fields`` the text fields of a
    ``multipart/form-data`` body (kept in memory: they are capped).
    ``chunk_timeout`` is how long the client may send nothing, from the start
    of the request (``None``: no timeout). The defaults are those of
    :class:`~uploadwriter.UploadConfig`, Phoenix's.

    Raises:
        TypeError: an option has the wrong type (the message names it).
        ValueError: an option has a value that is not allowed (the message
            names it and says what is).
    """

    accept: Literal["any"] | tuple[str, ...] = attrs.field(
        default="any", kw_only=True, converter=_accept
    )
    max_file_size: int = attrs.field(
        default=8_000_000, kw_only=True, validator=_count("max_file_size", "1 or more bytes")
    )
    max_entries: int = attrs.field(
        default=1, kw_only=True, validator=_count("max_entries", "1 or more")
    )
    max_field_size: int = attrs.field(
        default=65_536, kw_only=True, validator=_count("max_field_size", "1 or more bytes")
    )
    max_fields: int = attrs.field(
        default=100, kw_only=True, validator=_count("max_fields", "1 or more")
    )
    chunk_timeout: float | None = attrs.field(default=10.0, kw_only=True, converter=_timeout)
    _config: UploadConfig = attrs.field(
        init=False, repr=False, eq=False, default=attrs.Factory(_accept_config, takes_self=True)
    )

    @classmethod
    def from_config(
        cls, config: UploadConfig, *, max_field_size: int = 65_536, max_fields: int = 100
    ) -> HttpLimits:
        """Take ``accept``, ``max_file_size``, ``max_entries``, ``chunk_timeout`` from ``config``.

        So that the HTTP routes and a WebSocket channel on the same
        :class:`~uploadwriter.UploadConfig` accept the same files.

        Raises:
            TypeError: ``config`` is not an :class:`~uploadwriter.UploadConfig`.
        """
        if not isinstance(config, UploadConfig):
            raise TypeError(
                f"HttpLimits.from_config needs an UploadConfig, not {safe_repr(config)}"
            )
        return cls(
            accept=config.accept,
            max_file_size=config.max_file_size,
            max_entries=config.max_entries,
            max_field_size=max_field_size,
            max_fields=max_fields,
            chunk_timeout=config.chunk_timeout,
        )

    def accepts(self, name: str, type: str) -> bool:
        """Return whether a file ``name`` of MIME type ``type`` is accepted (Phoenix's rules)."""
        return self._config.accepts(name, type)
