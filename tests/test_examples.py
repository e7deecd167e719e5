"""The example of embedding the reducer in a ``selectors`` server, run for real.

TCP delivers a stream, not messages: the size line may arrive alone or cut
anywhere, and the body in pieces down to single bytes. The protocol itself
(``Connection``) is checked over every way of cutting the stream; the server
is run on loopback with real sockets, reading one byte at a time too.
"""

from __future__ import annotations

import itertools
import json
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from examples.selectors_server import Connection, serve
from uploadwriter.writers import TmpFileOpts

Address = tuple[str, int]


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Address]]:
    """Start the server for one connection, its temp files in ``tmp_path``."""
    threads: list[threading.Thread] = []
    listeners: list[socket.socket] = []

    def start(read_size: int = 65536) -> Address:
        listener = socket.create_server(("127.0.0.1", 0))
        thread = threading.Thread(
            target=serve,
            args=(listener, TmpFileOpts(dir=tmp_path)),
            kwargs={"max_connections": 1, "read_size": read_size},
        )
        thread.start()
        threads.append(thread)
        listeners.append(listener)
        host, port = listener.getsockname()[:2]
        return host, port

    yield start
    for thread, listener in zip(threads, listeners, strict=True):
        thread.join(timeout=10)
        listener.close()
        assert not thread.is_alive()


@pytest.fixture
def server(start_server: Callable[..., Address]) -> Address:
    return start_server()


