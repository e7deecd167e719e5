"""The tutorial, step by step, as docs/tutorial/browser-to-s3.md prints it.

Every command of the page is one this module knows and runs (or stands in
for, when it needs what a test machine has not: a browser, curl, the aws
command line): ``uploadwriter serve`` runs as a subprocess, as the page says;
the browser's upload goes over the WebSocket channel the way the page's
script (``uploadwriter.js``) speaks it; curl's requests are made with httpx;
the S3 part runs the page's own ``bucket.py`` and ``app.py`` blocks, against
moto's S3 server on 127.0.0.1 in place of AWS. The shown output of the
commands is compared with what they print, so the page cannot drift from
what the programs do.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import sys
from collections.abc import Iterator
from mimetypes import guess_type
from pathlib import Path
from typing import Any

import httpx
import pytest

from uploadwriter.web import chunk_frame

from .http_support import leftovers
from .s3_server import client_for
from .serve_support import server_process
from .test_docs import DOCS, ROOT, Block, expected_output, parse

PAGE = DOCS / "tutorial" / "browser-to-s3.md"
BLOCKS = parse(PAGE)
BUCKET = "uploads-example-1234"
SHOWN_URL = "http://127.0.0.1:8000"
HOME = "/home/you"  # where the page's reader runs the commands


def console() -> list[tuple[str, list[str]]]:
    """The page's commands, in order, each with the output shown after it."""
    commands: list[tuple[str, list[str]]] = []
    for block in BLOCKS:
        if block.language != "console":
            continue
        for line in block.code.splitlines():
            if line.startswith("$ "):
                commands.append((line[2:], []))
            else:
                commands[-1][1].append(line)
    return commands


def shown(command: str) -> list[str]:
    (output,) = [out for cmd, out in console() if cmd == command]
    return output


def python_block(first_line: str) -> Block:
    (block,) = [b for b in BLOCKS if b.language == "python" and first_line in b.code]
    return block


# What this module does for each command of the page. A command it does not
# know fails the first test: a step added to the page is a step added here.
SETUP = [
    "python3 -m venv .venv",
    ". .venv/bin/activate",
    "pip install 'uploadwriter[web,s3]'",
]
SERVE = "uploadwriter serve --dir received"
LIST = f"curl -s {SHOWN_URL}/uploads"
FORM = f"curl -F photo=@cat.jpg -F notes=@notes.txt {SHOWN_URL}/upload"
PUT = f"curl -T notes.txt {SHOWN_URL}/upload/notes.txt"
APP = "uvicorn app:app"
LS_S3 = f"aws s3 ls s3://{BUCKET}/uploads/"
KNOWN = [*SETUP, SERVE, LIST, FORM, PUT, APP, LS_S3]


def test_the_page_runs_only_the_commands_this_test_runs() -> None:
    assert [command for command, _ in console()] == KNOWN


def test_the_extras_it_installs_exist() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    for extra in ("web", "s3"):
        assert re.search(rf"^{extra} = \[", pyproject, re.MULTILINE), extra


def test_the_screenshot_is_on_the_page() -> None:
    assert "(../_static/serve-page.png)" in PAGE.read_text(encoding="utf-8")
    assert (DOCS / "_static" / "serve-page.png").stat().st_size > 10_000


# --- running a server as the page does ---------------------------------------------


def normalised(line: str, directory: Path, port: int) -> str:
    """A line of a real run, written as the page shows it (its path, pid and port)."""
    line = line.replace(str(directory), HOME).replace(f"127.0.0.1:{port}", "127.0.0.1:8000")
    return re.sub(r"server process \[\d+\]", "server process [PID]", line)


def check_start(command: str, log: list[str], cwd: Path, url: str) -> None:
    port = int(url.rsplit(":", 1)[1])
    pid = re.compile(r"server process \[\d+\]")
    page = [pid.sub("server process [PID]", line) for line in shown(command)]
    assert [normalised(line, cwd, port) for line in log] == page


def browser_upload(url: str, files: dict[str, bytes], *, cancel: str | None = None) -> list[Any]:
    """Upload ``files`` (name -> bytes) as the page's script does; return each final message.

    The script's steps: ``hello``, ``select`` every file, then for each accepted
    one ``start`` and binary chunks of the server's size, never more than its
    window unacknowledged, until ``done`` (or ``error``). ``cancel`` names a
    file to cancel after its first acknowledged chunk, as its Cancel button does.
    """
    from websockets.sync.client import connect

    finals: list[Any] = []
    with connect(url.replace("http://", "ws://") + "/ws", max_size=None) as ws:

        def receive() -> dict[str, Any]:
            message: dict[str, Any] = json.loads(ws.recv(timeout=30))
            return message

        ws.send(json.dumps({"type": "hello", "versions": [1]}))
        welcome = receive()
        assert welcome["type"] == "welcome", welcome
        announced: list[
            dict[str, Any]
        ] = [  # a browser's File: name, size, and the type it guesses from the name
            {"ref": str(i), "name": name, "size": len(data), "type": guess_type(name)[0] or ""}
            for i, (name, data) in enumerate(files.items())
        ]
        ws.send(json.dumps({"type": "select", "files": announced}))
        verdicts = [receive() for _ in announced]
        assert {v["type"] for v in verdicts} == {"accepted"}, verdicts
        size = welcome["chunk_size"]
        for file, data in zip(announced, files.values(), strict=True):
            ref = file["ref"]
            ws.send(json.dumps({"type": "start", "ref": ref}))
            offset, credits = 0, welcome["window"]
            while True:
                while credits and offset < len(data):
                    ws.send(chunk_frame(ref, data[offset : offset + size]))
                    offset, credits = offset + size, credits - 1
                message = receive()
                if message["type"] == "ack":
                    credits += 1
                    if file["name"] == cancel:  # the Cancel button: no more chunks
                        ws.send(json.dumps({"type": "cancel", "ref": ref}))
                        cancel, offset = None, len(data)
                elif message["type"] in ("done", "error", "cancelled"):
                    finals.append(message)
                    break
    return finals


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- the directory ---------------------------------------------------------------------


