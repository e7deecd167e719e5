"""UploadConfig: Phoenix's accept rules, defaults, and a clear error for every bad option."""

from __future__ import annotations

import ast
import mimetypes
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import uploadwriter
from uploadwriter import InvalidLimit, UploadConfig
from uploadwriter.uploads import default_writer
from uploadwriter.writers import TmpFileOpts, TmpFileWriter

# (accept, client name, client type, accepted?)
ACCEPT_CASES: list[tuple[Any, str, str, bool]] = [
    # The cases.
    ([".jpg", ".jpeg"], "file.gif", "image/png", False),
    (["image/*", ".pdf", "audio/mpeg"], "photo.pdf", "application/octet-stream", True),
    (["image/*", ".pdf", "audio/mpeg"], "photo.mp4", "audio/mpeg", True),
    ([".jpg"], "PHOTO.JPG", "", True),
    # "any" takes everything, even without a type or an extension.
    ("any", "README", "", True),
    ("any", "x.exe", "application/x-msdownload", True),
    # By extension, lower-cased, whatever the type claims.
    ([".jpg"], "photo.jpg", "application/octet-stream", True),
    ([".jpg"], "photo.Jpg", "", True),
    ([".pdf"], "a/b/c.pdf", "", True),
    ([".pdf"], "C:\\fakepath\\c.pdf", "", True),
    ([".jpg"], "photo.jpg.exe", "", False),
    ([".jpg"], "jpg", "", False),
    ([".jpg"], ".jpg", "", False),  # a dot file has no extension, as in Phoenix
    # By the type of a listed extension (".jpg" is image/jpeg).
    ([".jpg"], "photo.png", "image/jpeg", True),
    ([".jpg"], "photo.png", "image/png", False),
    # By exact MIME type (compared lower-cased).
    (["image/png"], "x.bin", "image/png", True),
    (["image/png"], "x.bin", "IMAGE/PNG", True),
    # A listed MIME type does not list its extensions (Phoenix): the claimed type decides.
    (["image/png"], "x.png", "image/jpeg", False),
    (["image/png"], "x.gif", "image/jpeg", False),
    (["audio/mpeg"], "song.mp3", "audio/ogg", False),
    # Wildcards: image/*, audio/*, video/* match by the top-level type only.
    (["image/*"], "x.bin", "image/webp", True),
    (["image/*"], "x.jpg", "application/octet-stream", False),
    (["video/*"], "x", "video/mp4", True),
    (["video/*"], "x", "audio/mp4", False),
    (["audio/*"], "x", "audio/flac", True),
    (["audio/*", "video/*"], "x", "imagex/png", False),
    (["IMAGE/*"], "x", "image/gif", True),
    # Mixed lists: any match is enough.
    ([".pdf", "image/*"], "doc.PDF", "", True),
    ([".pdf", "image/*"], "doc.txt", "text/plain", False),
]


@pytest.mark.parametrize(("accept", "name", "client_type", "expected"), ACCEPT_CASES)
def test_accept_rules(accept: Any, name: str, client_type: str, expected: bool) -> None:
    config = UploadConfig("avatar", accept=accept)
    assert config.accepts(name, client_type) is expected


def test_design_example() -> None:
    config = UploadConfig("avatar", accept=[".jpg", "image/png"], max_entries=2)
    assert config.accepts("photo.JPG", "image/jpeg")
    assert config.max_entries == 2
    assert config.acceptable_exts == {".jpg"}
    assert config.acceptable_types == {"image/jpeg", "image/png"}


def test_defaults_are_phoenixs() -> None:
    config = UploadConfig("avatar", accept="any")
    assert config.max_entries == 1
    assert config.max_entries_mode == "selected"
    assert config.max_file_size == 8_000_000
    assert config.chunk_size == 64_000
    assert config.chunk_timeout == 10.0
    assert config.auto_upload is False
    assert config.progress is None
    assert config.validator is None
    assert config.writer is default_writer
    writer, opts = config.writer("avatar", None)  # type: ignore[arg-type]
    assert isinstance(writer, TmpFileWriter)
    assert opts == TmpFileOpts()


def test_accept_is_normalised_and_deduplicated() -> None:
    config = UploadConfig("a", accept=[".JPG", " .jpg", "Image/PNG", "image/*", "image/*"])
    assert config.accept == (".jpg", "image/png", "image/*")


def test_config_is_immutable() -> None:
    config = UploadConfig("a", accept="any")
    with pytest.raises(AttributeError):
        config.max_entries = 3  # type: ignore[misc]


