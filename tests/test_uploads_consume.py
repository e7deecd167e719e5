"""Consuming completed entries: meta to a function, postpone, refusal while in progress."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import pytest

from uploadwriter import (
    Chunk,
    ClientFile,
    EntryInProgress,
    Postpone,
    UnknownEntry,
    UploadConfig,
    UploadEntry,
    UploadFailed,
    Uploads,
    WriterFailure,
)

from .uploads_support import (
    AsyncSlowWriter,
    FlakyOpts,
    MemoryLikeWriter,
    files_in,
    flaky_factory,
)


def uploaded(tmp_path: Path, *names: str, **options: Any) -> Uploads:
    """An Uploads whose entries (one per name, content = the name) are all uploaded."""
    config = UploadConfig(
        "docs", accept="any", max_entries=10, writer=flaky_factory(tmp_path), **options
    )
    uploads = Uploads(config)
    uploads.select([ClientFile(name, len(name)) for name in names])
    for entry in uploads.entries:
        with uploads.upload(entry.ref) as up:
            up.send(Chunk(entry.client_name.encode()))
    return uploads


def read(meta: Mapping[str, object], entry: UploadEntry) -> bytes:
    return Path(str(meta["path"])).read_bytes()


def test_consume_hands_meta_and_entry_and_removes_the_temp_files(tmp_path: Path) -> None:
    uploads = uploaded(tmp_path, "one", "three")
    assert len(files_in(tmp_path)) == 2
    seen: list[tuple[str, str]] = []

    def fn(meta: Mapping[str, object], entry: UploadEntry) -> bytes:
        seen.append((entry.client_name, Path(str(meta["path"])).parent.name))
        assert entry.done
        return read(meta, entry)

    assert uploads.consume_uploaded_entries(fn) == [b"one", b"three"]
    assert seen == [("one", tmp_path.name), ("three", tmp_path.name)]
    assert uploads.entries == ()
    assert files_in(tmp_path) == []
    assert uploads.consume_uploaded_entries(fn) == []  # nothing left


def test_a_file_moved_away_by_the_function_is_kept(tmp_path: Path) -> None:
    keep = tmp_path / "keep"
    keep.mkdir()
    uploads = uploaded(tmp_path, "a.txt")

    def move(meta: Mapping[str, object], entry: UploadEntry) -> Path:
        return Path(shutil.move(str(meta["path"]), keep / entry.client_name))

    (dest,) = uploads.consume_uploaded_entries(move)
    assert dest.read_bytes() == b"a.txt"
    assert files_in(tmp_path) == ["keep"]


def test_postpone_keeps_the_entry_file_and_state(tmp_path: Path) -> None:
    uploads = uploaded(tmp_path, "abc")
    metas: list[Mapping[str, object]] = []

    def later(meta: Mapping[str, object], entry: UploadEntry) -> Postpone[str]:
        metas.append(meta)
        return Postpone("later")

    assert uploads.consume_uploaded_entry("0", later) == "later"
    assert uploads.consume_uploaded_entries(later) == ["later"]
    assert [e.ref for e in uploads.entries] == ["0"]
    assert len(files_in(tmp_path)) == 1
    assert metas[0] == metas[1]
    assert metas[0] is not metas[1]  # meta is computed again each time
    assert uploads.consumed == 0
    assert uploads.consume_uploaded_entry("0", read) == b"abc"
    assert uploads.entries == ()
    assert files_in(tmp_path) == []
    assert uploads.consumed == 1


def test_a_raising_function_still_consumes_and_the_error_propagates(tmp_path: Path) -> None:
    uploads = uploaded(tmp_path, "a", "b", "c")
    calls: list[str] = []

    def fn(meta: Mapping[str, object], entry: UploadEntry) -> str:
        calls.append(entry.ref)
        if entry.ref == "1":
            raise OSError("storage down")
        return entry.ref

    with pytest.raises(OSError, match="storage down"):
        uploads.consume_uploaded_entries(fn)
    assert calls == ["0", "1"]
    assert [e.ref for e in uploads.entries] == ["2"]  # 0 and 1 consumed, 2 untouched
    assert len(files_in(tmp_path)) == 1
    assert uploads.consumed == 2

    def refuse(meta: Mapping[str, object], entry: UploadEntry) -> str:
        raise ValueError("nope")

    with pytest.raises(ValueError, match="nope"):
        uploads.consume_uploaded_entry("2", refuse)
    assert uploads.entries == ()
    assert files_in(tmp_path) == []


def test_consume_refuses_while_an_entry_is_in_progress(tmp_path: Path) -> None:
    config = UploadConfig("docs", accept="any", max_entries=5, writer=flaky_factory(tmp_path))
    uploads = Uploads(config)
    uploads.select([ClientFile("a", 1), ClientFile("b", 2), ClientFile("c", 3)])
    with uploads.upload("0") as up:
        up.send(Chunk(b"a"))
    with uploads.upload("1") as up:
        up.send(Chunk(b"b"))  # half way
        with pytest.raises(EntryInProgress, match=r"while '1', '2' are still in progress") as info:
            uploads.consume_uploaded_entries(read)
        assert info.value.refs == ("1", "2")
        with pytest.raises(EntryInProgress, match=r"while '1' is still in progress"):
            uploads.consume_uploaded_entry("1", read)
        up.send(Chunk(b"b"))
    assert [e.ref for e in uploads.entries] == ["0", "1", "2"]  # nothing was consumed
    assert len(files_in(tmp_path)) == 2
    uploads.cancel("2")
    assert uploads.consume_uploaded_entries(read) == [b"a", b"bb"]


def test_entries_with_errors_are_left_for_the_application(tmp_path: Path) -> None:
    config = UploadConfig("docs", accept=[".txt"], max_entries=5, writer=flaky_factory(tmp_path))
    uploads = Uploads(config)
    uploads.select([ClientFile("ok.txt", 1), ClientFile("x.gif", 1), ClientFile("bad", 1)])
    with uploads.upload("0") as up:
        up.send(Chunk(b"a"))
    assert uploads.consume_uploaded_entries(read) == [b"a"]
    assert [e.error_codes for e in uploads.entries] == [("not_accepted",), ("not_accepted",)]
    with pytest.raises(UploadFailed, match=r"entry '1' has errors \('not_accepted',\)"):
        uploads.consume_uploaded_entry("1", read)


def test_a_failed_upload_has_nothing_to_consume(tmp_path: Path) -> None:
    fails = {"bad": FlakyOpts("", "write")}
    uploads = Uploads(UploadConfig("d", accept="any", writer=flaky_factory(tmp_path, fails)))
    uploads.select([ClientFile("bad", 2)])
    with pytest.raises(WriterFailure), uploads.upload("0") as up:
        up.send(Chunk(b"ab"))
    with pytest.raises(UploadFailed, match="writer_failure") as info:
        uploads.consume_uploaded_entry("0", read)
    assert isinstance(info.value.failure, WriterFailure)
    assert uploads.consume_uploaded_entries(read) == []  # skipped, not refused
    assert uploads.entry("0").error_codes == ("writer_failure",)


def test_consume_unknown_entry(tmp_path: Path) -> None:
    uploads = uploaded(tmp_path, "a")
    with pytest.raises(UnknownEntry):
        uploads.consume_uploaded_entry("nope", read)


def test_files_of_other_writers_are_not_removed(tmp_path: Path) -> None:
    # Only a writer's own discard hook releases what it made; a writer without
    # one, whose meta names a path the application keeps, finds it still there.
    fails = {"kept": FlakyOpts("")}  # FlakyWriter: meta has a path, state is not TmpFileState
    uploads = Uploads(UploadConfig("d", accept="any", writer=flaky_factory(tmp_path, fails)))
    uploads.select([ClientFile("kept", 2)])
    with uploads.upload("0") as up:
        up.send(Chunk(b"ab"))
    (path,) = uploads.consume_uploaded_entries(lambda meta, entry: Path(str(meta["path"])))
    assert path.read_bytes() == b"ab"


class DiscardCounting(MemoryLikeWriter):
    """A writer with the optional discard hook: records what it was asked to release."""

    def __init__(self) -> None:
        self.discarded: list[bytes] = []

    def discard(self, state: bytes) -> None:
        self.discarded.append(state)


@pytest.mark.parametrize("then", ["consume", "cancel"])
def test_the_writers_discard_hook_releases_a_completed_upload(then: str) -> None:
    # Consuming a completed entry, or cancelling it, hands its final state to
    # the writer's discard hook, once; a failed or cancelled-while-open upload
    # has nothing to release.
    writer = DiscardCounting()
    uploads = Uploads(
        UploadConfig("d", accept="any", max_entries=3, writer=lambda n, e: (writer, None))
    )
    uploads.select([ClientFile("a", 2), ClientFile("b", 2), ClientFile("c", 2)])
    with uploads.upload("0") as up:
        up.send(Chunk(b"ab"))
    with uploads.upload("1") as up:
        up.send(Chunk(b"x"))  # left open: cancelled on exit
    if then == "consume":
        uploads.cancel("1")
        uploads.cancel("2")
        assert uploads.consume_uploaded_entries(lambda meta, entry: meta["data"]) == [b"ab"]
    else:
        uploads.cancel("0")
        uploads.cancel("1")
    assert writer.discarded == [b"ab"]


def test_consume_an_async_upload() -> None:
    writer = AsyncSlowWriter()
    uploads = Uploads(UploadConfig("d", accept="any", writer=lambda n, e: (writer, None)))
    uploads.select([ClientFile("a", 2)])

    async def main() -> None:
        async with uploads.upload_async("0") as up:
            await up.send(Chunk(b"ab"))

    anyio.run(main)
    assert uploads.consume_uploaded_entries(lambda meta, entry: meta["data"]) == [b"ab"]


def test_consume_from_the_progress_callback_when_done(tmp_path: Path) -> None:
    # Phoenix's auto_upload idiom: handle_progress consumes the entry when done.
    results: list[bytes] = []

    def progress(name: str, entry: UploadEntry, uploads: Uploads) -> None:
        if entry.done:
            results.append(uploads.consume_uploaded_entry(entry.ref, read))

    config = UploadConfig(
        "d", accept="any", auto_upload=True, progress=progress, writer=flaky_factory(tmp_path)
    )
    uploads = Uploads(config)
    uploads.select([ClientFile("a", 3)])
    with uploads.upload("0") as up:
        up.send(Chunk(b"abc"))
    assert results == [b"abc"]
    assert uploads.entries == ()
    assert files_in(tmp_path) == []


def test_the_function_may_cancel_or_consume_entries_itself(tmp_path: Path) -> None:
    uploads = uploaded(tmp_path, "a", "b", "c")

    def fn(meta: Mapping[str, object], entry: UploadEntry) -> str:
        if entry.ref == "0":
            uploads.cancel("1")  # a later entry: it is not handed over
            uploads.consume_uploaded_entry("0", lambda m, e: None)  # this very one
        return entry.ref

    assert uploads.consume_uploaded_entries(fn) == ["0", "2"]
    assert uploads.entries == ()
    assert uploads.consumed == 2
    assert files_in(tmp_path) == []
