"""An entry's upload with either driver: progress, done, and every failure kept on the entry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from uploadwriter import (
    Cancel,
    Chunk,
    ChunkTimeout,
    ClientFile,
    Done,
    EntryRefused,
    FileTooLarge,
    IncompleteUpload,
    InitError,
    UnknownEntry,
    UploadClosed,
    UploadConfig,
    UploadEntry,
    Uploads,
    WriterFailure,
)
from uploadwriter.writers import TmpFileOpts, TmpFileWriter

from .uploads_support import (
    AsyncSlowWriter,
    Driver,
    FlakyOpts,
    files_in,
    flaky_factory,
    run_upload,
)

pytestmark = pytest.mark.anyio

DRIVERS = pytest.mark.parametrize("driver", ["sync", "async"])


class Recorder:
    """A progress callback that keeps what it was called with."""

    def __init__(self) -> None:
        self.calls: list[UploadEntry] = []
        self.names: set[str] = set()

    def __call__(self, name: str, entry: UploadEntry, uploads: Uploads) -> None:
        self.names.add(name)
        assert uploads.entry(entry.ref) == entry  # the session already holds the new value
        self.calls.append(entry)

    def progress(self) -> list[int]:
        return [entry.progress for entry in self.calls]


def make(
    tmp_path: Path, *, fails: dict[str, FlakyOpts] | None = None, **options: Any
) -> tuple[Uploads, Recorder, Any]:
    recorder = Recorder()
    factory = flaky_factory(tmp_path, fails)
    config = UploadConfig(
        "docs", progress=recorder, writer=factory, **{"accept": "any", "max_entries": 5, **options}
    )
    return Uploads(config), recorder, factory


@DRIVERS
async def test_complete_upload(tmp_path: Path, driver: Driver) -> None:
    uploads, recorder, factory = make(tmp_path)
    (entry,) = uploads.select([ClientFile("a.txt", 10, "text/plain", 1_700_000_000_000)])
    assert (entry.ref, entry.progress, entry.done, entry.started) == ("0", 0, False, False)
    assert entry.client_last_modified == 1_700_000_000_000
    events = [Chunk(b"abc"), Chunk(b"def"), Chunk(b"ghi"), Chunk(b"j")]
    await run_upload(uploads, entry.ref, events, driver)
    assert factory.calls == [("docs", "0")]  # once per entry, with the config's name
    assert recorder.progress() == [30, 60, 90, 100]
    assert [e.done for e in recorder.calls] == [False, False, False, True]
    assert recorder.names == {"docs"}
    final = uploads.entry("0")
    assert (final.progress, final.done, final.valid, final.started) == (100, True, True, True)
    assert final.uuid == entry.uuid
    (path,) = uploads.consume_uploaded_entries(lambda meta, e: Path(str(meta["path"])).read_bytes())
    assert path == b"abcdefghij"


@DRIVERS
async def test_progress_callback_runs_only_when_the_percent_changes(
    tmp_path: Path, driver: Driver
) -> None:
    uploads, recorder, _ = make(tmp_path)
    uploads.select([ClientFile("a.bin", 300)])
    await run_upload(uploads, "0", [Chunk(b"x")] * 300, driver)
    progress = recorder.progress()
    assert progress == sorted(set(progress))  # strictly increasing: no call without a change
    assert progress[-1] == 100
    assert 99 in progress
    assert len(progress) == 100  # 1..99, then 100


@DRIVERS
async def test_done_without_expected_size_reached_is_incomplete(
    tmp_path: Path, driver: Driver
) -> None:
    uploads, recorder, _ = make(tmp_path)
    uploads.select([ClientFile("a.bin", 4)])
    with pytest.raises(IncompleteUpload):
        await run_upload(uploads, "0", [Chunk(b"ab"), Done()], driver)
    entry = uploads.entry("0")
    assert entry.error_codes == ("incomplete",)
    assert isinstance(entry.errors[0].reason, IncompleteUpload)
    assert (entry.done, entry.progress) == (False, 50)
    assert recorder.calls[-1] == entry
    assert files_in(tmp_path) == []


@DRIVERS
async def test_zero_byte_entry_is_done_at_once(tmp_path: Path, driver: Driver) -> None:
    uploads, recorder, _ = make(tmp_path)
    uploads.select([ClientFile("empty", 0)])
    await run_upload(uploads, "0", [], driver)
    assert recorder.progress() == [100]
    assert uploads.entry("0").done


@DRIVERS
async def test_init_failure_is_kept_on_the_entry(tmp_path: Path, driver: Driver) -> None:
    uploads, recorder, factory = make(tmp_path, fails={"a.bin": FlakyOpts("", "init")})
    uploads.select([ClientFile("a.bin", 4)])
    with pytest.raises(InitError) as info:
        await run_upload(uploads, "0", [Chunk(b"abcd")], driver)
    entry = uploads.entry("0")
    assert entry.error_codes == ("writer_failure",)
    assert entry.errors[0].reason is info.value
    assert not entry.valid
    assert recorder.calls == [entry]  # the progress callback ran for the error
    # The entry cannot be started again: the factory was called once.
    with pytest.raises(EntryRefused, match="has errors"):
        await run_upload(uploads, "0", [], driver)
    assert len(factory.calls) == 1


@DRIVERS
async def test_write_failure_is_kept_on_the_entry(tmp_path: Path, driver: Driver) -> None:
    uploads, recorder, _ = make(tmp_path, fails={"a.bin": FlakyOpts("", "write", at=1)})
    uploads.select([ClientFile("a.bin", 6)])
    with pytest.raises(WriterFailure, match="disk full") as info:
        await run_upload(uploads, "0", [Chunk(b"ab"), Chunk(b"cd"), Chunk(b"ef")], driver)
    entry = uploads.entry("0")
    assert entry.error_codes == ("writer_failure",)
    assert entry.errors[0].reason is info.value
    assert recorder.progress() == [33, 33]  # the chunk, then the error
    assert recorder.calls[-1].errors
    assert files_in(tmp_path) == []


@DRIVERS
async def test_close_failure_at_done_is_kept_and_progress_stays_below_100(
    tmp_path: Path, driver: Driver
) -> None:
    uploads, recorder, _ = make(tmp_path, fails={"a.bin": FlakyOpts("", "close")})
    uploads.select([ClientFile("a.bin", 4)])
    with pytest.raises(WriterFailure, match="close failed"):
        await run_upload(uploads, "0", [Chunk(b"abcd")], driver)
    entry = uploads.entry("0")
    assert entry.error_codes == ("writer_failure",)
    assert (entry.done, entry.progress) == (False, 99)
    assert 100 not in recorder.progress()


@DRIVERS
async def test_too_large_stream_is_kept_on_the_entry(tmp_path: Path, driver: Driver) -> None:
    uploads, recorder, _ = make(tmp_path)
    uploads.select([ClientFile("a.bin", 4)])  # the client said 4 bytes...
    with pytest.raises(FileTooLarge) as info:
        await run_upload(uploads, "0", [Chunk(b"abc"), Chunk(b"de")], driver)  # ...sends 5
    entry = uploads.entry("0")
    assert entry.error_codes == ("too_large",)
    assert entry.errors[0].reason is info.value
    assert info.value.limit == 4
    assert recorder.calls[-1] == entry
    assert files_in(tmp_path) == []


@DRIVERS
async def test_max_file_size_is_the_stream_limit(tmp_path: Path, driver: Driver) -> None:
    uploads, _, _ = make(tmp_path, max_file_size=5)
    uploads.select([ClientFile("a.bin", 5)])
    with pytest.raises(UploadClosed):
        await run_upload(uploads, "0", [Chunk(b"abcde"), Chunk(b"f")], driver)
    assert uploads.entry("0").done  # the extra chunk was refused, the upload had completed


@DRIVERS
async def test_leaving_the_block_early_is_kept_as_incomplete(
    tmp_path: Path, driver: Driver
) -> None:
    uploads, recorder, _ = make(tmp_path)
    uploads.select([ClientFile("a.bin", 4)])
    boom = RuntimeError("client went away")

    async def receive() -> None:
        if driver == "sync":
            with uploads.upload("0") as up:
                up.send(Chunk(b"ab"))
                raise boom
        async with uploads.upload_async("0") as aup:
            await aup.send(Chunk(b"ab"))
            raise boom

    with pytest.raises(RuntimeError) as info:
        await receive()
    assert info.value is boom
    entry = uploads.entry("0")
    assert entry.error_codes == ("incomplete",)
    assert entry.errors[0].reason is boom
    assert recorder.calls[-1] == entry
    assert files_in(tmp_path) == []


@DRIVERS
async def test_leaving_the_block_quietly_before_done_is_incomplete(
    tmp_path: Path, driver: Driver
) -> None:
    uploads, _, _ = make(tmp_path)
    uploads.select([ClientFile("a.bin", 4)])
    await run_upload(uploads, "0", [Chunk(b"a")], driver)
    entry = uploads.entry("0")
    assert entry.errors == (entry.errors[0],)
    assert entry.errors[0].code == "incomplete"
    assert entry.errors[0].reason is None


async def test_chunk_timeout_is_kept_on_the_entry(tmp_path: Path) -> None:
    uploads, recorder, _ = make(tmp_path, chunk_timeout=0.05)
    uploads.select([ClientFile("a.bin", 4)])

    async def receive() -> None:
        async with uploads.upload_async("0") as up:
            await up.send(Chunk(b"ab"))
            await anyio.sleep(5)  # the client stalls; the timeout ends this well before

    with pytest.raises(ChunkTimeout):
        await receive()
    entry = uploads.entry("0")
    assert entry.error_codes == ("chunk_timeout",)
    assert isinstance(entry.errors[0].reason, ChunkTimeout)
    assert recorder.calls[-1] == entry
    assert files_in(tmp_path) == []


async def test_chunk_timeout_during_a_slow_write_with_an_async_writer(tmp_path: Path) -> None:
    writer = AsyncSlowWriter(delay=5)
    config = UploadConfig("a", accept="any", chunk_timeout=0.05, writer=lambda n, e: (writer, None))
    uploads = Uploads(config)
    uploads.select([ClientFile("a.bin", 4)])
    with pytest.raises(ChunkTimeout):
        async with uploads.upload_async("0") as up:
            await up.send(Chunk(b"ab"))
    assert uploads.entry("0").error_codes == ("chunk_timeout",)
    assert writer.closed == [Cancel()]


async def test_a_native_async_writer_is_used_as_is() -> None:
    writer = AsyncSlowWriter()
    uploads = Uploads(UploadConfig("a", accept="any", writer=lambda n, e: (writer, None)))
    uploads.select([ClientFile("a.bin", 3)])
    await run_upload(uploads, "0", [Chunk(b"abc")], "async")
    assert writer.closed == [Done()]
    assert uploads.consume_uploaded_entry("0", lambda meta, e: meta["data"]) == b"abc"


async def test_the_sync_driver_refuses_an_async_writer() -> None:
    uploads = Uploads(
        UploadConfig("a", accept="any", writer=lambda n, e: (AsyncSlowWriter(), None))
    )
    uploads.select([ClientFile("a.bin", 3)])
    with pytest.raises(
        TypeError, match="not an upload writer for Uploader: init must be a plain 'def'"
    ):
        await run_upload(uploads, "0", [], "sync")
    assert not uploads.entry("0").started  # refused before it started: it may be retried
    await run_upload(uploads, "0", [Chunk(b"abc")], "async")
    assert uploads.entry("0").done


@DRIVERS
async def test_factory_must_return_writer_and_opts(driver: Driver) -> None:
    config = UploadConfig("avatar", accept="any", writer=lambda n, e: TmpFileWriter())  # type: ignore[arg-type, return-value]
    uploads = Uploads(config)
    uploads.select([ClientFile("a.bin", 3)])
    with pytest.raises(
        TypeError, match=r"writer factory of upload 'avatar' must return a \(writer"
    ):
        await run_upload(uploads, "0", [], driver)
    assert not uploads.entry("0").started  # the upload did not start


@DRIVERS
async def test_refusals_to_start(tmp_path: Path, driver: Driver) -> None:
    uploads, _, factory = make(tmp_path, max_entries=2, accept=[".txt"])
    uploads.select([ClientFile("a.txt", 1), ClientFile("b.gif", 1, "image/gif")])
    with pytest.raises(
        EntryRefused, match=r"entry '1' cannot be uploaded: it has errors \('not_accepted',\)"
    ):
        await run_upload(uploads, "1", [], driver)
    with pytest.raises(UnknownEntry, match="upload 'docs' has no entry with ref 'x'"):
        await run_upload(uploads, "x", [], driver)
    uploads.select([ClientFile("c.txt", 1)])
    with pytest.raises(EntryRefused, match=r"too_many_files \(3 entries counted, max_entries=2\)"):
        await run_upload(uploads, "0", [], driver)
    uploads.cancel("1")
    await run_upload(uploads, "0", [Chunk(b"a")], driver)
    with pytest.raises(EntryRefused, match="already started"):
        await run_upload(uploads, "0", [], driver)
    assert factory.calls == [("docs", "0")]


async def test_a_handle_runs_once_and_must_be_entered(tmp_path: Path) -> None:
    uploads, _, _ = make(tmp_path)
    uploads.select([ClientFile("a", 1), ClientFile("b", 1)])
    handle = uploads.upload("0")
    with pytest.raises(EntryRefused, match="enter the upload's with block first"):
        handle.send(Chunk(b"a"))
    with handle:
        handle.send(Chunk(b"a"))
    with pytest.raises(EntryRefused, match="entered before"), handle:
        pass  # pragma: no cover
    ahandle = uploads.upload_async("1")
    with pytest.raises(EntryRefused, match="async with block first"):
        await ahandle.send(Chunk(b"a"))
    async with ahandle:
        await ahandle.send(Chunk(b"a"))
        assert ahandle.entry.done
    with pytest.raises(EntryRefused, match="entered before"):
        async with ahandle:
            pass  # pragma: no cover
    assert "EntryRun '0'" in repr(handle)
    assert "AsyncEntryRun '1'" in repr(ahandle)


# --- cancel ------------------------------------------------------------------


@DRIVERS
async def test_cancel_event_drops_the_entry_and_closes_the_writer(
    tmp_path: Path, driver: Driver
) -> None:
    uploads, recorder, _ = make(tmp_path)
    uploads.select([ClientFile("a.bin", 4)])
    await run_upload(uploads, "0", [Chunk(b"ab"), Cancel(), Cancel()], driver)
    assert uploads.entries == ()
    assert files_in(tmp_path) == []
    assert recorder.progress() == [50]  # no error reported for a cancel: the entry is gone


async def test_cancel_from_the_progress_callback_closes_a_sync_upload_at_once(
    tmp_path: Path,
) -> None:
    def progress(name: str, entry: UploadEntry, uploads: Uploads) -> None:
        if entry.progress >= 50:
            cancelled.append(uploads.cancel(entry.ref))

    cancelled: list[UploadEntry] = []
    config = UploadConfig(
        "a",
        accept="any",
        progress=progress,
        writer=lambda n, e: (TmpFileWriter(), TmpFileOpts(dir=tmp_path)),
    )
    uploads = Uploads(config)
    uploads.select([ClientFile("a.bin", 4)])
    with uploads.upload("0") as up:
        up.send(Chunk(b"ab"))
        assert files_in(tmp_path) == []  # closed with Cancel() already
        with pytest.raises(UploadClosed):
            up.send(Chunk(b"cd"))
    (entry,) = cancelled
    assert entry.cancelled
    assert entry.progress == 50
    assert uploads.entries == ()


async def test_cancel_from_another_task_ends_the_async_block_quietly(tmp_path: Path) -> None:
    uploads, _, _ = make(tmp_path)
    uploads.select([ClientFile("a.bin", 4)])
    reached_end = False
    started = anyio.Event()

    async def receive() -> None:
        nonlocal reached_end
        async with uploads.upload_async("0") as up:
            await up.send(Chunk(b"ab"))
            started.set()
            await anyio.sleep(5)  # waiting for the client's next chunk
            reached_end = True  # pragma: no cover
        assert files_in(tmp_path) == []

    with anyio.fail_after(3):
        async with anyio.create_task_group() as tg:
            tg.start_soon(receive)
            await started.wait()
            assert len(files_in(tmp_path)) == 1
            entry = uploads.cancel("0")
    assert entry.cancelled
    assert not reached_end
    assert uploads.entries == ()
    assert files_in(tmp_path) == []


async def test_cancel_during_an_async_init_ends_the_block_at_once(tmp_path: Path) -> None:
    gate = anyio.Event()

    class SlowInit(AsyncSlowWriter):
        async def init(self, opts: None) -> Any:
            uploads.cancel("0")  # e.g. the client navigated away meanwhile
            await gate.wait()
            return await super().init(opts)

    writer = SlowInit()
    uploads = Uploads(UploadConfig("a", accept="any", writer=lambda n, e: (writer, None)))
    uploads.select([ClientFile("a.bin", 4)])
    gate.set()
    body_ran = False
    async with uploads.upload_async("0") as up:
        await up.send(Chunk(b"ab"))
        body_ran = True  # pragma: no cover
    assert not body_ran
    assert writer.closed == [Cancel()]


async def test_cancel_requested_before_a_send_closes_the_writer_first(tmp_path: Path) -> None:
    writer = AsyncSlowWriter()
    uploads = Uploads(UploadConfig("a", accept="any", writer=lambda n, e: (writer, None)))
    uploads.select([ClientFile("a.bin", 4)])
    async with uploads.upload_async("0") as up:
        uploads.cancel("0")
        await up.send(Chunk(b"ab"))  # the body ends here, nothing written
        raise AssertionError  # pragma: no cover
    assert writer.closed == [Cancel()]
    assert up.driver.size == 0


@DRIVERS
async def test_cancel_a_done_entry_removes_its_temp_file(tmp_path: Path, driver: Driver) -> None:
    uploads, _, _ = make(tmp_path)
    uploads.select([ClientFile("a.bin", 2)])
    await run_upload(uploads, "0", [Chunk(b"ab")], driver)
    assert len(files_in(tmp_path)) == 1
    entry = uploads.cancel("0")
    assert entry.cancelled
    assert entry.done
    assert files_in(tmp_path) == []
    with pytest.raises(UnknownEntry):
        uploads.cancel("0")


async def test_cancel_an_entry_that_never_started(tmp_path: Path) -> None:
    uploads, recorder, factory = make(tmp_path)
    uploads.select([ClientFile("a.bin", 2)])
    assert uploads.cancel("0").cancelled
    assert uploads.entries == ()
    assert factory.calls == []
    assert recorder.calls == []


async def test_cancel_inside_a_write_is_applied_once_the_write_answers(tmp_path: Path) -> None:
    # A writer that cancels its own entry from inside write_chunk: the driver
    # is mid-call, so the reducer records the cancel, and the writer is closed
    # with Cancel() as soon as the write has answered (not only at block exit).
    class Reentrant(TmpFileWriter):
        def write_chunk(self, data: bytes, state: Any) -> Any:
            uploads.cancel("0")
            return super().write_chunk(data, state)

    uploads = Uploads(
        UploadConfig(
            "a", accept="any", writer=lambda n, e: (Reentrant(), TmpFileOpts(dir=tmp_path))
        )
    )
    uploads.select([ClientFile("a.bin", 4)])
    with uploads.upload("0") as up:
        up.send(Chunk(b"ab"))
        inside = up.driver.reason
        files_inside = files_in(tmp_path)
    assert inside == Cancel()  # closed right after the write, inside the block
    assert files_inside == []
    assert up.driver.reason == Cancel()


async def test_cancel_a_done_async_entry_inside_its_block(tmp_path: Path) -> None:
    uploads, _, _ = make(tmp_path)
    uploads.select([ClientFile("a.bin", 2)])
    after_cancel = False
    async with uploads.upload_async("0") as up:
        await up.send(Chunk(b"ab"))
        assert up.entry.done
        assert len(files_in(tmp_path)) == 1
        uploads.cancel("0")
        assert files_in(tmp_path) == []  # a done entry's file goes at once
        await up.send(Chunk(b"more"))  # ends the block quietly: it was cancelled
        after_cancel = True  # pragma: no cover
    assert not after_cancel
    assert uploads.entries == ()


async def test_the_handle_shows_the_current_entry(tmp_path: Path) -> None:
    uploads, _, _ = make(tmp_path)
    uploads.select([ClientFile("a.bin", 4)])
    with uploads.upload("0") as up:
        up.send(Chunk(b"ab"))
        assert up.entry.progress == 50
        assert up.entry is uploads.entry("0")
    uploads.cancel("0")
    with pytest.raises(UnknownEntry):
        _ = up.entry
