"""A property over random selections and upload outcomes, with both drivers.

Whatever the client selects and however each upload ends: no failure is lost
(each ended upload carries exactly the error its ending calls for), progress
only grows and is 100 exactly when done, completed entries hold the bytes
sent, and no temp file is left once entries are consumed or cancelled.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import anyio
import attrs
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from uploadwriter import (
    Chunk,
    ClientFile,
    Done,
    EntryRefused,
    Event,
    UploadConfig,
    UploadEntry,
    UploadError,
    Uploads,
)

from .uploads_support import Driver, FlakyOpts, files_in, flaky_factory

Outcome = Literal[
    "complete",
    "complete_done",
    "short_done",
    "overflow",
    "leave",
    "write_fail",
    "close_fail",
    "init_fail",
    "cancel_mid",
    "untouched",
]
OUTCOMES: tuple[Outcome, ...] = (
    "complete",
    "complete_done",
    "short_done",
    "overflow",
    "leave",
    "write_fail",
    "close_fail",
    "init_fail",
    "cancel_mid",
    "untouched",
)

FAILS: dict[str, FlakyOpts] = {
    "init_fail": FlakyOpts("", "init"),
    "write_fail": FlakyOpts("", "write"),
    "close_fail": FlakyOpts("", "close"),
}


@attrs.frozen
class Spec:
    """One selected file and how its upload is to end."""

    ext: str
    type: str
    size: int
    outcome: Outcome
    cuts: tuple[int, ...]  # where the sent bytes are split into chunks
    partial: int  # bytes sent before stopping, for the outcomes that stop early
    extra: int  # bytes past the declared size, for "overflow"


@st.composite
def specs(draw: st.DrawFn) -> Spec:
    size = draw(st.integers(0, 40))
    return Spec(
        ext=draw(st.sampled_from([".txt", ".jpg", ".PDF", ".gif", ""])),
        type=draw(st.sampled_from(["text/plain", "image/jpeg", "image/gif", "", "video/mp4"])),
        size=size,
        outcome=draw(st.sampled_from(OUTCOMES)),
        cuts=tuple(draw(st.lists(st.integers(1, 40), max_size=4))),
        partial=draw(st.integers(0, max(0, size - 1))),
        extra=draw(st.integers(1, 5)),
    )


@attrs.frozen
class Scenario:
    accept: Any
    max_entries: int
    mode: Literal["selected", "total"]
    max_file_size: int
    files: tuple[Spec, ...]


scenarios = st.builds(
    Scenario,
    accept=st.sampled_from(["any", [".txt", "image/*"], [".jpg", ".pdf", "video/*"]]),
    max_entries=st.integers(1, 6),
    mode=st.sampled_from(["selected", "total"]),
    max_file_size=st.integers(1, 45),
    files=st.lists(specs(), min_size=1, max_size=5).map(tuple),
)


def split(n: int, cuts: tuple[int, ...]) -> list[Event]:
    """``n`` bytes as chunks, cut at ``cuts`` (those inside the range)."""
    points = sorted({c for c in cuts if 0 < c < n})
    bounds = [0, *points, n]
    return [Chunk(b"x" * (b - a)) for a, b in itertools.pairwise(bounds) if b > a]


def plan(spec: Spec) -> tuple[list[Event], str | None]:  # noqa: PLR0911 - one per outcome
    """The events to send, and the error code the entry must end with (None: done)."""
    size, partial = spec.size, spec.partial
    outcome = spec.outcome
    if outcome == "init_fail":
        return [], "writer_failure"
    if outcome == "close_fail":
        return split(size, spec.cuts), "writer_failure"
    if size == 0:
        # Done as soon as the writer starts: nothing else can go wrong.
        return [Done()] if outcome == "complete_done" else [], None
    if outcome == "complete":
        return split(size, spec.cuts), None
    if outcome == "complete_done":
        return [*split(size, spec.cuts), Done()], None
    if outcome == "short_done":
        return [*split(partial, spec.cuts), Done()], "incomplete"
    if outcome == "overflow":
        return [*split(partial, spec.cuts), Chunk(b"x" * (size - partial + spec.extra))], (
            "too_large"
        )
    if outcome == "write_fail":
        return split(size, spec.cuts), "writer_failure"
    return split(partial, spec.cuts), "incomplete"  # "leave", "cancel_mid"


async def run(uploads: Uploads, ref: str, spec: Spec, driver: Driver) -> None:
    events, _ = plan(spec)
    cancel = spec.outcome == "cancel_mid"
    if driver == "sync":
        with uploads.upload(ref) as up:
            for event in events:
                up.send(event)
            if cancel:
                uploads.cancel(ref)
        return
    async with uploads.upload_async(ref) as aup:
        for event in events:
            await aup.send(event)
        if cancel:
            uploads.cancel(ref)
            await aup.send(Chunk(b"never written"))  # ends the block: it is cancelled


async def check(scenario: Scenario, driver: Driver) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        names = [f"f{i}{spec.ext}" for i, spec in enumerate(scenario.files)]
        fails = {
            name: FAILS[spec.outcome]
            for name, spec in zip(names, scenario.files, strict=True)
            if spec.outcome in FAILS
        }
        seen: dict[str, list[UploadEntry]] = {}

        def progress(name: str, entry: UploadEntry, uploads: Uploads) -> None:
            seen.setdefault(entry.ref, []).append(entry)

        config = UploadConfig(
            "files",
            accept=scenario.accept,
            max_entries=scenario.max_entries,
            max_entries_mode=scenario.mode,
            max_file_size=scenario.max_file_size,
            progress=progress,
            writer=flaky_factory(tmp_path, fails),
        )
        uploads = Uploads(config)
        selected = uploads.select(
            [ClientFile(n, s.size, s.type) for n, s in zip(names, scenario.files, strict=True)]
        )
        expected: dict[str, str | None] = {}  # ref -> final error code (None: done)
        cancelled: set[str] = set()
        for entry, spec in zip(selected, scenario.files, strict=True):
            if spec.outcome == "untouched":
                continue
            try:
                await run(uploads, entry.ref, spec, driver)
            except EntryRefused:
                # Invalid, or too many files: the entry is as selected.
                assert uploads.entry(entry.ref) == entry
                assert not (entry.valid and not uploads.errors)
                continue
            except UploadError:
                pass  # the failure must be on the entry: checked below
            if spec.outcome == "cancel_mid":
                cancelled.add(entry.ref)
                event("cancelled mid-way")
            else:
                expected[entry.ref] = code = plan(spec)[1]
                event(f"{driver} upload ended: {code or 'done'}")

        # Progress only grows, is 100 exactly when done; errors only accumulate.
        for updates in seen.values():
            progress_seen = [e.progress for e in updates]
            assert progress_seen == sorted(progress_seen)
            for update in updates:
                assert (update.progress == 100) == update.done
            for before, after in itertools.pairwise(updates):
                assert after.errors[: len(before.errors)] == before.errors

        # No failure lost: each ended upload has exactly the error its ending calls for.
        for ref, code in expected.items():
            entry = uploads.entry(ref)
            assert entry.started
            if code is None:
                assert entry.done, entry
                assert entry.errors == ()
                assert entry.progress == 100
            else:
                assert entry.error_codes == (code,), (entry, code)
                assert not entry.done
                assert entry.progress < 100
            if ref in seen:
                assert seen[ref][-1] == entry  # the callback saw the final value
        for ref in cancelled:
            with pytest.raises(UploadError):
                uploads.entry(ref)

        # Only completed entries have a file, holding exactly what was sent.
        done = [e for e in uploads.entries if e.done]
        assert len(files_in(tmp_path)) == len(done)
        for entry in uploads.entries:
            if entry.valid and not entry.done:
                uploads.cancel(entry.ref)  # consuming refuses while these wait

        def content(meta: Mapping[str, object], entry: UploadEntry) -> tuple[int, bytes]:
            path = Path(str(meta["path"]))
            data = path.read_bytes()
            if meta.get("flaky"):
                path.unlink()  # not a TmpFileWriter file: the application's to remove
            return entry.client_size, data

        for size, data in uploads.consume_uploaded_entries(content):
            assert data == b"x" * size
        assert {e.ref for e in uploads.entries} == {e.ref for e in uploads.entries if e.errors}
        for entry in uploads.entries:
            uploads.cancel(entry.ref)
        assert uploads.entries == ()
        assert files_in(tmp_path) == []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios)
def test_random_selections_and_outcomes_sync(scenario: Scenario) -> None:
    anyio.run(check, scenario, "sync")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios)
@pytest.mark.anyio
async def test_random_selections_and_outcomes_async(scenario: Scenario) -> None:
    await check(scenario, "async")
