"""The upload channel's protocol (sans-IO): each rule, then any interleaving under Hypothesis."""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from uploadwriter.uploads import ClientFile, UploadConfig
from uploadwriter.web import Channel, CloseCode, LocalProtocolError
from uploadwriter.web._outputs import (
    CancelEntry,
    CloseConnection,
    Output,
    SelectFiles,
    Send,
    StartEntry,
    WriteChunk,
)
from uploadwriter.web._table import FINAL, TRANSITIONS, Effect, EntryState, Input
from uploadwriter.web._wire import MAX_NAME, MAX_TEXT, chunk_frame, encode

CONFIG = UploadConfig("files", accept="any", chunk_size=64, max_entries=10, chunk_timeout=5)
DOCS = Path(__file__).parent.parent / "docs" / "reference" / "websocket-protocol.md"


def msg(**fields: object) -> str:
    return json.dumps(fields)


def sent(outputs: list[Output]) -> list[dict[str, Any]]:
    return [json.loads(o.text) for o in outputs if isinstance(o, Send)]


def closes(outputs: list[Output]) -> list[int]:
    return [o.code for o in outputs if isinstance(o, CloseConnection)]


def ready(window: int = 2) -> Channel:
    channel = Channel(CONFIG, window=window)
    (welcome,) = sent(channel.receive_text(msg(type="hello", versions=[1])))
    assert welcome["type"] == "welcome"
    return channel


def announce(channel: Channel, *sizes: int, accept: bool = True) -> list[str]:
    files = [{"ref": f"r{i}", "name": f"f{i}.bin", "size": size} for i, size in enumerate(sizes)]
    out = channel.receive_text(msg(type="select", files=files))
    (select,) = [o for o in out if isinstance(o, SelectFiles)]
    refs = []
    for file in select.files:
        assert file.ref is not None
        refs.append(file.ref)
        if accept:
            (answer,) = sent(channel.accept(file.ref))
            assert answer == {"type": "accepted", "ref": file.ref, "chunk_size": 64}
    return refs


def started(channel: Channel, size: int) -> str:
    (ref,) = announce(channel, size)
    assert channel.receive_text(msg(type="start", ref=ref)) == [StartEntry(ref)]
    return ref


def violation(outputs: list[Output]) -> str:
    """The message of the error frame a violation sends; checks the close code too."""
    assert closes(outputs) == [CloseCode.MALFORMED]
    (error,) = sent(outputs)
    assert error["type"] == "error"
    assert error["error"]["code"] == "malformed"
    message: str = error["error"]["message"]
    return message


# --- hello -------------------------------------------------------------------------


def test_hello_agrees_on_a_version_and_welcome_tells_the_limits() -> None:
    channel = Channel(CONFIG, window=3)
    assert channel.version is None
    (welcome,) = sent(channel.receive_text(msg(type="hello", versions=[7, 1])))
    assert welcome == {
        "type": "welcome",
        "version": 1,
        "upload": "files",
        "chunk_size": 64,
        "window": 3,
        "max_entries": 10,
        "max_file_size": 8_000_000,
        "accept": "any",
        "chunk_timeout": 5,
    }
    assert channel.version == 1


def test_welcome_lists_the_accepted_types() -> None:
    channel = Channel(UploadConfig("img", accept=[".png", "image/*"]))
    (welcome,) = sent(channel.receive_text(msg(type="hello", versions=[1])))
    assert welcome["accept"] == [".png", "image/*"]


def test_no_version_in_common_closes_with_4406() -> None:
    channel = Channel(CONFIG)
    out = channel.receive_text(msg(type="hello", versions=[2, 3]))
    assert closes(out) == [CloseCode.UNSUPPORTED_VERSION]
    (error,) = sent(out)
    assert "versions [1]" in error["error"]["message"]
    assert channel.closed
    assert channel.close_code == 4406


