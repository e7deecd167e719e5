"""The store of ``uploadwriter serve``: its writer, its records, the WebSocket channel's seam."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import cast

import pytest

from uploadwriter import Cancel, Chunk, ClientFile, Done, Ok, UploadConfig, Uploads
from uploadwriter.web._store import Store, stored

from .http_support import leftovers


def run(store: Store, data: bytes) -> tuple[dict[str, object], object]:
    """Run one upload through the store's writer (synchronously): its meta and final state."""
    writer, opts = store.writer()
    sync = writer.writer
    answer = sync.init(opts)
    assert isinstance(answer, Ok)
    state = answer.state
    for start in range(0, len(data), 1000):
        state = sync.write_chunk(data[start : start + 1000], state).state
    state = sync.close(state, Done()).state
    return dict(sync.meta(state)), state


def write(store: Store, data: bytes) -> dict[str, object]:
    """Run one upload through the store's writer; return its meta."""
    return run(store, data)[0]


def test_the_writer_hashes_what_it_writes(tmp_path: Path) -> None:
    store = Store(tmp_path)
    data = os.urandom(5000)
    path, sha256 = stored(write(store, data))
    assert sha256 == hashlib.sha256(data).hexdigest()
    assert Path(path).read_bytes() == data
    assert Path(path).parent == tmp_path / ".uploadwriter" / "incoming"


def test_kept_uploads_are_recorded_and_listed(tmp_path: Path) -> None:
    store = Store(tmp_path)
    first = store.keep(
        write(store, b"abc"), client_name="../a.TXT", content_type="text/plain", via="raw"
    )
    second = store.keep(write(store, b""), client_name="noext", content_type="", via="multipart")
    assert first["client_name"] == "a.TXT"
    assert Path(first["path"]).name == first["id"] + ".txt"
    assert Path(first["path"]).read_bytes() == b"abc"
    assert (first["size"], first["sha256"]) == (3, hashlib.sha256(b"abc").hexdigest())
    assert Path(second["path"]).name == second["id"]
    assert store.uploads() == [first, second]
    assert Store(tmp_path).uploads() == [first, second]  # persisted
    assert leftovers(tmp_path) == []


def test_keep_all_is_all_or_nothing(tmp_path: Path) -> None:
    from uploadwriter.web import ReceivedFile

    store = Store(tmp_path)
    writer, _ = store.writer()
    good = ReceivedFile("a", "", "f", 1, write(store, b"a"))
    gone = {"writers": ({"path": str(tmp_path / "gone")}, {"hexdigest": ""})}
    missing = ReceivedFile("b", "", "f", 1, gone)
    meta, state = run(store, b"c")
    later = ReceivedFile("c", "", "f", 1, meta, writer=writer, state=state)
    with pytest.raises(FileNotFoundError):
        store.keep_all([good, missing, later], via="multipart")
    assert store.uploads() == []
    # The first was kept, then undone; the last was never kept: discarded.
    assert leftovers(tmp_path) == []


def test_a_record_that_cannot_be_written_leaves_no_file(tmp_path: Path) -> None:
    store = Store(tmp_path)
    records = tmp_path / ".uploadwriter" / "records"
    records.rmdir()
    records.write_text("not a directory")
    with pytest.raises(NotADirectoryError):
        store.keep(write(store, b"x"), client_name="x", content_type="", via="raw")
    assert [p.name for p in tmp_path.iterdir()] == [".uploadwriter"]


def test_bad_records_are_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = Store(tmp_path)
    kept = store.keep(write(store, b"x"), client_name="x", content_type="", via="raw")
    records = tmp_path / ".uploadwriter" / "records"
    (records / "broken.json").write_text("{not json")
    (records / "list.json").write_text("[]")
    (records / "escape.json").write_text(
        json.dumps({**kept, "file": "../outside", "id": "z"}, default=str)
    )
    gone = store.keep(write(store, b"y"), client_name="y", content_type="", via="raw")
    Path(gone["path"]).unlink()  # removed by hand: no longer listed
    with caplog.at_level(logging.WARNING, logger="uploadwriter.web"):
        assert store.uploads() == [kept]
    assert "unreadable record" in caplog.text
    assert "invalid record" in caplog.text


def test_forget(tmp_path: Path) -> None:
    store = Store(tmp_path)
    kept = store.keep(write(store, b"x"), client_name="x", content_type="", via="raw")
    store.forget(kept["id"])
    store.forget("no-such-id")
    assert store.uploads() == []
    assert [p.name for p in tmp_path.iterdir()] == [".uploadwriter"]


@pytest.mark.anyio
async def test_the_websocket_channel_seam(tmp_path: Path) -> None:
    """What the WebSocket channel does with the store: Uploads with its writer, keep_entry."""
    store = Store(tmp_path)
    config = UploadConfig("files", accept="any", max_entries=2, writer=store.entry_writer)
    uploads = Uploads(config)
    done, cancelled = uploads.select([ClientFile("a.bin", 5), ClientFile("b.bin", 5)])
    async with uploads.upload_async(done.ref) as run:
        await run.send(Chunk(b"12345"))
    async with uploads.upload_async(cancelled.ref) as run:
        await run.send(Chunk(b"12"))
        await run.send(Cancel())
    (record,) = uploads.consume_uploaded_entries(store.keep_entry)
    assert (record["client_name"], record["size"], record["via"]) == ("a.bin", 5, "websocket")
    assert record["sha256"] == hashlib.sha256(b"12345").hexdigest()
    assert store.uploads() == [record]
    assert leftovers(tmp_path) == []


def test_a_record_that_cannot_be_written_leaves_no_file_either(tmp_path: Path) -> None:
    store = Store(tmp_path)
    not_text = cast(str, {"not", "text"})  # as a broken caller might pass
    meta = write(store, b"x")
    with pytest.raises(TypeError):
        store.keep(meta, client_name="x", content_type=not_text, via="raw")
    not_json = cast(str, {"a set"})
    with pytest.raises(TypeError, match="not JSON serializable"):
        store.keep(meta, client_name="x", content_type="", via=not_json)
    assert [p.name for p in tmp_path.iterdir()] == [".uploadwriter"]
    assert list((tmp_path / ".uploadwriter" / "records").iterdir()) == []


def test_a_content_type_is_kept_as_safe_text(tmp_path: Path) -> None:
    store = Store(tmp_path)
    record = store.keep(
        write(store, b"x"),
        client_name="x",
        content_type="text/\udc80plain\n" + "x" * 999,
        via="raw",
    )
    assert record["content_type"] == "text/plain" + "x" * 245
    assert store.uploads() == [record]
