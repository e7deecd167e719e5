"""The pure parts of the web layer: the error mapping, ``HttpLimits``, client names."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from uploadwriter import (
    ChunkTimeout,
    EntryError,
    FileTooLarge,
    IncompleteUpload,
    InitError,
    InvalidLimit,
    UploadConfig,
    UploadError,
    WriterFailure,
    web,
)
from uploadwriter.web import (
    STATUS,
    ClientDisconnected,
    HttpLimits,
    UploadRejected,
    error_body,
    error_code,
    http_status,
    safe_client_name,
)
from uploadwriter.web._names import MAX_NAME_LENGTH, safe_extension


def test_the_public_surface() -> None:
    assert sorted(web.__all__) == sorted(set(web.__all__))
    for name in web.__all__:
        assert hasattr(web, name), name


def test_statuses_are_those_of_the_design() -> None:
    assert dict(STATUS) == {
        "too_large": 413,
        "too_many_files": 413,
        "not_accepted": 415,
        "incomplete": 400,
        "malformed": 400,
        "chunk_timeout": 408,
        "writer_failure": 500,
    }
    assert http_status("a_validators_own_code") == 422
    with pytest.raises(TypeError):
        STATUS["too_large"] = 400  # type: ignore[index]


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (FileTooLarge(10, 8, 4), "too_large"),
        (ChunkTimeout(1.0), "chunk_timeout"),
        (IncompleteUpload(10, 3), "incomplete"),
        (WriterFailure("disk full", during="write_chunk"), "writer_failure"),
        (InitError("no space"), "writer_failure"),
        (EntryError("not_accepted"), "not_accepted"),
        (EntryError("my_code"), "my_code"),
        (UploadRejected("malformed", "bad"), "malformed"),
        (ClientDisconnected(12), "incomplete"),
        (ValueError("not an upload failure"), None),
    ],
)
def test_error_codes(error: BaseException | EntryError, code: str | None) -> None:
    assert error_code(error) == code


def test_rejections_carry_their_answer() -> None:
    rejected = UploadRejected("too_large", "file 'a' is larger than the limit of 1 bytes")
    assert isinstance(rejected, UploadError)
    assert (rejected.code, rejected.status) == ("too_large", 413)
    assert str(rejected) == rejected.message
    assert rejected.body() == error_body("too_large", rejected.message)
    assert error_body("x", "y") == {"error": {"code": "x", "message": "y"}}
    gone = ClientDisconnected(42)
    assert (gone.code, gone.status, gone.received) == ("incomplete", 400, 42)
    assert "after 42 bytes" in gone.message


# --- HttpLimits -----------------------------------------------------------------------------


def test_limits_defaults_follow_upload_config() -> None:
    config = UploadConfig("x", accept="any")
    limits = HttpLimits()
    assert (limits.max_file_size, limits.max_entries, limits.chunk_timeout) == (
        config.max_file_size,
        config.max_entries,
        config.chunk_timeout,
    )


def test_limits_from_a_config() -> None:
    config = UploadConfig(
        "x", accept=[".JPG", "image/png"], max_file_size=5, max_entries=3, chunk_timeout=2
    )
    limits = HttpLimits.from_config(config, max_fields=7)
    assert limits == HttpLimits(
        accept=(".jpg", "image/png"), max_file_size=5, max_entries=3, chunk_timeout=2, max_fields=7
    )
    assert limits.accepts("a.jpg", "")
    assert limits.accepts("b", "image/png")
    assert not limits.accepts("c.gif", "image/gif")
    with pytest.raises(TypeError, match="needs an UploadConfig"):
        HttpLimits.from_config("x")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"accept": []}, ValueError, "accept=\\[\\] accepts nothing"),
        ({"accept": "jpg"}, ValueError, "accept='jpg' is not allowed"),
        (
            {"max_file_size": 0},
            ValueError,
            "HttpLimits.max_file_size must be 1 or more bytes, not 0",
        ),
        ({"max_entries": 1.5}, TypeError, "HttpLimits.max_entries must be an int"),
        ({"max_fields": True}, TypeError, "HttpLimits.max_fields must be an int"),
        ({"max_field_size": -1}, ValueError, "HttpLimits.max_field_size must be 1 or more bytes"),
        ({"chunk_timeout": 0}, ValueError, "HttpLimits.chunk_timeout must be a finite number"),
        ({"chunk_timeout": float("inf")}, ValueError, "HttpLimits.chunk_timeout must be a finite"),
        ({"chunk_timeout": 10**400}, InvalidLimit, "HttpLimits.chunk_timeout must be a finite"),
        ({"max_entries": 0}, InvalidLimit, "HttpLimits.max_entries must be 1 or more, not 0"),
        (
            {"chunk_timeout": "10"},
            TypeError,
            "HttpLimits.chunk_timeout must be a number of seconds",
        ),
    ],
)
def test_limits_refuse_bad_options(
    options: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        HttpLimits(**options)  # type: ignore[arg-type]


def test_no_chunk_timeout() -> None:
    assert HttpLimits(chunk_timeout=None).chunk_timeout is None


# --- client names -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("photo.jpg", "photo.jpg"),
        ("../../etc/passwd", "passwd"),
        ("/etc/passwd", "passwd"),
        ("C:\\fakepath\\photo.jpg", "photo.jpg"),
        ("a\x00b\r\n.txt", "ab.txt"),
        ("\u202egpj.exe", "gpj.exe"),
        ("  spaced  ", "spaced"),
        ("", "unnamed"),
        (".", "unnamed"),
        ("..", "unnamed"),
        ("dir/", "unnamed"),
        ("x" * 100_000 + ".tar.gz", "x" * 252 + ".gz"),
        ("x" * 300, "x" * 255),
        ("é" * 300, "é" * 255),
        ("\ud800lone.txt", "lone.txt"),
    ],
)
def test_safe_client_names(name: str, safe: str) -> None:
    assert safe_client_name(name) == safe


@given(st.text())
def test_a_safe_name_is_one_plain_component(name: str) -> None:
    safe = safe_client_name(name)
    assert 0 < len(safe) <= MAX_NAME_LENGTH
    assert "/" not in safe
    assert "\\" not in safe
    assert safe not in (".", "..")
    assert all(unicodedata.category(c) not in ("Cc", "Cf", "Cs") for c in safe)
    assert safe == safe.strip()
    assert safe_client_name(safe) == safe


@pytest.mark.parametrize(
    ("name", "extension"),
    [
        ("a.JPG", ".jpg"),
        ("a.tar.gz", ".gz"),
        ("noext", ""),
        ("a.", ""),
        ("a.b c", ""),
        (".x" + "y" * 16, ""),
    ],
)
def test_safe_extensions(name: str, extension: str) -> None:
    assert safe_extension(name) == extension
