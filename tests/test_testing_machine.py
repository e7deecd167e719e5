"""WriterMachine and writer_machine: stateful tests that pytest collects."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pytest
from hypothesis import Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from tests import zoo
from uploadwriter.testing import (
    InitRefused,
    WriterLawError,
    WriterMachine,
    files_in,
    open_fds,
    writer_machine,
)
from uploadwriter.writers import EchoOpts, EchoWriter, TmpFileOpts, TmpFileWriter

FEW = settings(max_examples=15, stateful_step_count=20, deadline=None, database=None)

# What users write: pytest collects these unittest.TestCase classes.
TestEchoWriter = writer_machine(EchoWriter, EchoOpts(level="debug"), settings=FEW).TestCase
TestAsyncMemoryWriter = writer_machine(
    zoo.AsyncMemoryWriter(), {}, invariant=zoo.total_matches, backend="trio", settings=FEW
).TestCase


class MemoryMachine(WriterMachine):
    """Subclassing works too: set the writer, opts and hooks as class attributes."""

    writer = zoo.MemoryWriter()
    opts = {}  # noqa: RUF012 - the opts, as the protocol takes them
    invariant = zoo.total_matches


MemoryMachine.TestCase.settings = FEW
TestMemoryMachine = MemoryMachine.TestCase


def test_the_factory_names_the_machine_after_the_writer() -> None:
    machine = writer_machine(zoo.MemoryWriter(), {})
    assert machine.__name__ == "MemoryWriterMachine"
    assert issubclass(machine, WriterMachine)
    assert TestEchoWriter.__name__ == "EchoWriterMachine.TestCase"


def test_tmpfile_writer_machine_leaves_nothing(tmp_path: Path) -> None:
    def remove(meta: Mapping[str, object]) -> None:
        os.remove(str(meta["path"]))

    machine = writer_machine(
        TmpFileWriter(),
        TmpFileOpts(dir=str(tmp_path)),
        leaks=lambda: files_in(tmp_path),
        consume=remove,
    )
    run_state_machine_as_test(machine, settings=FEW)
    assert files_in(tmp_path) == []


@pytest.mark.parametrize(
    ("writer", "hooks", "law"),
    [
        (zoo.MutatingWriter(), {}, "b"),
        (zoo.AsyncHashMutatingWriter(), {}, "b"),
        (zoo.ImpureMetaWriter(), {}, "c"),
        (zoo.OSErrorOnlyWriter(), {}, "e"),
        (
            zoo.AsyncFdLeakWriter(),
            {"leaks": open_fds},
            "f",
        ),
        (zoo.MiscountingWriter(), {"invariant": zoo.total_matches}, "g"),
    ],
    ids=lambda v: f"{type(v).__name__}" if not isinstance(v, (dict, str)) else "",
)
def test_a_broken_writer_fails_the_machine(
    writer: object, hooks: dict[str, object], law: str
) -> None:
    machine = writer_machine(writer, {}, **hooks)  # type: ignore[arg-type]
    # Finding the law is the point here, not shrinking the steps to it (slow).
    search = settings(FEW, max_examples=300, phases=[Phase.generate])
    with pytest.raises(WriterLawError) as info:
        run_state_machine_as_test(machine, settings=search)
    assert info.value.law == law
    assert "Event stream (of the failing upload, as sent" in str(info.value)


def test_a_writer_is_required() -> None:
    with pytest.raises(TypeError, match="WriterMachine has no writer"):
        WriterMachine()


def test_init_refusing_the_opts_fails_the_machine() -> None:
    with pytest.raises(InitRefused):
        run_state_machine_as_test(writer_machine(EchoWriter(), {}), settings=FEW)


def test_not_a_writer_is_refused_at_once() -> None:
    with pytest.raises(TypeError, match="not an upload writer"):
        writer_machine(zoo.NOT_A_WRITER, {})
