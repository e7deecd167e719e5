"""The runtime shape check: a driver given something that is not a writer says exactly why.

``Uploader``, ``AsyncUploader``, ``ThreadedWriter`` and ``InlineWriter`` check
the writer when they are built, before ``init`` is ever called, and raise a
``TypeError`` listing every callback that is missing, not callable, or of the
wrong kind (sync where async is needed, or the reverse).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest

from uploadwriter import (
    AsyncUploader,
    Chunk,
    ClientFile,
    CloseReason,
    Done,
    InlineWriter,
    Ok,
    ThreadedWriter,
    UploadConfig,
    Uploader,
    Uploads,
)
from uploadwriter._protocols import is_async_writer
from uploadwriter.writers import EchoOpts, EchoWriter, TmpFileOpts, TmpFileWriter

CALLBACKS = ("init", "meta", "write_chunk", "close")
ASYNC_CALLBACKS = ("init", "write_chunk", "close")
KINDS = ("sync", "async", "missing", "not callable")
DRIVERS: dict[str, Callable[[Any], object]] = {
    # Each takes the writer and its opts and nothing else: the check runs at construction.
    "Uploader": lambda writer: Uploader(writer, None),
    "AsyncUploader": lambda writer: AsyncUploader(writer, None),
    "ThreadedWriter": ThreadedWriter,
    "InlineWriter": InlineWriter,
}
NEEDS_ASYNC = {
    "Uploader": False,
    "AsyncUploader": True,
    "ThreadedWriter": False,
    "InlineWriter": False,
}


def make_writer(kinds: Mapping[str, str], calls: list[str]) -> Any:
    """A writer instance whose callbacks are of the given kinds; every call is recorded."""
    namespace: dict[str, object] = {}
    for name, kind in kinds.items():
        if kind == "sync":

            def sync_callback(self: object, *args: object, _name: str = name) -> object:
                calls.append(_name)
                return {} if _name == "meta" else Ok(None)

            namespace[name] = sync_callback
        elif kind == "async":

            async def async_callback(self: object, *args: object, _name: str = name) -> object:
                calls.append(_name)
                return Ok(None)

            namespace[name] = async_callback
        elif kind == "not callable":
            namespace[name] = 42
    return type("Shaped", (), namespace)()


def expected_problems(kinds: Mapping[str, str], driver: str) -> list[str]:
    """The problems the check must list, in callback order (the test's own oracle)."""
    needs_async = NEEDS_ASYNC[driver]
    problems = []
    for name in CALLBACKS:
        kind = kinds.get(name, "missing")
        if kind == "missing":
            problems.append(f"{name} is missing")
        elif kind == "not callable":
            problems.append(f"{name} is not callable (int)")
        elif kind == "async" and (name == "meta" or not needs_async):
            problems.append(f"{name} must be a plain 'def', not async")
        elif kind == "sync" and name != "meta" and needs_async:
            problems.append(f"{name} must be 'async def', not a plain method")
    return problems


def listed_problems(message: str) -> list[str]:
    """The problems a TypeError message lists, without its prefix and trailing hint."""
    body = message.split(": ", 1)[1]
    head, _, hint = body.rpartition(" (")
    if head and hint.startswith(HINTS):
        body = head
    return body.split("; ")


HINT = {
    "Uploader": " (use AsyncUploader for an async writer)",
    "AsyncUploader": (
        " (a synchronous writer can be wrapped: ThreadedWriter(writer) or InlineWriter(writer))"
    ),
    "ThreadedWriter": " (an async writer needs no adapter: give it to AsyncUploader directly)",
    "InlineWriter": " (an async writer needs no adapter: give it to AsyncUploader directly)",
}
HINTS = tuple(hint[2:] for hint in HINT.values())


ALL_SHAPES = [
    dict(zip(CALLBACKS, combo, strict=True))
    for combo in itertools.product(KINDS, repeat=len(CALLBACKS))
]


@pytest.mark.parametrize("driver", DRIVERS)
def test_every_shape_is_accepted_or_refused_with_every_problem_listed(driver: str) -> None:
    # All 4**4 combinations of sync / async / missing / not callable callbacks.
    build = DRIVERS[driver]
    refused = hints = 0
    for kinds in ALL_SHAPES:
        calls: list[str] = []
        writer = make_writer(kinds, calls)
        problems = expected_problems(kinds, driver)
        if not problems:
            build(writer)
        else:
            refused += 1
            with pytest.raises(TypeError) as info:
                build(writer)
            message = str(info.value)
            assert message.startswith(f"Shaped is not an upload writer for {driver}: "), kinds
            assert listed_problems(message) == problems, kinds
            # A hint only for a whole writer of the other kind, which the hint fixes.
            other = "sync" if NEEDS_ASYNC[driver] else "async"
            whole_other_kind = all(kinds[name] == other for name in ASYNC_CALLBACKS)
            assert message.endswith(HINT[driver]) == whole_other_kind, kinds
            hints += whole_other_kind
            if not whole_other_kind:
                assert not message.endswith(tuple(HINT.values())), kinds
        # Refused or not, building a driver calls nothing: init waits for `with`.
        assert calls == [], kinds
    assert refused == len(ALL_SHAPES) - 1
    assert hints == len(KINDS)  # meta's kind varies; the other three are fixed


def test_a_missing_callback_is_named() -> None:
    writer = SimpleNamespace(init=lambda opts: Ok(0), meta=lambda state: {})
    with pytest.raises(TypeError) as info:
        Uploader(writer, None)
    assert str(info.value) == (
        "SimpleNamespace is not an upload writer for Uploader: "
        "write_chunk is missing; close is missing"
    )


def test_a_callback_set_to_none_counts_as_missing() -> None:
    calls: list[str] = []
    writer = make_writer(dict.fromkeys(CALLBACKS, "sync"), calls)
    writer.close = None
    with pytest.raises(TypeError, match=r"close is missing$"):
        Uploader(writer, None)


def test_a_sync_writer_given_to_async_uploader_is_told_about_the_adapters() -> None:
    with pytest.raises(TypeError) as info:
        AsyncUploader(TmpFileWriter(), {})  # type: ignore[arg-type]
    assert str(info.value) == (
        "TmpFileWriter is not an upload writer for AsyncUploader: "
        "init must be 'async def', not a plain method; "
        "write_chunk must be 'async def', not a plain method; "
        "close must be 'async def', not a plain method "
        "(a synchronous writer can be wrapped: ThreadedWriter(writer) or InlineWriter(writer))"
    )


def test_an_async_writer_given_to_uploader_is_told_about_async_uploader() -> None:
    writer = make_writer(dict.fromkeys(CALLBACKS, "async") | {"meta": "sync"}, [])
    with pytest.raises(TypeError) as info:
        Uploader(writer, None)
    assert str(info.value).endswith(
        "close must be a plain 'def', not async (use AsyncUploader for an async writer)"
    )


@pytest.mark.parametrize("adapter", [ThreadedWriter, InlineWriter])
def test_an_async_writer_given_to_an_adapter_is_told_it_needs_none(adapter: type[Any]) -> None:
    writer = make_writer(dict.fromkeys(CALLBACKS, "async") | {"meta": "sync"}, [])
    with pytest.raises(TypeError) as info:
        adapter(writer)
    message = str(info.value)
    assert message.startswith(f"Shaped is not an upload writer for {adapter.__name__}: ")
    assert message.endswith(
        " (an async writer needs no adapter: give it to AsyncUploader directly)"
    )


def test_a_half_async_writer_gets_no_misleading_hint() -> None:
    # Neither wrapping nor switching drivers would fix it: only the problems are listed.
    kinds = {"init": "sync", "meta": "sync", "write_chunk": "async", "close": "async"}
    for driver, build in DRIVERS.items():
        with pytest.raises(TypeError) as info:
            build(make_writer(kinds, []))
        assert "(" not in str(info.value), driver


@pytest.mark.parametrize("writer_class", [TmpFileWriter, EchoWriter])
def test_a_writer_class_instead_of_an_instance(writer_class: type[Any]) -> None:
    name = writer_class.__name__
    for driver, build in DRIVERS.items():
        with pytest.raises(TypeError) as info:
            build(writer_class)
        assert str(info.value) == (
            f"{driver} needs a writer instance, not the class {name}: pass {name}()"
        )


class StaticWriter:
    """A writer made of static and class methods: the class itself is the writer."""

    @staticmethod
    def init(opts: None) -> Ok[int]:
        return Ok(0)

    @staticmethod
    def meta(state: int) -> Mapping[str, object]:
        return {"size": state}

    @classmethod
    def write_chunk(cls, data: bytes, state: int) -> Ok[int]:
        return Ok(state + len(data))

    @staticmethod
    def close(state: int, reason: CloseReason) -> Ok[int]:
        return Ok(state)


def test_a_class_of_static_methods_is_a_writer() -> None:
    with Uploader(StaticWriter, None) as up:
        up.send(Chunk(b"abc"))
        up.send(Done())
    assert up.meta() == {"size": 3}


def test_a_duck_typed_namespace_is_a_writer() -> None:
    writer = SimpleNamespace(
        init=lambda opts: Ok(0),
        meta=lambda state: {"size": state},
        write_chunk=lambda data, state: Ok(state + len(data)),
        close=lambda state, reason: Ok(state),
    )
    with Uploader(writer, None) as up:
        up.send(Chunk(b"abcd"))
        up.send(Done())
    assert up.meta() == {"size": 4}


class AsyncCallable:
    """An object whose ``__call__`` is a coroutine function: awaitable like an async method."""

    def __init__(self, result: object) -> None:
        self.result = result

    async def __call__(self, *args: object) -> object:
        return self.result


@pytest.mark.anyio
async def test_async_callable_objects_and_async_mocks_are_async_callbacks() -> None:
    objects = SimpleNamespace(
        init=AsyncCallable(Ok(0)),
        meta=lambda state: {"kind": "objects"},
        write_chunk=AsyncCallable(Ok(0)),
        close=AsyncCallable(Ok(0)),
    )
    mocks = SimpleNamespace(
        init=mock.AsyncMock(return_value=Ok(0)),
        meta=mock.Mock(return_value={"kind": "mocks"}),
        write_chunk=mock.AsyncMock(return_value=Ok(0)),
        close=mock.AsyncMock(return_value=Ok(0)),
    )
    for writer in (objects, mocks):
        async with AsyncUploader(writer, None) as up:
            await up.send(Chunk(b"abc"))
            await up.send(Done())
        assert up.meta() in ({"kind": "objects"}, {"kind": "mocks"})
        with pytest.raises(TypeError, match="init must be a plain 'def', not async"):
            Uploader(writer, None)
    mocks.write_chunk.assert_awaited_once_with(b"abc", 0)


@pytest.mark.anyio
async def test_every_layer_agrees_on_what_an_async_writer_is() -> None:
    # One test (is_async_writer) decides, for the driver, the uploads layer and
    # the testing kit alike: an init that is an object with an async __call__
    # is async everywhere.
    from uploadwriter.testing._spec import make_spec

    writer = SimpleNamespace(
        init=AsyncCallable(Ok(b"")),
        meta=lambda state: {"data": state},
        write_chunk=AsyncCallable(Ok(b"")),
        close=AsyncCallable(Ok(b"")),
    )
    assert is_async_writer(writer)
    assert not is_async_writer(TmpFileWriter())
    assert make_spec(writer, None).asynchronous
    uploads = Uploads(UploadConfig("d", accept="any", writer=lambda n, e: (writer, None)))
    uploads.select([ClientFile("a", 0)])
    async with uploads.upload_async("0") as run:
        assert run.driver.upload is not None
    assert uploads.entry("0").done


@pytest.mark.anyio
async def test_the_adapters_make_a_sync_writer_fit_async_uploader() -> None:
    adapters: list[Callable[[Any], ThreadedWriter[None, None] | InlineWriter[None, None]]]
    adapters = [ThreadedWriter, InlineWriter]
    for adapter in adapters:
        calls: list[str] = []
        writer = make_writer(dict.fromkeys(CALLBACKS, "sync"), calls)
        up = AsyncUploader(adapter(writer), None)
        assert calls == []
        async with up:
            await up.send(Chunk(b"abc"))
            await up.send(Done())
        assert calls == ["init", "write_chunk", "close"]
        assert up.meta() == {}
        assert calls == ["init", "write_chunk", "close", "meta"]


def test_the_shipped_writers_fit_uploader() -> None:
    Uploader(TmpFileWriter(), TmpFileOpts())
    Uploader(EchoWriter(), EchoOpts(level="debug"))