def test_a_browser_upload_lands_in_the_directory(tmp_path: Path) -> None:
    cat, notes = os.urandom(300_000), b"remember the milk\n"
    (tmp_path / "cat.jpg").write_bytes(cat)
    (tmp_path / "notes.txt").write_bytes(notes)
    serve = [sys.executable, "-m", "uploadwriter", *SERVE.split()[1:]]
    with server_process(serve, cwd=tmp_path) as server:
        process, url = server.process, server.url
        check_start(SERVE, server.started, tmp_path, url)

        # The browser: two files from the page, and one cancelled mid-way.
        finals = browser_upload(
            url,
            {"cat.jpg": cat, "big.bin": os.urandom(2_000_000), "notes.txt": notes},
            cancel="big.bin",
        )
        assert [m["type"] for m in finals] == ["done", "cancelled", "done"]

        # curl -s .../uploads
        listing = httpx.get(f"{url}/uploads")
        files = listing.json()["files"]
        assert [(f["client_name"], f["sha256"], f["via"]) for f in files] == [
            ("cat.jpg", sha256(cat), "websocket"),
            ("notes.txt", sha256(notes), "websocket"),
        ]
        # The page shows the first file of the list, as the server writes it.
        (pattern,) = shown(LIST)
        first = json.dumps({"files": files[:1]}, separators=(",", ":"))
        assert listing.text.startswith(first[:-2])
        assert expected_output(pattern).fullmatch(normalised(first, tmp_path, 0)), first

        # The files are in received/, under the server's names: sha256sum agrees.
        stored = {sha256(p.read_bytes()) for p in (tmp_path / "received").iterdir() if p.is_file()}
        assert stored == {sha256(cat), sha256(notes)}

        # curl -F ... and curl -T ...
        with (tmp_path / "cat.jpg").open("rb") as c, (tmp_path / "notes.txt").open("rb") as n:
            form = httpx.post(
                f"{url}/upload",
                files=[("photo", ("cat.jpg", c, "image/jpeg")), ("notes", ("notes.txt", n))],
            )
        put = httpx.put(f"{url}/upload/notes.txt", content=notes)
        for command, answer, names in (
            (FORM, form, ["cat.jpg", "notes.txt"]),
            (PUT, put, ["notes.txt"]),
        ):
            assert answer.status_code == 200, answer.text
            assert [f["client_name"] for f in answer.json()["files"]] == names
            (pattern,) = shown(command)
            assert expected_output(pattern).fullmatch(answer.text), (command, answer.text)
        assert len(httpx.get(f"{url}/uploads").json()["files"]) == 5

        # Ctrl-C stops it, and nothing half-written is left.
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 130
    assert leftovers(tmp_path / "received") == []


# --- S3 ------------------------------------------------------------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """moto's S3 server, and the environment that points boto3's default client at it."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    for name in ("AWS_PROFILE", "AWS_REGION", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        yield env
    finally:
        server.stop()


def test_then_into_s3(
    tmp_path: Path, aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    # python bucket.py, as the page prints it.
    bucket_py = python_block("put_bucket_lifecycle_configuration")
    exec(compile(bucket_py.code, str(PAGE), "exec"), {"__name__": "__main__"})
    assert capsys.readouterr().out == f"ready: {BUCKET}\n"
    s3 = client_for(aws["AWS_ENDPOINT_URL"])
    (rule,) = s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}

    # app.py, as the page prints it, under uvicorn.
    app_py = python_block("def to_s3(")
    assert f'BUCKET = "{BUCKET}"' in app_py.code
    (tmp_path / "app.py").write_text(app_py.code, encoding="utf-8")
    uvicorn = [sys.executable, "-m", *APP.split()]
    with server_process(uvicorn, cwd=tmp_path, env=aws) as server:
        url = server.url
        check_start(APP, server.started, tmp_path, url)
        small, large = os.urandom(48_213), os.urandom(9 * 2**20)  # large: two S3 parts
        finals = browser_upload(
            url,
            {"cat.jpg": small, "video.mp4": large, "backup.tar": os.urandom(3_000_000)},
            cancel="backup.tar",
        )
        assert [m["type"] for m in finals] == ["done", "done", "cancelled"]
        listed = httpx.get(f"{url}/uploads").json()["files"]
        assert [(f["client_name"], f["size"], f["sha256"]) for f in listed] == [
            ("cat.jpg", len(small), sha256(small)),
            ("video.mp4", len(large), sha256(large)),
        ]

    # aws s3 ls s3://BUCKET/uploads/: the two completed files, and nothing else.
    objects = s3.list_objects_v2(Bucket=BUCKET, Prefix="uploads/")["Contents"]
    assert sorted(o["Key"] for o in objects) == sorted(f["key"] for f in listed)
    for file, data in zip(listed, (small, large), strict=True):
        assert s3.get_object(Bucket=BUCKET, Key=file["key"])["Body"].read() == data
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=BUCKET)
    (line,) = shown(LS_S3)
    _date, _time, size, key = line.split()
    assert (int(size), len(key)) == (len(small), len(objects[0]["Key"].removeprefix("uploads/")))