@pytest.mark.parametrize(
    ("frame", "words"),
    [
        (msg(type="select", files=[{"ref": "a", "name": "a", "size": 1}]), "must be hello"),
        (msg(type="hello", versions="1"), "versions must be an array of integers"),
        (msg(type="hello", versions=[True]), "versions must be an array of integers"),
        ("[1]", "one JSON object"),
        ("{", "one JSON object"),
        ('{"type": "hello", "versions": [NaN]}', "no NaN"),
        ("1" * 5000, "one JSON object"),
    ],
)
def test_before_hello_anything_else_is_a_violation(frame: str, words: str) -> None:
    channel = Channel(CONFIG)
    assert words in violation(channel.receive_text(frame))


def test_a_binary_frame_before_hello_is_a_violation() -> None:
    assert "must be hello" in violation(Channel(CONFIG).receive_bytes(chunk_frame("a", b"x")))


def test_hello_twice_and_unknown_types_are_violations() -> None:
    assert "hello was sent twice" in violation(
        ready().receive_text(msg(type="hello", versions=[1]))
    )
    assert "unknown message type" in violation(ready().receive_text(msg(type="bye")))


def test_a_text_frame_has_a_size_limit() -> None:
    assert f"at most {MAX_TEXT} characters" in violation(ready().receive_text(" " * (MAX_TEXT + 1)))


# --- select ---------------------------------------------------------------------------


def test_select_hands_the_files_to_the_driver_and_sends_each_verdict() -> None:
    channel = ready()
    files = [
        {"ref": "a", "name": "a.txt", "size": 3, "type": "text/plain", "last_modified": 17},
        {"ref": "b", "name": "b.txt", "size": 4},
    ]
    (select,) = channel.receive_text(msg(type="select", files=files))
    assert select == SelectFiles(
        (ClientFile("a.txt", 3, "text/plain", 17, "a"), ClientFile("b.txt", 4, "", None, "b"))
    )
    assert channel.state("a") is EntryState.ANNOUNCED
    assert sent(channel.refuse("a", "not_accepted", "Not this type.")) == [
        {
            "type": "refused",
            "ref": "a",
            "error": {"code": "not_accepted", "message": "Not this type."},
        }
    ]
    assert sent(channel.accept("b")) == [{"type": "accepted", "ref": "b", "chunk_size": 64}]
    assert channel.state("a") is EntryState.REFUSED
    assert channel.state("b") is EntryState.ACCEPTED


def test_every_verdict_is_due_before_the_next_input() -> None:
    channel = ready()
    channel.receive_text(msg(type="select", files=[{"ref": "a", "name": "a", "size": 1}]))
    feeds: list[Callable[[], list[Output]]] = [
        lambda: channel.receive_text(msg(type="start", ref="a")),
        lambda: channel.receive_bytes(chunk_frame("a", b"x")),
        channel.receive_close,
        channel.timed_out,
    ]
    for feed in feeds:
        with pytest.raises(LocalProtocolError, match="wait for a verdict"):
            feed()
    channel.accept("a")
    assert channel.receive_close() == [CancelEntry("a")]


def test_a_float_last_modified_is_rounded_down() -> None:
    channel = ready()
    files = [{"ref": "a", "name": "a", "size": 1, "last_modified": 1.5}]
    (select,) = channel.receive_text(msg(type="select", files=files))
    assert isinstance(select, SelectFiles)
    assert select.files[0].last_modified == 1


@pytest.mark.parametrize(
    ("file", "words"),
    [
        ({"name": "a", "size": 1}, "files[0].ref must be a string"),
        ({"ref": "a b", "name": "a", "size": 1}, "files[0].ref must be a string"),
        ({"ref": "x" * 65, "name": "a", "size": 1}, "1 to 64 characters"),
        ({"ref": "a", "size": 1}, "files[0].name must be a string"),
        ({"ref": "a", "name": "a", "size": -1}, "size must be a whole number"),
        ({"ref": "a", "name": "a", "size": 1.0}, "size must be a whole number"),
        ({"ref": "a", "name": "a", "size": True}, "size must be a whole number"),
        ({"ref": "a", "name": "a", "size": 1, "type": 3}, "type must be a MIME type string"),
        ({"ref": "a", "name": "a", "size": 1, "last_modified": "x"}, "last_modified"),
        ("a", "files[0] must be an object"),
    ],
)
def test_a_malformed_file_is_a_violation_naming_the_field(file: object, words: str) -> None:
    channel = ready()
    assert words in violation(channel.receive_text(msg(type="select", files=[file])))