def upload(address: Address, *pieces: bytes, pause: float = 0.0) -> str:
    """Send ``pieces`` (each its own segment), end the stream, return the reply line."""
    with socket.create_connection(address, timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for piece in pieces:
            sock.sendall(piece)
            time.sleep(pause)
        sock.shutdown(socket.SHUT_WR)
        return sock.makefile("r").readline()


def test_upload_lands_in_a_temp_file(server: Address, tmp_path: Path) -> None:
    body = bytes(range(256)) * 1000  # several recv() calls
    reply = json.loads(upload(server, b"%d\n" % len(body) + body))
    assert reply["ok"] is True
    path = Path(reply["meta"]["path"])
    assert path.parent == tmp_path
    assert path.read_bytes() == body


def test_the_size_line_in_its_own_read(server: Address, tmp_path: Path) -> None:
    # The README's recipe (wc -c < FILE; cat FILE) | nc: two writes, often two reads.
    # The empty rest of the first read once ended the upload as Done() at 0 bytes.
    reply = json.loads(upload(server, b"5\n", b"hello", pause=0.05))
    assert reply["ok"] is True, reply
    assert Path(reply["meta"]["path"]).read_bytes() == b"hello"


def test_one_byte_per_read(start_server: Callable[..., Address], tmp_path: Path) -> None:
    body = b"byte by byte"
    reply = json.loads(upload(start_server(read_size=1), b"%d\n" % len(body) + body))
    assert reply["ok"] is True, reply
    assert Path(reply["meta"]["path"]).read_bytes() == body


@pytest.mark.parametrize("read_size", [1, 3, 65536])
def test_nine_bytes_for_five_announced_are_too_many(
    start_server: Callable[..., Address], tmp_path: Path, read_size: int
) -> None:
    # Cut after the fifth byte, the upload is complete (L3): the four more are refused.
    reply = json.loads(upload(start_server(read_size=read_size), b"5\n123456789"))
    assert reply["ok"] is False
    assert "past its limit of 5 bytes" in reply["error"]
    assert list(tmp_path.iterdir()) == []


def test_client_gone_early_leaves_no_file(server: Address, tmp_path: Path) -> None:
    reply = upload(server, b"1000\n", b"only part")
    assert "Done arrived after 9 of the 1000 expected bytes" in json.loads(reply)["error"]
    assert list(tmp_path.iterdir()) == []


def test_more_than_announced_is_refused(server: Address, tmp_path: Path) -> None:
    reply = json.loads(upload(server, b"3\n", b"abcdef"))
    assert reply["ok"] is False
    assert "past its limit of 3 bytes" in reply["error"]
    assert list(tmp_path.iterdir()) == []


def test_bad_size_line_is_refused(server: Address, tmp_path: Path) -> None:
    reply = json.loads(upload(server, b"-5\n"))
    assert reply == {"ok": False, "error": "expected_size must be 0 or more bytes, not -5"}
    assert list(tmp_path.iterdir()) == []


def test_a_reset_connection_cancels_its_upload(server: Address, tmp_path: Path) -> None:
    with socket.create_connection(server, timeout=10) as sock:
        sock.sendall(b"1000\nsome bytes")
        deadline = time.monotonic() + 10
        while not list(tmp_path.iterdir()):  # the upload has started
            assert time.monotonic() < deadline
            time.sleep(0.01)
        # Close with a reset (RST), as a crashed client does.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    deadline = time.monotonic() + 10
    while list(tmp_path.iterdir()):
        assert time.monotonic() < deadline, "the cancelled upload's file stayed"
        time.sleep(0.01)


# --- the protocol, cut everywhere ----------------------------------------------------


def feed(stream: bytes, cuts: list[int], directory: str) -> tuple[dict[str, object], Connection]:
    """Feed ``stream`` to a Connection in pieces cut at ``cuts``; return its reply."""
    conn = Connection(TmpFileOpts(dir=directory))
    bounds = [0, *sorted({cut for cut in cuts if 0 < cut < len(stream)}), len(stream)]
    for start, end in itertools.pairwise(bounds):
        conn.received(stream[start:end])
    reply: dict[str, object] = json.loads(conn.finished())
    conn.ended(told=True)
    return reply, conn


@given(
    body=st.binary(max_size=40),
    offset=st.integers(-3, 3),
    cuts=st.lists(st.integers(0, 60), max_size=50),
)
def test_any_cutting_of_the_stream_gives_the_same_outcome(
    body: bytes, offset: int, cuts: list[int]
) -> None:
    announced = max(0, len(body) + offset)
    with tempfile.TemporaryDirectory() as directory:
        reply, _ = feed(b"%d\n" % announced + body, cuts, directory)
        files = list(Path(directory).iterdir())
        if announced == len(body):
            assert reply["ok"] is True, reply
            assert files == [Path(str(reply["meta"]["path"]))]  # type: ignore[index]
            assert files[0].read_bytes() == body
        elif announced < len(body):
            assert reply["ok"] is False
            assert f"past its limit of {announced} bytes" in str(reply["error"])
            assert files == []
        else:
            assert reply == {
                "ok": False,
                "error": f"Done arrived after {len(body)} of the {announced} expected "
                "bytes; the upload was cancelled",
            }
            assert files == []


@pytest.mark.parametrize(
    ("stream", "error"),
    [
        (b"", "the stream ended before the size line"),
        (b"12", "the stream ended before the size line"),
        (b"1" * 25, "the size line is too long"),
        (b"five\nhello", "invalid literal for int() with base 10: b'five'"),
    ],
)
def test_a_bad_start_is_one_error(stream: bytes, error: str, tmp_path: Path) -> None:
    reply, _ = feed(stream, list(range(len(stream))), str(tmp_path))
    assert reply == {"ok": False, "error": error}
    assert list(tmp_path.iterdir()) == []


def test_a_completed_upload_nobody_was_told_about_is_discarded(tmp_path: Path) -> None:
    conn = Connection(TmpFileOpts(dir=tmp_path))
    conn.received(b"2\nok")
    assert json.loads(conn.finished())["ok"] is True
    conn.ended(told=False)  # the reply could not be delivered
    assert list(tmp_path.iterdir()) == []


def test_an_init_that_fails_is_the_reply(tmp_path: Path) -> None:
    conn = Connection(TmpFileOpts(dir=tmp_path / "missing"))
    conn.received(b"2\nok")
    reply = json.loads(conn.finished())
    assert reply["ok"] is False
    assert reply["error"].startswith("the writer's init failed: FileNotFoundError")
    conn.ended(told=True)
