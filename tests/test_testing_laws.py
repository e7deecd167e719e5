"""The kit's parts: state snapshots (law b), the recording proxy, the leak helpers."""

from __future__ import annotations

import array
import collections
import dataclasses
import hashlib
import io
import math
import os
import subprocess
import sys
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests import zoo
from uploadwriter import Chunk, Done, Err, Ok
from uploadwriter.testing import (
    EventStream,
    InitRefused,
    WriterLawError,
    check_writer,
    files_in,
    open_fds,
    replay,
)
from uploadwriter.testing._laws import short
from uploadwriter.testing._recorder import AsyncProxy, Recorder
from uploadwriter.testing._snapshot import describe_change, fingerprint, render, shown
from uploadwriter.testing._spec import Hooks, make_spec

TESTS = frozenset({"tests"})


@dataclasses.dataclass
class Box:
    items: list[int]
    label: str = "box"


class Plain:
    def __init__(self) -> None:
        self.total = 0
        self.parts: dict[str, object] = {"a": [1]}


class Slotted:
    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 1


@attrs.define
class Mutable:
    value: Any


def mutations() -> list[tuple[str, Any, Any, str]]:
    """(name, value, mutate, where the change is said to be)."""

    def plain_total(p: Plain) -> None:
        p.total = 5

    def plain_part(p: Plain) -> None:
        p.parts["a"].append(2)  # type: ignore[attr-defined]

    def plain_key(p: Plain) -> None:
        p.parts["b"] = 1

    def plain_del(p: Plain) -> None:
        del p.parts["a"]

    return [
        ("dataclass", Box([1]), lambda b: b.items.append(2), "state.items: 1 items -> 2 items"),
        ("dataclass-item", Box([1]), lambda b: b.items.__setitem__(0, 9), "state.items[0]: 1 -> 9"),
        ("plain", Plain(), plain_total, "state.total: 0 -> 5"),
        ("plain-nested", Plain(), plain_part, "state.parts['a']: 1 items -> 2 items"),
        ("key-added", Plain(), plain_key, "state.parts['b']: added, 1"),
        ("key-removed", Plain(), plain_del, "state.parts['a']: removed"),
        ("slots", Slotted(), lambda s: setattr(s, "n", 2), "state.n: 1 -> 2"),
        ("set", {1}, lambda s: s.add(2), "state: <set> -> <set>"),
        ("deque", collections.deque([1]), lambda d: d.append(2), "state: 1 items -> 2 items"),
        ("array", array.array("b", [1]), lambda a: a.append(2), "state: 1 items -> 2 items"),
        ("bytearray", bytearray(b"a"), lambda b: b.extend(b"b"), "state: b'a' -> b'ab'"),
        (
            "hash",
            hashlib.sha256(),
            lambda h: h.update(b"x"),
            "state: <HASH with digest e3b0c44298fc1c14…> ->",
        ),
        ("shake", hashlib.shake_128(), lambda h: h.update(b"x"), "state: <HASHXOF with digest"),
        ("namespace", types.SimpleNamespace(a=1), lambda n: setattr(n, "a", 2), "state.a: 1 -> 2"),
        ("type-change", Mutable(1), lambda m: setattr(m, "value", "1"), "state.value: 1 -> '1'"),
        (
            "nan-to-number",
            Mutable(math.nan),
            lambda m: setattr(m, "value", 1.0),
            "state.value: nan -> 1.0",
        ),
        (
            "map-to-list",
            Mutable({}),
            lambda m: setattr(m, "value", []),
            "state.value: <dict of 0 keys> -> <list of 0 items>",
        ),
    ]


@pytest.mark.parametrize(
    ("value", "mutate", "where"), [m[1:] for m in mutations()], ids=[m[0] for m in mutations()]
)
def test_a_mutation_is_seen_and_located(value: Any, mutate: Any, where: str) -> None:
    before = fingerprint(value, TESTS)
    mutate(value)
    after = fingerprint(value, TESTS)
    assert before != after
    assert describe_change(before, after).startswith(where)