def test_select_needs_files_and_fresh_refs() -> None:
    assert "non-empty array" in violation(ready().receive_text(msg(type="select", files=[])))
    twice = [{"ref": "a", "name": "a", "size": 1}] * 2
    assert "announced before" in violation(ready().receive_text(msg(type="select", files=twice)))
    channel = ready()
    announce(channel, 1)
    again = [{"ref": "r0", "name": "a", "size": 1}]
    assert "announced before" in violation(channel.receive_text(msg(type="select", files=again)))


def test_a_connection_announces_at_most_max_files() -> None:
    channel = Channel(CONFIG, max_files=2)
    channel.receive_text(msg(type="hello", versions=[1]))
    announce(channel, 1, 1)
    files = [{"ref": "z", "name": "z", "size": 1}]
    assert "at most 2 files" in violation(channel.receive_text(msg(type="select", files=files)))


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("", "has no name"),
        ("a" * (MAX_NAME + 1), f"at most {MAX_NAME} are allowed"),
        ("a\x00b", "NUL"),
    ],
)
def test_a_bad_name_is_refused_by_the_channel_itself(name: str, words: str) -> None:
    channel = ready()
    files = [{"ref": "bad", "name": name, "size": 1}, {"ref": "ok", "name": "ok", "size": 1}]
    out = channel.receive_text(msg(type="select", files=files))
    (refused,) = sent(out)
    assert refused["ref"] == "bad"
    assert refused["error"]["code"] == "malformed"
    assert words in refused["error"]["message"]
    assert [o for o in out if isinstance(o, SelectFiles)] == [
        SelectFiles((ClientFile("ok", 1, "", None, "ok"),))
    ]


def test_names_with_paths_are_only_names() -> None:
    # The channel passes names on as data: it is the writer that never uses them as paths.
    channel = ready()
    files = [{"ref": "a", "name": "../../etc/passwd", "size": 1}]
    (select,) = channel.receive_text(msg(type="select", files=files))
    assert isinstance(select, SelectFiles)
    assert select.files[0].name == "../../etc/passwd"


# --- start, chunks, acks, the window ---------------------------------------------------


def test_chunks_go_to_the_writer_and_each_is_acknowledged() -> None:
    channel = ready()
    ref = started(channel, 5)
    assert channel.receive_bytes(chunk_frame(ref, b"abc")) == [WriteChunk(ref, b"abc")]
    assert channel.in_flight == 1
    assert sent(channel.written(ref, 3, 60)) == [
        {"type": "ack", "ref": ref, "size": 3, "progress": 60}
    ]
    assert channel.in_flight == 0
    channel.receive_bytes(chunk_frame(ref, b"de"))
    channel.written(ref, 5, 100)
    assert sent(channel.completed(ref, {"name": "f0.bin"})) == [
        {"type": "done", "ref": ref, "result": {"name": "f0.bin"}}
    ]
    assert channel.state(ref) is EntryState.DONE
    assert channel.live() == ()


def test_the_only_write_is_a_chunk_for_an_open_entry() -> None:
    # The channel makes that move directly (Entries.admit): the table must agree.
    writes = [key for key, (_, effect) in TRANSITIONS.items() if effect is Effect.WRITE]
    assert writes == [(EntryState.OPEN, Input.CHUNK)]
    assert TRANSITIONS[EntryState.OPEN, Input.CHUNK] == (EntryState.OPEN, Effect.WRITE)


