"""``Ok`` / ``Err``: generic, immutable, read with ``match``."""

from __future__ import annotations

from typing_extensions import assert_never, assert_type

from uploadwriter import Err, Ok


def answer() -> Ok[int] | Err[int]:
    return Ok(1)


# --- accepted ---------------------------------------------------------------


def construction() -> None:
    assert_type(Ok(1), Ok[int])
    assert_type(Ok(b"x").state, bytes)
    assert_type(Err("reason", 2), Err[int])
    assert_type(Err(OSError(), None), Err[None])
    assert_type(Err("reason", 2).reason, object)
    assert_type(Err(ValueError("x"), "state").state, str)
    # Covariant: a result of a narrower state is a result of a wider one.
    wide: Ok[object] | Err[object] = answer()


def match_narrows() -> None:
    match answer():
        case Ok(state):
            assert_type(state, int)
        case Err(reason, state):
            assert_type(reason, object)
            assert_type(state, int)
        case unreachable:
            assert_never(unreachable)


def match_by_keyword() -> None:
    match answer():
        case Err(reason=OSError() as exc, state=state):
            assert_type(exc, OSError)
            assert_type(state, int)
        case Err():
            pass
        case Ok(state=state):
            assert_type(state, int)


def isinstance_narrows() -> None:
    result = answer()
    if isinstance(result, Ok):
        assert_type(result, Ok[int])
    else:
        assert_type(result, Err[int])


# --- rejected ---------------------------------------------------------------


def misuse() -> None:
    Ok(1).reason  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue]
    Err("no state")  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
    Ok()  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
    Ok(1).state = 2  # type: ignore[misc]  # pyright: ignore[reportAttributeAccessIssue]
    Err("r", 1).reason = "other"  # type: ignore[misc]  # pyright: ignore[reportAttributeAccessIssue]
    narrow: Ok[int] = Ok("text")  # type: ignore[arg-type]  # pyright: ignore[reportAssignmentType]
    result = answer()
    result.reason  # type: ignore[union-attr]  # pyright: ignore[reportAttributeAccessIssue]
    match result:
        case Ok(state):
            result.reason  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue]
        case Err(reason, state):
            pass
    # A match that forgets Err is not exhaustive.
    match result:
        case Ok(state):
            pass
        case unhandled:
            assert_never(unhandled)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
