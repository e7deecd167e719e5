"""Selecting entries: Phoenix's validation order, refs, and the self-clearing too_many_files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from uploadwriter import (
    Chunk,
    ClientFile,
    EntryError,
    UnknownEntry,
    UploadConfig,
    UploadEntry,
    Uploads,
)

from .uploads_support import files_in, flaky_factory


def config_errors(uploads: Uploads) -> tuple[EntryError, ...]:
    # A function, so that mypy does not narrow uploads.errors after "== ()".
    return uploads.errors


def test_validation_order_size_then_accept_then_validator() -> None:
    seen: list[str] = []

    def validator(entry: UploadEntry) -> list[str]:
        seen.append(entry.client_name)
        return ["bad_name"] if "bad" in entry.client_name else []

    config = UploadConfig(
        "a", accept=[".jpg"], max_entries=10, max_file_size=100, validator=validator
    )
    uploads = Uploads(config)
    entries = uploads.select(
        [
            ClientFile("big.gif", 101, "image/gif"),  # too large and not accepted: too_large only
            ClientFile("small.gif", 100, "image/gif"),
            ClientFile("bad.jpg", 1, "image/jpeg"),
            ClientFile("good.jpg", 1, "image/jpeg"),
        ]
    )
    assert [e.error_codes for e in entries] == [
        ("too_large",),
        ("not_accepted",),
        ("bad_name",),
        (),
    ]
    assert [e.valid for e in entries] == [False, False, False, True]
    assert entries[0].errors[0].reason == 100  # the limit that was passed
    assert seen == ["bad.jpg", "good.jpg"]  # the validator sees accepted entries only
    assert uploads.entries == entries


@pytest.mark.parametrize(
    ("answer", "codes"),
    [
        (None, ()),
        ([], ()),
        ("too_wide", ("too_wide",)),
        (EntryError("dup", "x"), ("dup",)),
        (["a", EntryError("b")], ("a", "b")),
        (("a", "b"), ("a", "b")),
        (iter(["a"]), ("a",)),
    ],
)
def test_validator_answers(answer: Any, codes: tuple[str, ...]) -> None:
    uploads = Uploads(UploadConfig("a", accept="any", validator=lambda entry: answer))
    (entry,) = uploads.select([ClientFile("x", 1)])
    assert entry.error_codes == codes


@pytest.mark.parametrize("answer", [3, [""], [None], b"bytes", [1.5]])
def test_validator_must_answer_errors(answer: Any) -> None:
    uploads = Uploads(UploadConfig("a", accept="any", validator=lambda entry: answer))
    with pytest.raises(TypeError, match="validator must return None, an error code"):
        uploads.select([ClientFile("x", 1)])


def test_entry_fields_come_from_the_client() -> None:
    uploads = Uploads(UploadConfig("avatar", accept="any"))
    (entry,) = uploads.select([ClientFile("me.png", 12, "image/png", 1234, ref="r1")])
    assert entry.ref == "r1"
    assert entry.upload_config == "avatar"
    assert (entry.client_name, entry.client_size, entry.client_type) == ("me.png", 12, "image/png")
    assert entry.client_last_modified == 1234
    assert (entry.progress, entry.done, entry.cancelled, entry.started) == (0, False, False, False)
    assert len(entry.uuid) == 36
    assert uploads.entry("r1") is entry
    with pytest.raises(AttributeError):
        entry.progress = 5  # type: ignore[misc]


def test_refs_are_generated_and_client_refs_kept() -> None:
    uploads = Uploads(UploadConfig("a", accept="any", max_entries=10))
    entries = uploads.select([ClientFile("a", 1), ClientFile("b", 1, ref="1"), ClientFile("c", 1)])
    assert [e.ref for e in entries] == ["0", "1", "2"]
    assert len({e.uuid for e in entries}) == 3


def test_generated_refs_never_take_a_client_ref() -> None:
    uploads = Uploads(UploadConfig("a", accept="any", max_entries=10))
    entries = uploads.select([ClientFile("a", 1), ClientFile("b", 1, ref="0")])
    assert [(e.client_name, e.ref) for e in entries] == [("a", "1"), ("b", "0")]
    assert len(uploads.entries) == 2


def test_a_raising_validator_leaves_the_session_unchanged() -> None:
    def validator(entry: UploadEntry) -> None:
        if entry.client_name == "b":
            raise RuntimeError("validator bug")

    uploads = Uploads(UploadConfig("a", accept="any", validator=validator))
    (first,) = uploads.select([ClientFile("a", 1)])
    with pytest.raises(RuntimeError, match="validator bug"):
        uploads.select([ClientFile("b", 1)])  # would replace the sole entry
    assert uploads.entries == (first,)


def test_a_ref_already_selected_is_skipped() -> None:
    uploads = Uploads(UploadConfig("a", accept="any", max_entries=10))
    (first,) = uploads.select([ClientFile("a", 1, ref="x")])
    again = uploads.select([ClientFile("other", 2, ref="x"), ClientFile("b", 1, ref="y")])
    assert [e.ref for e in again] == ["y"]
    assert uploads.entry("x") is first


def test_two_files_with_one_ref_are_refused() -> None:
    uploads = Uploads(UploadConfig("a", accept="any", max_entries=10))
    with pytest.raises(ValueError, match="two selected files have the same ref 'x'"):
        uploads.select([ClientFile("a", 1, ref="x"), ClientFile("b", 1, ref="x")])
    assert uploads.entries == ()


@pytest.mark.parametrize(
    ("kwargs", "kind", "message"),
    [
        ({"name": 1, "size": 1}, TypeError, "name must be a string, not 1"),
        ({"name": "a", "size": -1}, ValueError, "size must be 0 or more bytes, not -1"),
        ({"name": "a", "size": "1"}, TypeError, "size must be a whole number of bytes"),
        ({"name": "a", "size": True}, TypeError, "size must be a whole number of bytes"),
        ({"name": "a", "size": 1, "type": None}, TypeError, "type must be a string"),
        ({"name": "a", "size": 1, "last_modified": 1.5}, TypeError, "last_modified must be"),
        ({"name": "a", "size": 1, "ref": 3}, TypeError, "ref must be a string or None"),
        ({"name": "a", "size": 1, "ref": ""}, ValueError, "ref must be a non-empty string"),
    ],
)
def test_client_file_is_checked(
    kwargs: dict[str, Any], kind: type[Exception], message: str
) -> None:
    with pytest.raises(kind, match=message):
        ClientFile(**kwargs)


def test_select_takes_client_files_only() -> None:
    uploads = Uploads(UploadConfig("a", accept="any"))
    with pytest.raises(TypeError, match="select takes ClientFile values, not"):
        uploads.select([{"name": "a", "size": 1}])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="Uploads needs an UploadConfig"):
        Uploads("avatar")  # type: ignore[arg-type]


def test_unknown_entry() -> None:
    uploads = Uploads(UploadConfig("avatar", accept="any"))
    with pytest.raises(UnknownEntry, match="upload 'avatar' has no entry with ref '9'") as info:
        uploads.entry("9")
    assert isinstance(info.value, LookupError)
    assert info.value.ref == "9"


# --- too_many_files ------------------------------------------------------------


def test_too_many_files_clears_itself_when_the_count_fits() -> None:
    uploads = Uploads(UploadConfig("a", accept="any", max_entries=2))
    uploads.select([ClientFile("a", 1), ClientFile("b", 1)])
    assert uploads.errors == ()
    uploads.select([ClientFile("c", 1)])
    (error,) = config_errors(uploads)
    assert (error.code, error.reason) == ("too_many_files", 3)
    # Entries stay individually valid: the error is the upload's, as in Phoenix.
    assert all(e.valid for e in uploads.entries)
    uploads.cancel("1")
    assert uploads.errors == ()


def test_too_many_files_in_one_batch() -> None:
    uploads = Uploads(UploadConfig("a", accept="any", max_entries=2))
    uploads.select([ClientFile("a", 1), ClientFile("b", 1), ClientFile("c", 1)])
    assert [e.code for e in config_errors(uploads)] == ["too_many_files"]


@pytest.mark.parametrize(
    ("mode", "after_consume"), [("selected", ()), ("total", ("too_many_files",))]
)
def test_max_entries_mode(tmp_path: Path, mode: Any, after_consume: tuple[str, ...]) -> None:
    config = UploadConfig(
        "a", accept="any", max_entries=2, max_entries_mode=mode, writer=flaky_factory(tmp_path)
    )
    uploads = Uploads(config)
    uploads.select([ClientFile("a", 1), ClientFile("b", 1)])
    with uploads.upload("0") as up:
        up.send(Chunk(b"a"))
    with uploads.upload("1") as up:
        up.send(Chunk(b"b"))
    assert uploads.consume_uploaded_entries(lambda meta, entry: entry.ref) == ["0", "1"]
    assert uploads.consumed == 2
    uploads.select([ClientFile("c", 1)])
    # "selected" counts the entries there now (1); "total" counts the consumed too (3).
    assert tuple(e.code for e in uploads.errors) == after_consume
    # Cancelling brings "total" back under the limit too.
    uploads.cancel("2")
    assert uploads.errors == ()
    assert files_in(tmp_path) == []


def test_one_entry_upload_replaces_its_sole_entry(tmp_path: Path) -> None:
    uploads = Uploads(UploadConfig("avatar", accept="any", writer=flaky_factory(tmp_path)))
    uploads.select([ClientFile("first.png", 1)])
    with uploads.upload("0") as up:
        up.send(Chunk(b"a"))
    assert len(files_in(tmp_path)) == 1
    (new,) = uploads.select([ClientFile("second.png", 1)])
    assert uploads.entries == (new,)
    assert files_in(tmp_path) == []  # the replaced entry was cancelled: its file removed
    assert uploads.errors == ()
    # Two at once are not a replacement: too many files.
    uploads.select([ClientFile("x", 1), ClientFile("y", 1)])
    assert [e.code for e in config_errors(uploads)] == ["too_many_files"]


def test_uploaded_entries_splits_done_and_in_progress(tmp_path: Path) -> None:
    uploads = Uploads(
        UploadConfig("a", accept=[".txt"], max_entries=3, writer=flaky_factory(tmp_path))
    )
    uploads.select([ClientFile("a.txt", 1), ClientFile("b.txt", 1), ClientFile("c.gif", 1)])
    with uploads.upload("0") as up:
        up.send(Chunk(b"a"))
    done, in_progress = uploads.uploaded_entries()
    assert [e.ref for e in done] == ["0"]
    assert [e.ref for e in in_progress] == ["1"]  # the invalid one is neither
    assert repr(uploads) == "<Uploads 'a' entries=3>"