def test_an_ack_is_written_as_every_message_is() -> None:
    # written() writes the ack itself for int sizes (once per chunk, it is the
    # common case): exactly the text encode() gives, whatever the ref.
    channel = ready(window=4)
    refs = ["r", "A-Z_a.z-09", "x" * 64]
    channel.receive_text(
        msg(type="select", files=[{"ref": r, "name": "f", "size": 10**12} for r in refs])
    )
    for ref in refs:
        channel.accept(ref)
    for ref in refs:
        channel.receive_text(msg(type="start", ref=ref))
    for ref, size, progress in [(refs[0], 1, 0), (refs[1], 64, 99), (refs[2], 10**12, 100)]:
        channel.receive_bytes(chunk_frame(ref, b"x"))
        (ack,) = channel.written(ref, size, progress)
        assert isinstance(ack, Send)
        expected = {"type": "ack", "ref": ref, "size": size, "progress": progress}
        assert ack.text == encode(expected)
    # Anything else than an int goes the general way, as JSON has it.
    channel.receive_bytes(chunk_frame(refs[0], b"x"))
    (ack,) = channel.written(refs[0], 2, True)
    assert isinstance(ack, Send)
    assert ack.text == '{"type":"ack","ref":"r","size":2,"progress":true}'


def test_a_chunk_past_the_window_is_a_violation_and_the_window_spans_entries() -> None:
    channel = ready(window=2)
    a, b = announce(channel, 100, 100)
    channel.receive_text(msg(type="start", ref=a))
    channel.receive_text(msg(type="start", ref=b))
    channel.receive_bytes(chunk_frame(a, b"x"))
    channel.receive_bytes(chunk_frame(b, b"x"))
    out = channel.receive_bytes(chunk_frame(a, b"x"))
    assert "more than 2 chunks unacknowledged" in violation(out)
    assert [o for o in out if isinstance(o, CancelEntry)] == [CancelEntry(a), CancelEntry(b)]
    assert channel.in_flight == 2  # the violating chunk was never taken


def test_an_ack_opens_the_window_again() -> None:
    channel = ready(window=1)
    ref = started(channel, 100)
    for size in range(1, 5):
        assert channel.receive_bytes(chunk_frame(ref, b"x")) == [WriteChunk(ref, b"x")]
        channel.written(ref, size, size)


@pytest.mark.parametrize(
    ("frame", "words"),
    [
        (b"", "starts with the ref's length"),
        (b"\x00abc", "starts with the ref's length"),
        (b"\x41abc", "starts with the ref's length"),
        (b"\x05ab", "starts with the ref's length"),
        (b"\x02a b", "binary frame's ref must be"),
        (b"\x02r0", "carries 1 to 64 bytes"),
        (b"\x02r0" + b"x" * 65, "carries 1 to 64 bytes"),
        (b"\x02zz" + b"x", "no file with ref 'zz'"),
    ],
)
def test_a_bad_binary_frame_is_a_violation(frame: bytes, words: str) -> None:
    channel = ready()
    started(channel, 100)
    assert words in violation(channel.receive_bytes(frame))


def test_chunks_need_a_started_entry_that_still_wants_bytes() -> None:
    channel = ready()
    (ref,) = announce(channel, 3)
    assert "before the entry's start" in violation(channel.receive_bytes(chunk_frame(ref, b"x")))

    channel = ready()
    ref = started(channel, 3)
    channel.receive_bytes(chunk_frame(ref, b"abc"))
    assert "received all its 3 bytes" in violation(channel.receive_bytes(chunk_frame(ref, b"d")))

    channel = ready()
    ref = started(channel, 1)
    channel.receive_bytes(chunk_frame(ref, b"a"))
    channel.written(ref, 1, 100)
    channel.completed(ref, None)
    assert "received all its bytes" in violation(channel.receive_bytes(chunk_frame(ref, b"d")))


def test_a_chunk_crossing_the_size_goes_to_the_writer_which_refuses_it() -> None:
    channel = ready()
    ref = started(channel, 3)
    assert channel.receive_bytes(chunk_frame(ref, b"abcd")) == [WriteChunk(ref, b"abcd")]
    (error,) = sent(channel.failed(ref, "too_large", "More data arrived."))
    assert error == {
        "type": "error",
        "ref": ref,
        "error": {"code": "too_large", "message": "More data arrived."},
    }
    assert channel.in_flight == 0