@pytest.fixture
def registered_ext() -> Iterator[str]:
    ext = ".uwtestext"
    mimetypes.add_type("application/x-uw-test", ext)
    yield ext
    mimetypes.types_map.pop(ext, None)


def test_an_extension_registered_with_mimetypes_is_accepted(registered_ext: str) -> None:
    config = UploadConfig("a", accept=[registered_ext])
    assert config.accepts("f" + registered_ext.upper(), "")
    assert config.accepts("f.bin", "application/x-uw-test")


def test_an_extension_that_mimetypes_treats_as_an_encoding_is_known() -> None:
    # guess_type() calls ".gz" an encoding; it is a MIME type all the same.
    assert UploadConfig("a", accept=[".gz"]).accepts("logs.tar.GZ", "")


# --- every option's validation error ----------------------------------------

# (keyword arguments, exception type, regex the message must match)
BAD_OPTIONS: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"accept": []}, ValueError, r"accept=\[\] accepts nothing.*\"any\""),
    ({"accept": ()}, ValueError, r"accept=\[\] accepts nothing"),
    ({"accept": "all"}, ValueError, r"accept='all' is not allowed.*\"any\""),
    ({"accept": ".jpg"}, ValueError, r"did you mean accept=\['\.jpg'\]\?"),
    (
        {"accept": "jpg"},
        ValueError,
        r"accept='jpg' is not allowed.*did you mean accept=\['\.jpg'\]\?",
    ),
    ({"accept": "*"}, ValueError, r"accept='\*' is not allowed.*give a list, e\.g\. accept=\["),
    ({"accept": None}, TypeError, r"accept must be a list or tuple, not NoneType"),
    ({"accept": {".jpg"}}, TypeError, r"accept must be a list or tuple, not set"),
    ({"accept": [".jpg", 3]}, TypeError, r"accept entries must be strings; got 3 \(int\)"),
    ({"accept": [".notarealext"]}, ValueError, r"'\.notarealext'.*known MIME type.*add_type"),
    ({"accept": ["."]}, ValueError, r"invalid accept filter '\.'"),
    ({"accept": ["./x"]}, ValueError, r"invalid accept filter '\./x'"),
    ({"accept": ["jpg"]}, ValueError, r"invalid accept filter 'jpg'.*\"type/subtype\""),
    ({"accept": ["jpg"]}, ValueError, r"'jpg'.*\(did you mean '\.jpg'\?\)"),
    ({"accept": ["notreal"]}, ValueError, r"'notreal'.*starting with \"\.\"\. accept must"),
    ({"accept": ["text/*"]}, ValueError, r"'text/\*'.*only wildcards are \"image/\*\""),
    ({"accept": ["*/*"]}, ValueError, r"'\*/\*'.*only wildcards"),
    ({"accept": ["image/png; q=1"]}, ValueError, r"without parameters"),
    ({"accept": ["image/"]}, ValueError, r"invalid accept filter 'image/'"),
    ({"accept": [""]}, ValueError, r"invalid accept filter ''"),
    ({"max_entries": 0}, ValueError, r"max_entries must be 1 or more, not 0"),
    ({"max_entries": -2}, ValueError, r"max_entries must be 1 or more, not -2"),
    ({"max_entries": 1.5}, TypeError, r"max_entries must be an int \(1 or more\), not 1\.5"),
    ({"max_entries": True}, TypeError, r"max_entries must be an int"),
    ({"max_entries_mode": "all"}, ValueError, r"max_entries_mode must be \"selected\".*'all'"),
    ({"max_entries_mode": 1}, TypeError, r"max_entries_mode must be the string"),
    ({"max_file_size": 0}, InvalidLimit, r"max_file_size must be 1 or more bytes, not 0"),
    ({"max_file_size": "8MB"}, TypeError, r"max_file_size must be an int.*'8MB'"),
    ({"chunk_size": 0}, ValueError, r"chunk_size must be 1 or more bytes, not 0"),
    ({"chunk_size": 64.0}, TypeError, r"chunk_size must be an int"),
    ({"chunk_timeout": 0}, ValueError, r"chunk_timeout must be a finite number of seconds above 0"),
    ({"chunk_timeout": -1.0}, ValueError, r"chunk_timeout must be .* above 0, not -1\.0"),
    ({"chunk_timeout": float("nan")}, ValueError, r"chunk_timeout must be a finite"),
    ({"chunk_timeout": float("inf")}, ValueError, r"chunk_timeout must be a finite"),
    (
        {"chunk_timeout": "10s"},
        TypeError,
        r"chunk_timeout must be a number of seconds .* not '10s'",
    ),
    ({"chunk_timeout": False}, TypeError, r"chunk_timeout must be a number"),
    ({"auto_upload": 1}, TypeError, r"auto_upload must be True or False, not 1"),
    ({"auto_upload": "yes"}, TypeError, r"auto_upload must be True or False"),
    ({"progress": 3}, TypeError, r"progress must be a callable or None, not 3"),
    ({"validator": "no"}, TypeError, r"validator must be a callable or None, not 'no'"),
    ({"writer": None}, TypeError, r"writer must be a callable, not None"),
    ({"writer": TmpFileWriter()}, TypeError, r"writer must be a callable, not <.*TmpFileWriter"),
]


