"""``HashWriter``: the upload's digest as it streams, optionally checked against an expected one."""

from __future__ import annotations

import hashlib
import hmac
import string
from collections.abc import Mapping
from typing import Any, Protocol

import attrs

from .._errors import safe_repr
from .._events import CloseReason, Done
from .._results import Err, Ok

__all__ = ("DigestMismatch", "HashOpts", "HashState", "HashWriter")

# The extendable-output functions have no fixed length: use OpenSSL's default
# lengths (`openssl dgst -shake128` prints 16 bytes, `-shake256` 32).
_XOF_LENGTHS = {"shake_128": 16, "shake_256": 32}
_HEX = frozenset(string.hexdigits)


class _Hash(Protocol):
    """What HashWriter uses of a ``hashlib`` object."""

    @property
    def name(self) -> str:
        """The algorithm's canonical name."""
        ...

    def update(self, data: bytes, /) -> None:
        """Hash ``data`` into this object."""
        ...

    def copy(self) -> _Hash:
        """A copy, to update while this one stays as it is."""
        ...


class DigestMismatch(ValueError):
    """The ``Err`` reason of ``close(Done())`` when the digest is not ``HashOpts.expected``."""

    def __init__(self, algorithm: str, actual: str, expected: str) -> None:
        super().__init__(
            f"the {algorithm} digest of the upload is {actual}, but {expected} was expected"
        )
        self.algorithm = algorithm  #: the algorithm's name, e.g. ``"sha256"``
        self.actual = actual  #: the upload's digest, in hex
        self.expected = expected  #: the expected digest, in lowercase hex


def _new(algorithm: str) -> _Hash:
    hasher: _Hash = hashlib.new(algorithm)
    return hasher


def _hexdigest(hasher: _Hash) -> str:
    length = _XOF_LENGTHS.get(hasher.name)
    h: Any = hasher  # the XOFs take a length, the others do not
    return str(h.hexdigest(length) if length is not None else h.hexdigest())


def _algorithm(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str):
        raise TypeError(
            f"HashOpts.algorithm must be a str such as 'sha256', not {safe_repr(value)}"
        )
    try:
        _new(value)
    except ValueError:
        available = ", ".join(sorted(hashlib.algorithms_available))
        raise ValueError(
            f"HashOpts.algorithm {safe_repr(value)} is not a hashlib algorithm on this Python; "
            f"available: {available}"
        ) from None


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


@attrs.frozen
class HashOpts:
    """Options of :class:`HashWriter`.

    Raises:
        TypeError: ``algorithm`` or ``expected`` is not a string.
        ValueError: ``algorithm`` is not a ``hashlib`` algorithm, or ``expected``
            is not a hex digest of that algorithm's length.
    """

    #: Any ``hashlib`` algorithm: ``"sha256"``, ``"md5"``, ``"blake2b"``, ``"sha3_512"``...
    algorithm: str = attrs.field(default="sha256", validator=_algorithm)
    #: The hex digest the upload must have (any case); a mismatch fails the upload.
    expected: str | None = attrs.field(default=None, converter=_lower)

    @expected.validator
    def _check_expected(self, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is None:
            return
        if not isinstance(value, str):
            raise TypeError(
                f"HashOpts.expected must be a hex digest (str) or None, not {safe_repr(value)}"
            )
        length = len(_hexdigest(_new(self.algorithm)))
        if len(value) != length or not set(value) <= _HEX:
            raise ValueError(
                f"HashOpts.expected must be a {self.algorithm} digest: {length} hex digits, "
                f"not {safe_repr(value)}"
            )


@attrs.frozen
class HashState:
    """The digest of the bytes so far: a value, like every field here (no resource).

    ``hasher`` is a ``hashlib`` object that this state alone owns:
    ``write_chunk`` updates a copy of it for the next state and never the one
    a state holds, so an older state still gives the digest of its own bytes.
    """

    algorithm: str
    size: int
    expected: str | None
    # Compared by the digest it gives, so equal states mean equal digests.
    hasher: _Hash = attrs.field(repr=False, eq=_hexdigest)


class HashWriter:
    """Hash the upload as it arrives; meta is ``{"algorithm", "hexdigest", "size"}``.

    With ``HashOpts(expected=...)``, ``close(Done())`` answers ``Err`` with
    :class:`DigestMismatch` when the digest differs, so the upload fails
    (``WriterFailure``) instead of completing. Keeps no bytes.
    """

    def init(self, opts: HashOpts = HashOpts()) -> Ok[HashState] | Err[None]:
        """Start a digest (``Err`` if ``opts`` is not a ``HashOpts``)."""
        given: object = opts  # typed as HashOpts, but a caller may pass anything
        if not isinstance(given, HashOpts):
            return Err(TypeError(f"HashWriter needs HashOpts(...), not {safe_repr(opts)}"), None)
        hasher = _new(opts.algorithm)
        return Ok(HashState(hasher.name, 0, opts.expected, hasher))

    def meta(self, state: HashState) -> Mapping[str, object]:
        """``{"algorithm": name, "hexdigest": hex, "size": bytes hashed}``."""
        return {
            "algorithm": state.algorithm,
            "hexdigest": _hexdigest(state.hasher),
            "size": state.size,
        }

    def write_chunk(self, data: bytes, state: HashState) -> Ok[HashState] | Err[HashState]:
        """Hash ``data`` into a copy of the state's hasher (the state itself is left as it was)."""
        hasher = state.hasher.copy()
        hasher.update(data)
        return Ok(HashState(state.algorithm, state.size + len(data), state.expected, hasher))

    def close(self, state: HashState, reason: CloseReason) -> Ok[HashState] | Err[HashState]:
        """On ``Done()``, compare with ``expected`` (``Err(DigestMismatch)`` if it differs)."""
        if state.expected is not None and reason == Done():
            actual = _hexdigest(state.hasher)
            if not hmac.compare_digest(actual, state.expected):
                return Err(DigestMismatch(state.algorithm, actual, state.expected), state)
        return Ok(state)