def test_starting_twice_or_a_refused_entry_is_a_violation() -> None:
    channel = ready()
    ref = started(channel, 3)
    assert "started already" in violation(channel.receive_text(msg(type="start", ref=ref)))
    channel = ready()
    (ref,) = announce(channel, 3, accept=False)
    channel.refuse(ref, "too_large", "Too large.")
    assert "was refused" in violation(channel.receive_text(msg(type="start", ref=ref)))
    assert "no file with ref" in violation(ready().receive_text(msg(type="start", ref="nope")))
    assert "start's ref" in violation(ready().receive_text(msg(type="start")))


def test_a_refused_entry_takes_no_chunk_and_a_cancel_changes_nothing() -> None:
    channel = ready()
    (ref,) = announce(channel, 3, accept=False)
    channel.refuse(ref, "too_large", "Too large.")
    assert channel.receive_text(msg(type="cancel", ref=ref)) == []
    assert "was refused" in violation(channel.receive_bytes(chunk_frame(ref, b"x")))


def test_an_ended_entry_cannot_start_again() -> None:
    channel = ready()
    ref = started(channel, 3)
    channel.failed(ref, "writer_failure", "No.")
    assert "has ended (failed)" in violation(channel.receive_text(msg(type="start", ref=ref)))


# --- cancel -------------------------------------------------------------------------------


def test_cancel_before_start_is_confirmed_by_the_driver() -> None:
    channel = ready()
    (ref,) = announce(channel, 3)
    assert channel.receive_text(msg(type="cancel", ref=ref)) == [CancelEntry(ref)]
    assert channel.state(ref) is EntryState.CANCELLING
    assert "cancelled; it cannot be started" in violation(
        channel.receive_text(msg(type="start", ref=ref))
    )
    channel = ready()
    (ref,) = announce(channel, 3)
    channel.receive_text(msg(type="cancel", ref=ref))
    assert sent(channel.cancelled(ref)) == [{"type": "cancelled", "ref": ref}]


def test_cancel_mid_upload_drops_chunks_in_flight_and_gives_the_window_back() -> None:
    channel = ready(window=3)
    ref = started(channel, 100)
    channel.receive_bytes(chunk_frame(ref, b"a"))
    channel.receive_bytes(chunk_frame(ref, b"b"))
    assert channel.receive_text(msg(type="cancel", ref=ref)) == [CancelEntry(ref)]
    assert channel.receive_text(msg(type="cancel", ref=ref)) == []  # asked once
    assert channel.receive_bytes(chunk_frame(ref, b"c")) == []  # in flight: dropped
    # The write under way when the cancel came is still acknowledged.
    assert sent(channel.written(ref, 1, 1))[0]["type"] == "ack"
    assert channel.in_flight == 1
    assert sent(channel.cancelled(ref)) == [{"type": "cancelled", "ref": ref}]
    assert channel.in_flight == 0
    assert channel.receive_bytes(chunk_frame(ref, b"d")) == []
    assert channel.receive_text(msg(type="cancel", ref=ref)) == []


def test_an_entry_that_ends_before_the_cancel_takes_effect_reports_its_end() -> None:
    channel = ready()
    ref = started(channel, 1)
    channel.receive_bytes(chunk_frame(ref, b"a"))
    channel.receive_text(msg(type="cancel", ref=ref))
    channel.written(ref, 1, 100)
    assert sent(channel.completed(ref, 1)) == [{"type": "done", "ref": ref, "result": 1}]
    channel = ready()
    ref = started(channel, 1)
    channel.receive_text(msg(type="cancel", ref=ref))
    assert sent(channel.failed(ref, "chunk_timeout", "Slow."))[0]["type"] == "error"


def test_the_server_may_cancel_an_entry_itself() -> None:
    channel = ready()
    (ref,) = announce(channel, 3)
    assert sent(channel.cancelled(ref)) == [{"type": "cancelled", "ref": ref}]
    channel = ready()
    ref = started(channel, 3)
    assert sent(channel.cancelled(ref)) == [{"type": "cancelled", "ref": ref}]


def test_cancel_of_an_unknown_entry_is_a_violation() -> None:
    assert "no file with ref 'x'" in violation(ready().receive_text(msg(type="cancel", ref="x")))