@pytest.mark.parametrize(("options", "kind", "message"), BAD_OPTIONS)
def test_bad_option_is_refused_with_a_clear_message(
    options: dict[str, Any], kind: type[Exception], message: str
) -> None:
    arguments: dict[str, Any] = {"accept": "any", **options}
    with pytest.raises(kind, match=message) as info:
        UploadConfig("avatar", **arguments)
    # Exactly that kind: a TypeError is not a ValueError, and the reverse.
    other = ValueError if kind is TypeError else TypeError
    assert not isinstance(info.value, other)


def test_every_option_has_a_bad_value_case() -> None:
    options = {name for case in BAD_OPTIONS for name in case[0]}
    assert options == {
        "accept",
        "max_entries",
        "max_entries_mode",
        "max_file_size",
        "chunk_size",
        "chunk_timeout",
        "auto_upload",
        "progress",
        "validator",
        "writer",
    }


def test_accept_is_required() -> None:
    with pytest.raises(TypeError, match="accept"):
        UploadConfig("avatar")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("name", "kind", "message"),
    [("", ValueError, "non-empty"), (None, TypeError, "must be a string, not None")],
)
def test_bad_name(name: Any, kind: type[Exception], message: str) -> None:
    with pytest.raises(kind, match=message):
        UploadConfig(name, accept="any")


def test_the_error_names_the_bad_value_among_good_ones() -> None:
    with pytest.raises(ValueError, match=re.escape("'.nope'")):
        UploadConfig("a", accept=[".jpg", "image/*", ".nope", ".pdf"])


@given(name=st.text(max_size=20), client_type=st.text(max_size=20))
def test_any_accepts_everything(name: str, client_type: str) -> None:
    assert UploadConfig("a", accept="any").accepts(name, client_type)


@given(
    stem=st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=10), upper=st.booleans()
)
def test_listed_extension_matches_in_any_case(stem: str, upper: bool) -> None:
    ext = ".PDF" if upper else ".pdf"
    assert UploadConfig("a", accept=[".pdf"]).accepts(f"{stem}{ext}", "")


def test_public_surface() -> None:
    from uploadwriter import uploads

    for name in (
        "UploadConfig",
        "Uploads",
        "UploadEntry",
        "ClientFile",
        "EntryError",
        "Postpone",
        "EntryRun",
        "AsyncEntryRun",
        "EntryInProgress",
        "EntryRefused",
        "UnknownEntry",
    ):
        assert name in uploads.__all__
        assert name in uploadwriter.__all__
        assert getattr(uploadwriter, name) is getattr(uploads, name)
    for name in uploads.__all__:
        assert hasattr(uploads, name)
    for error in (uploads.EntryInProgress, uploads.EntryRefused, uploads.UnknownEntry):
        assert issubclass(error, uploadwriter.UploadError)
        assert error.__doc__
        assert len(error.__doc__.splitlines()) == 1


# Filters as a hurried user types them in one string: bare extensions, any case.
TYPED_FILTERS = ["jpg", "JPG", ".png", "pdf", "gz", "image/png", "Image/JPEG", "image/*", "mp4"]


@given(
    filters=st.lists(st.sampled_from(TYPED_FILTERS), min_size=1, max_size=4),
    separator=st.sampled_from([",", ", ", " ", " ,  "]),
)
def test_a_string_accept_suggests_a_list_that_is_accepted(
    filters: list[str], separator: str
) -> None:
    # accept="jpg" once suggested accept=['jpg'], itself refused: the hint must work as given.
    with pytest.raises(ValueError, match=r"did you mean accept=(\[.*\])\?$") as info:
        UploadConfig("a", accept=separator.join(filters))
    match = re.search(r"did you mean accept=(\[.*\])\?$", str(info.value))
    assert match is not None
    suggestion = ast.literal_eval(match.group(1))
    assert UploadConfig("a", accept=suggestion).accept == tuple(dict.fromkeys(suggestion))
    assert len(suggestion) == len(filters)
