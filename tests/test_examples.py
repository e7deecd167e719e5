"""The README's example of embedding the reducer in a ``selectors`` server, run for real."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from examples.selectors_server import serve
from uploadwriter.writers import TmpFileOpts


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, int]]:
    listener = socket.create_server(("127.0.0.1", 0))
    thread = threading.Thread(
        target=serve, args=(listener, TmpFileOpts(dir=tmp_path)), kwargs={"max_connections": 1}
    )
    thread.start()
    try:
        yield listener.getsockname()[:2]
    finally:
        thread.join(timeout=10)
        listener.close()
    assert not thread.is_alive()


def upload(address: tuple[str, int], header: bytes, body: bytes, *, finish: bool = True) -> str:
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(header + body)
        if not finish:
            return ""
        sock.shutdown(socket.SHUT_WR)
        return sock.makefile("r").readline()


def test_upload_lands_in_a_temp_file(server: tuple[str, int], tmp_path: Path) -> None:
    body = bytes(range(256)) * 1000  # several recv() calls
    reply = json.loads(upload(server, b"%d\n" % len(body), body))
    assert reply["ok"] is True
    path = Path(reply["meta"]["path"])
    assert path.parent == tmp_path
    assert path.read_bytes() == body


def test_client_gone_early_leaves_no_file(server: tuple[str, int], tmp_path: Path) -> None:
    reply = upload(server, b"1000\n", b"only part", finish=True)
    assert "Done arrived after 9 of the 1000 expected bytes" in json.loads(reply)["error"]
    assert list(tmp_path.iterdir()) == []


def test_more_than_announced_is_refused(server: tuple[str, int], tmp_path: Path) -> None:
    reply = json.loads(upload(server, b"3\n", b"abcdef"))
    assert reply["ok"] is False
    assert "past its limit of 3 bytes" in reply["error"]
    assert list(tmp_path.iterdir()) == []


def test_bad_size_line_is_refused(server: tuple[str, int], tmp_path: Path) -> None:
    reply = json.loads(upload(server, b"-5\n", b""))
    assert reply == {"ok": False, "error": "expected_size must be 0 or more bytes, not -5"}
    assert list(tmp_path.iterdir()) == []