# --- the end of the connection ------------------------------------------------------------


def test_the_client_leaving_cancels_every_live_entry_and_nothing_is_sent_after() -> None:
    channel = ready()
    a, b, c = announce(channel, 5, 5, 5)
    channel.receive_text(msg(type="start", ref=a))
    channel.receive_bytes(chunk_frame(a, b"x"))
    channel.receive_text(msg(type="start", ref=c))
    channel.receive_bytes(chunk_frame(c, b"xxxxx"))
    channel.written(c, 5, 100)
    channel.completed(c, None)
    assert channel.receive_close() == [CancelEntry(a), CancelEntry(b)]
    assert channel.closed
    assert channel.close_code is None
    assert channel.written(a, 1, 20) == []  # acknowledged, but nobody is told
    assert channel.cancelled(a) == []
    assert channel.cancelled(b) == []
    assert channel.live() == ()
    assert channel.in_flight == 0
    assert channel.receive_text(msg(type="start", ref=a)) == []
    assert channel.receive_bytes(b"junk") == []
    assert channel.receive_close() == []
    assert channel.timed_out() == []
    assert channel.close_for_error("x") == []


def test_timeouts_close_with_4408() -> None:
    out = Channel(CONFIG).timed_out()
    assert closes(out) == [CloseCode.TIMEOUT]
    assert sent(out)[0]["error"] == {
        "code": "chunk_timeout",
        "message": "no hello message for 5 seconds; closing",
    }
    channel = ready()
    (ref,) = announce(channel, 3)
    out = channel.timed_out()
    assert out[1:] == [CancelEntry(ref), CloseConnection(4408, "timeout")]
    assert "the connection was idle for 5 seconds" in sent(out)[0]["error"]["message"]


def test_a_server_failure_closes_with_1011_and_cancels_even_pending_files() -> None:
    channel = ready()
    channel.receive_text(msg(type="select", files=[{"ref": "a", "name": "a", "size": 1}]))
    out = channel.close_for_error("the server failed")
    assert closes(out) == [CloseCode.INTERNAL_ERROR]
    assert sent(out)[0]["error"] == {"code": "server_error", "message": "the server failed"}
    assert channel.state("a") is EntryState.CANCELLED
    assert channel.receive_close() == []


def test_after_a_violation_the_connection_stays_closed() -> None:
    channel = ready()
    violation(channel.receive_text("nope"))
    assert channel.receive_text(msg(type="hello", versions=[1])) == []
    assert channel.close_code == CloseCode.MALFORMED


# --- the driver's mistakes ------------------------------------------------------------------


def test_the_driver_cannot_report_what_the_protocol_state_does_not_allow() -> None:
    channel = ready()
    with pytest.raises(LocalProtocolError, match="no file with ref 'x'"):
        channel.accept("x")
    ref = started(channel, 3)
    with pytest.raises(LocalProtocolError, match="no unacknowledged chunk"):
        channel.written(ref, 1, 1)
    with pytest.raises(LocalProtocolError, match="is open: accept is not allowed"):
        channel.accept(ref)
    with pytest.raises(TypeError, match="not JSON"):
        channel.completed(ref, object())
    with pytest.raises(TypeError, match="not JSON"):
        channel.completed(ref, float("nan"))
    assert channel.state(ref) is EntryState.OPEN