def test_a_snapshot_of_an_unchanged_value_is_equal() -> None:
    cyclic: list[Any] = [1]
    cyclic.append(cyclic)
    deep: list[Any] = []
    for _ in range(100):
        deep = [deep]
    released = memoryview(b"abc")
    released.release()
    values: list[Any] = [
        Box([1, 2]),
        Plain(),
        {"nan": math.nan, "when": 1.5},
        cyclic,
        deep,
        memoryview(b"x"),
        released,
        frozenset({1, 2}),
        hashlib.md5(),
        len,
        Path("/tmp"),
    ]
    for value in values:
        assert fingerprint(value, TESTS) == fingerprint(value, TESTS)


def test_resources_are_compared_by_identity_only() -> None:
    file = io.BytesIO()
    state = Mutable(file)
    before = fingerprint(state)
    file.write(b"data")  # writing to a referenced resource is not mutating the state
    assert fingerprint(state) == before
    state.value = io.BytesIO()
    assert fingerprint(state) != before


def test_objects_of_other_packages_are_compared_by_identity() -> None:
    plain = Plain()
    before = fingerprint(plain, frozenset({"somewhere_else"}))
    plain.total = 9
    assert fingerprint(plain, frozenset({"somewhere_else"})) == before


@given(
    st.recursive(
        st.none() | st.integers() | st.text() | st.floats(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
    )
)
def test_snapshots_of_equal_data_are_equal(value: object) -> None:
    assert fingerprint(value) == fingerprint(value)


def test_short_cuts_long_reprs() -> None:
    assert short("x" * 500, 20) == repr("x" * 500)[:19] + "…"
    assert short(1) == "1"


# --- the recording proxy ---------------------------------------------------------


def test_an_async_callback_that_returns_no_awaitable_is_law_a() -> None:
    spec = make_spec(zoo.AsyncMemoryWriter(), {}, Hooks())
    recorder = Recorder(spec)
    proxy = AsyncProxy(zoo.MemoryWriter(), recorder)  # sync callbacks behind an async face

    async def call() -> object:
        return await proxy.init({})

    answer = anyio.run(call)
    assert answer == Ok(zoo.Mem())
    assert recorder.broken is not None
    law, detail, _ = recorder.broken
    assert law == "a"
    assert "async init(opts) returned Ok(state=Mem(" in detail
    assert "not an awaitable" in detail


class AsyncBrokenMetaWriter(zoo.AsyncMemoryWriter):
    def meta(self, state: zoo.Mem) -> Mapping[str, object]:
        raise LookupError("no meta")


class AsyncRefusingWriter(zoo.AsyncMemoryWriter):
    async def init(self, opts: Any) -> Ok[zoo.Mem] | Err[None]:
        return Err("no thanks", None)


class RaisingEq(dict[str, object]):
    def __eq__(self, other: object) -> bool:
        raise RuntimeError("cannot compare")

    __hash__ = None


class RaisingEqMetaWriter(zoo.MemoryWriter):
    def meta(self, state: zoo.Mem) -> Mapping[str, object]:
        return RaisingEq(size=state.total)


def test_async_meta_raising_is_law_d() -> None:
    with pytest.raises(WriterLawError) as info:
        replay(AsyncBrokenMetaWriter(), {}, EventStream([Done()]))
    assert info.value.law == "d"
    assert isinstance(info.value.__cause__, LookupError)


def test_an_async_writer_refusing_its_opts() -> None:
    with pytest.raises(InitRefused, match="'no thanks'"):
        check_writer(AsyncRefusingWriter(), {})
    # Replaying one upload is fine: a refused init is allowed (L1).
    replay(AsyncRefusingWriter(), {}, EventStream([Chunk(b"x"), Done()]))
    replay(zoo.MemoryWriter(), {}, EventStream([Done()], expected_size=0))


def test_meta_that_cannot_be_compared_is_law_c() -> None:
    with pytest.raises(WriterLawError, match="then") as info:
        replay(RaisingEqMetaWriter(), {}, EventStream([Done()]))
    assert info.value.law == "c"


def test_a_long_call_log_is_cut() -> None:
    stream = EventStream([Chunk(b"a")] * 40 + [Done()])
    with pytest.raises(WriterLawError) as info:
        replay(zoo.MemoryWriter(), {}, stream, invariant=lambda s: s.total < 35)
    message = str(info.value)
    assert "calls not shown" in message
    assert message.count("write_chunk(<1 bytes>") < 30


# --- leak helpers -----------------------------------------------------------------


def test_open_fds_sees_a_new_descriptor(tmp_path: Path) -> None:
    before = open_fds()
    fd = os.open(tmp_path / "f", os.O_CREAT | os.O_WRONLY)
    try:
        new = [x for x in open_fds() if x not in before]
        assert new == [f"fd {fd} -> {tmp_path / 'f'}"]
    finally:
        os.close(fd)
    assert open_fds() == before


def test_files_in_lists_files_below(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b").write_bytes(b"")
    (tmp_path / "a").write_bytes(b"")
    assert files_in(tmp_path) == [str(tmp_path / "a"), str(tmp_path / "sub" / "b")]


def test_the_public_surface_is_what_all_says() -> None:
    from uploadwriter import testing

    public = {name for name in dir(testing) if not name.startswith("_")}
    assert public == set(testing.__all__)
    assert isinstance(testing.__all__, tuple)
    for name in set(testing.__all__) - {"LAWS", "CLOSE_PATHS"}:
        assert getattr(testing, name).__module__.startswith("uploadwriter.testing"), name
    assert sorted(testing.LAWS) == list("abcdefg")


def test_every_error_class_says_when_it_is_raised() -> None:
    for error in (WriterLawError, InitRefused):
        assert error.__doc__ is not None
        assert error.__doc__.startswith("Raised ")
    assert issubclass(WriterLawError, AssertionError)


# --- the report shows states as the calls saw and returned them (issue 10, item 8) ----------


class ReprListState:
    """A mutable state with a repr that shows its contents."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def __repr__(self) -> str:
        return f"ReprListState(chunks={self.chunks!r})"


class ReprMutatingWriter(zoo.MutatingWriter):
    def init(self, opts: Any) -> Any:
        return Ok(ReprListState())


def test_the_call_log_shows_each_state_as_it_was_then() -> None:
    with pytest.raises(WriterLawError) as info:
        replay(ReprMutatingWriter(), {}, EventStream([Chunk(b"abc"), Done()]))
    message = str(info.value)
    # init returned an empty list; write_chunk then appended to it.
    assert "    init({}) -> Ok(state=ReprListState(chunks=[]))\n" in message
    assert (
        "    write_chunk(<3 bytes>, ReprListState(chunks=[])) -> "
        "Ok(state=ReprListState(chunks=[b'abc']))\n"
    ) in message


def test_a_state_without_a_repr_is_shown_from_its_snapshot_once_it_changed() -> None:
    with pytest.raises(WriterLawError) as info:
        replay(zoo.MutatingWriter(), {}, EventStream([Chunk(b"abc"), Done()]))
    message = str(info.value)
    assert "    init({}) -> Ok(state=ListState(chunks=[]))\n" in message
    assert (
        "write_chunk(<3 bytes>, ListState(chunks=[])) -> Ok(state=<tests.zoo.ListState" in message
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Box([1, 2]), "Box(items=[1, 2], label='box')"),
        ({"a": (1,), "b": ()}, "{'a': (1,), 'b': ()}"),
        (collections.deque([1]), "deque([1])"),
        (frozenset({2, 1}), "frozenset({1, 2})"),
        (Mutable(math.nan), "Mutable(value=nan)"),
        (Mutable(hashlib.sha256()), "Mutable(value=<HASH with digest e3b0c44298fc1c14…>)"),
        (Mutable(io.BytesIO()), "Mutable(value=<BytesIO>)"),
        (collections.OrderedDict(a=1), "OrderedDict({'a': 1})"),
    ],
)
def test_a_snapshot_is_written_out_like_a_repr(value: object, text: str) -> None:
    assert render(fingerprint(value, TESTS)) == text


def test_a_large_snapshot_is_cut() -> None:
    text = render(fingerprint(list(range(10_000))), limit=50)
    assert len(text) < 80
    assert text.endswith("…]")
    assert shown([1, 2, 3], fingerprint([1]), TESTS, limit=4) == "[1]"
    assert shown(list(range(100)), fingerprint([0] * 100), TESTS, limit=10) == "[0, 0, 0,…"


# --- EventStream's failing write ----------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"fail_raises": True}, ValueError, "fail_raises=True needs fail_write_at"),
        (
            {"fail_write_at": 0, "fail_reason": "disk", "fail_raises": True},
            TypeError,
            "with fail_raises=True, fail_reason must be an exception to raise, not 'disk'",
        ),
        ({"fail_raises": 1}, TypeError, "fail_raises must be True or False, not 1"),
    ],
)
def test_a_raising_write_needs_an_exception_and_an_index(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        EventStream([Chunk(b"x")], **kwargs)


# --- without Hypothesis (issue 10, item 9) -----------------------------------------------


def test_importing_the_kit_without_hypothesis_says_what_to_install() -> None:
    code = (
        "import sys; sys.modules['hypothesis'] = None\n"
        "try:\n    import uploadwriter.testing\n"
        "except ImportError as exc:\n    print(type(exc).__name__, exc.name, exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.stdout.strip() == (
        "ModuleNotFoundError hypothesis uploadwriter.testing needs Hypothesis, which is not "
        "installed: pip install 'uploadwriter[testing]'"
    )


def test_another_missing_module_is_not_blamed_on_hypothesis() -> None:
    code = "import sys; sys.modules['hypothesis.strategies'] = None\nimport uploadwriter.testing\n"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert "pip install" not in result.stderr


def test_a_large_state_is_written_out_from_its_snapshot_not_repr() -> None:
    class Loud:
        def __repr__(self) -> str:
            raise AssertionError("repr of a large state")

    big = Mutable((bytes(10_000), Loud()))
    text = shown(big, fingerprint(big, TESTS), TESTS, limit=60)
    assert text.startswith("Mutable(value=(b'\\x00\\x00")
    assert len(text) == 60
    small = Mutable(1)
    assert shown(small, fingerprint(small, TESTS), TESTS, limit=60) == "Mutable(value=1)"


def test_a_snapshot_with_a_budget_stops_and_says_so() -> None:
    snapshot = fingerprint(list(range(1000)), budget=5)
    assert render(snapshot) == "[0, 1, 2, 3, …]"
    assert fingerprint(list(range(1000)), budget=5) == snapshot
    assert render(fingerprint(Box([1, 2, 3]), TESTS, budget=3)) == "Box(items=[1, …], …)"
    assert render(fingerprint({"a": 1, "b": 2}, budget=2)) == "{'a': 1, …}"
    assert render(fingerprint([1], budget=0)) == "…"


class KeepsOnDiscardWriter(zoo.ForgetsOnErrorWriter):
    def discard(self, state: zoo.FileState) -> None:
        pass  # the bug: the completed upload's file stays


def test_a_discard_hook_that_releases_nothing_is_law_f(tmp_path: Path) -> None:
    with pytest.raises(WriterLawError) as info:
        replay(
            KeepsOnDiscardWriter(),
            {"dir": str(tmp_path)},
            EventStream([Chunk(b"abc"), Done()]),
            leaks=lambda: files_in(tmp_path),
        )
    assert info.value.law == "f"
    message = str(info.value)
    assert "\n    discard(FileState(path=" in message
    assert ") -> None\n" in message
    assert "consume=" not in message  # the writer has a discard hook: no hint to add one


def test_no_event_loop_is_running_here() -> None:
    from uploadwriter.testing._check import _in_event_loop

    assert not _in_event_loop()
    saved = sys.modules.pop("trio", None)
    try:
        assert not _in_event_loop()
    finally:
        if saved is not None:
            sys.modules["trio"] = saved
