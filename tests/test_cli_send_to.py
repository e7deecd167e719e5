"""``uploadwriter send FILE --to DEST``: hash, S3 and HTTP destinations, run as a user runs them."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from uploadwriter._destinations import Destination, parse_destination

from .http_server import Receiver, _receiver_running, receiver
from .s3_server import S3, moto_endpoint, s3

__all__ = ("_receiver_running", "moto_endpoint", "receiver", "s3")  # fixtures


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "uploadwriter", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def source(tmp_path: Path) -> tuple[Path, bytes]:
    data = os.urandom(300_000)
    path = tmp_path / "photo.jpg"
    path.write_bytes(data)
    return path, data


def test_to_sha256_prints_the_digest(source: tuple[Path, bytes]) -> None:
    path, data = source
    result = run("send", str(path), "--to", "sha256", "--progress")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "algorithm": "sha256",
        "hexdigest": hashlib.sha256(data).hexdigest(),
        "size": len(data),
    }
    assert "100%" in result.stderr  # the same progress bar, when asked for off a terminal


def test_to_a_digest_that_does_not_match_fails(source: tuple[Path, bytes]) -> None:
    path, data = source
    good = hashlib.md5(data).hexdigest()
    assert run("send", str(path), "-q", "--to", f"md5={good}").returncode == 0
    result = run("send", str(path), "-q", "--to", f"md5={'0' * 32}")
    assert result.returncode == 1
    assert f"the md5 digest of the upload is {good}, but {'0' * 32} was expected" in result.stderr
    assert result.stdout == ""


def test_to_s3(source: tuple[Path, bytes], s3: S3) -> None:
    path, data = source
    env = {
        "AWS_ENDPOINT_URL_S3": s3.endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    result = run("send", str(path), "--to", f"s3://{s3.bucket}/up/", env=env)
    assert result.returncode == 0, result.stderr
    meta = json.loads(result.stdout)
    assert meta["key"] == "up/photo.jpg"
    assert meta["size"] == len(data)
    assert s3.read("up/photo.jpg") == data
    missing = run("send", str(path), "-q", "--to", "s3://no-such-bucket/k", env=env)
    assert missing.returncode == 1
    assert "S3 PutObject of s3://no-such-bucket/k failed: NoSuchBucket" in missing.stderr


def test_to_http_and_to_several(source: tuple[Path, bytes], receiver: Receiver) -> None:
    path, data = source
    url = f"{receiver.url}/store/photo.jpg"
    result = run("send", str(path), "-q", "--to", url, "--to", "sha1")
    assert result.returncode == 0, result.stderr
    forwarded, digest = json.loads(result.stdout)["writers"]
    assert forwarded["status"] == 201
    assert digest["hexdigest"] == hashlib.sha1(data).hexdigest()
    got = receiver.settled()
    assert got.body == data
    assert got.headers["content-length"] == str(len(data))  # the file's size is known
    failed = run("send", str(path), "-q", "--to", f"{receiver.url}/fail")
    assert failed.returncode == 1
    assert "answered 500 Internal Server Error: the disk is full" in failed.stderr


@pytest.mark.parametrize(
    ("dest", "message"),
    [
        ("sha257", "unknown destination 'sha257': use tmpfile, a hashlib algorithm"),
        ("s3://bucket", "an S3 destination is s3://bucket/key"),
        ("ftp://h/x", "unknown destination 'ftp://h/x'"),
        ("https://u:p@h/", "must not carry credentials"),
        ("sha256=xyz", "must be a sha256 digest: 64 hex digits"),
    ],
)
def test_bad_destinations_are_refused_before_reading(
    source: tuple[Path, bytes], dest: str, message: str
) -> None:
    result = run("send", str(source[0]), "--to", dest)
    assert result.returncode == 2
    assert message in result.stderr


def test_to_and_writer_are_exclusive(source: tuple[Path, bytes]) -> None:
    result = run("send", str(source[0]), "--to", "sha256", "--writer", "echo")
    assert result.returncode == 2
    assert "not allowed with argument" in result.stderr


def test_destinations_map_to_writers(tmp_path: Path) -> None:
    from uploadwriter._destinations import writer_for
    from uploadwriter.writers import (
        HashOpts,
        HttpForwardOpts,
        S3Opts,
        TeeWriter,
        TmpFileOpts,
        TmpFileWriter,
    )

    assert parse_destination("tmpfile") == Destination("tmpfile", "tmpfile")
    writer, opts = writer_for([parse_destination("tmpfile")], 3, "/x/a.txt")
    assert (type(writer), opts) == (TmpFileWriter, TmpFileOpts())
    _, opts = writer_for([parse_destination("SHA256")], None, "a")
    assert opts == HashOpts("SHA256")
    _, opts = writer_for([parse_destination("s3://b/k/")], None, "/x/a.txt")
    assert opts == S3Opts("b", "k/a.txt")
    _, opts = writer_for([parse_destination("http://h/p")], None, "a")
    assert opts == HttpForwardOpts("http://h/p")  # size unknown: chunked
    tee, opts = writer_for([parse_destination("md5"), parse_destination("tmpfile")], 1, "a")
    assert isinstance(tee, TeeWriter)
    assert opts == (HashOpts("md5"), TmpFileOpts())