def test_options_are_checked() -> None:
    with pytest.raises(TypeError, match="UploadConfig"):
        Channel("files")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="window must be 1 or more, not 0"):
        Channel(CONFIG, window=0)
    with pytest.raises(TypeError, match="max_files must be an int"):
        Channel(CONFIG, max_files=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ref must have 1 to 64"):
        chunk_frame("", b"x")


# --- the table --------------------------------------------------------------------------


def test_every_pair_is_a_row_or_an_error() -> None:
    # A client input without a row is a violation; a driver input, a LocalProtocolError.
    for state in EntryState:
        for what in Input:
            row = TRANSITIONS.get((state, what))
            if row is not None:
                assert what is not Input.LOST or row[0] is not EntryState.OPEN
                if state in FINAL:
                    assert row[0] is state  # an ended entry stays ended


def _doc_table() -> set[tuple[str, str, str]]:
    text = DOCS.read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\w+)` \| `(\w+)` \| `(\w+)` \|", text, flags=re.MULTILINE)
    return set(rows)


def test_the_reference_page_lists_exactly_the_table() -> None:
    table = {(s.value, i.value, n.value) for (s, i), (n, _) in TRANSITIONS.items()}
    assert _doc_table() == table


# --- any interleaving ----------------------------------------------------------------------


@attrs.define
class Task:
    """The model driver's upload of one started entry."""

    size: int
    queue: deque[bytes] = attrs.Factory(deque)
    written: int = 0
    cancel: bool = False


class ModelDriver:
    """Performs what the channel asks, and reports back at moments Hypothesis picks."""

    def __init__(self, channel: Channel, data: st.DataObject) -> None:
        self.channel = channel
        self.data = data
        self.tasks: dict[str, Task] = {}
        self.ended: list[str] = []
        self.closed_with: list[int] = []
        self.types: list[str] = []
        self.sizes: dict[str, int] = {}
        self.sent_bytes: dict[str, int] = {}

    def apply(self, outputs: list[Output]) -> None:
        for output in outputs:
            if isinstance(output, Send):
                assert not self.closed_with, "a frame after the close"
                message = json.loads(output.text)
                assert isinstance(message, dict)
                if message["type"] == "ack":  # written by written() itself
                    assert output.text == encode(message)
                self.types.append(message["type"])
            elif isinstance(output, CloseConnection):
                assert not self.closed_with, "closed twice"
                self.closed_with.append(output.code)
            elif isinstance(output, SelectFiles):
                for file in output.files:
                    assert file.ref is not None
                    if self.data.draw(st.integers(0, 4), label=f"accept {file.ref}") > 0:
                        self.apply(self.channel.accept(file.ref))
                    else:
                        self.apply(self.channel.refuse(file.ref, "not_accepted", "No."))
            elif isinstance(output, StartEntry):
                assert output.ref not in self.tasks, "started twice"
                self.tasks[output.ref] = Task(self.sizes[output.ref])
            elif isinstance(output, WriteChunk):
                self.tasks[output.ref].queue.append(output.data)
            else:
                assert isinstance(output, CancelEntry)
                task = self.tasks.get(output.ref)
                if task is None:
                    self.apply(self.channel.cancelled(output.ref))
                else:
                    task.cancel = True

    def live(self) -> list[str]:
        return [ref for ref in self.tasks if ref not in self.ended]

    def progress(self, ref: str) -> None:
        """One step of entry ``ref``'s upload, as a real driver might take it."""
        task = self.tasks[ref]
        # A failure now and then; mostly the work the entry has.
        choices = ["fail"]
        if task.queue:
            choices += ["write"] * 8
        if task.cancel:
            choices += ["cancelled"] * 4
        if task.size == 0 and not task.queue:
            choices += ["complete"] * 4
        choice = self.data.draw(st.sampled_from(choices), label=f"{ref} does")
        if choice == "write":
            chunk = task.queue.popleft()
            task.written += len(chunk)
            if task.written > task.size:
                self.end(ref, self.channel.failed(ref, "too_large", "More data arrived."))
                return
            self.apply(self.channel.written(ref, task.written, task.written))
            if task.written == task.size:
                self.end(ref, self.channel.completed(ref, {"size": task.size}))
        elif choice == "complete":
            self.end(ref, self.channel.completed(ref, {"size": 0}))
        elif choice == "cancelled":
            self.end(ref, self.channel.cancelled(ref))
        else:
            self.end(ref, self.channel.failed(ref, "writer_failure", "No."))

    def end(self, ref: str, outputs: list[Output]) -> None:
        self.ended.append(ref)
        self.apply(outputs)


GARBAGE = st.one_of(
    st.binary(max_size=8),
    st.text(max_size=8),
    st.builds(lambda n: chunk_frame("zz", b"x" * n), st.integers(1, 70)),
    st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=3).map(
        json.dumps
    ),
    st.sampled_from(
        [
            msg(type="hello", versions=[1]),
            msg(type="start", ref="no such"),
            msg(type="cancel", ref=3),
            msg(type="select", files=[{"ref": "f0", "name": "a", "size": "1"}]),
        ]
    ),
)
WEIGHTS = {"select": 2, "start": 3, "cancel": 1, "chunk": 10}


def client_frame(data: st.DataObject, driver: ModelDriver) -> str | bytes:
    """A frame a client might send now: mostly well-formed, about the files announced."""
    known = sorted(driver.sizes)
    state = driver.channel.state
    sent = driver.sent_bytes
    # For each kind, the refs for which it makes sense now.
    fitting = {
        "start": [r for r in known if state(r) is EntryState.ACCEPTED],
        "chunk": [
            r
            for r in known
            if state(r) is EntryState.OPEN
            and sent.get(r, 0) < driver.sizes[r]
            and driver.channel.in_flight < driver.channel.window
        ],
        "cancel": [r for r in known if state(r) not in FINAL],
    }
    sensible = data.draw(st.integers(0, 19), label="sensible") > 0
    kinds = ["select"] * WEIGHTS["select"]
    for kind, refs in fitting.items():
        if refs or (known and not sensible):
            kinds += [kind] * WEIGHTS[kind]
    if not sensible:
        kinds.append("garbage")
    kind = data.draw(st.sampled_from(kinds), label="kind")
    if kind == "garbage":
        return data.draw(GARBAGE, label="garbage")
    if kind == "select":
        files = []
        for _ in range(data.draw(st.integers(1, 3), label="files")):
            ref = f"f{len(driver.sizes)}"
            driver.sizes[ref] = size = data.draw(st.integers(0, 200), label="size")
            name = data.draw(st.sampled_from(["a.txt"] * 9 + [""]), label="name")
            files.append({"ref": ref, "name": name, "size": size})
        return msg(type="select", files=files)
    choices = fitting[kind] if fitting[kind] and sensible else known
    ref = data.draw(st.sampled_from(choices), label="ref")
    if kind == "chunk":
        left = driver.sizes[ref] - sent.get(ref, 0)
        # Mostly within the size; sometimes across it (the writer refuses that).
        top = min(64, left) if left > 0 and sensible else 64
        size = data.draw(st.integers(1, top), label="chunk size")
        sent[ref] = sent.get(ref, 0) + size
        return chunk_frame(ref, b"x" * size)
    return msg(type=kind, ref=ref)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.integers(1, 3))
def test_any_interleaving_never_crashes_and_leaves_nothing_open(
    data: st.DataObject, window: int
) -> None:
    channel = Channel(CONFIG, window=window)
    driver = ModelDriver(channel, data)
    if data.draw(st.integers(0, 9), label="hello first") > 0:
        driver.apply(channel.receive_text(msg(type="hello", versions=[1])))
    for _ in range(data.draw(st.integers(0, 60), label="steps")):
        live = driver.live()
        server_side: bool = data.draw(st.booleans(), label="server side") if live else False
        if server_side:
            driver.progress(data.draw(st.sampled_from(live), label="entry"))
        else:
            frame = client_frame(data, driver)
            if isinstance(frame, str):
                driver.apply(channel.receive_text(frame))
            else:
                driver.apply(channel.receive_bytes(frame))
        assert 0 <= channel.in_flight <= window
        # idle is counted as the entries move: it is what their states say.
        busy = (EntryState.ANNOUNCED, EntryState.OPEN, EntryState.CANCELLING)
        assert channel.idle == all(channel.state(ref) not in busy for ref in driver.sizes)
        in_queues = sum(len(driver.tasks[ref].queue) for ref in driver.live())
        assert channel.in_flight == in_queues
    # The connection ends: whatever is live is cancelled, and the driver finishes.
    driver.apply(channel.receive_close())
    while driver.live():
        driver.progress(driver.live()[0])
    assert channel.live() == ()
    assert channel.idle
    assert channel.in_flight == 0
    assert sorted(driver.ended) == sorted(driver.tasks)  # every started entry ended once
    assert len(driver.closed_with) <= 1
