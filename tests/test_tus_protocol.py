"""The tus protocol as a pure state machine (uploadwriter.tus.Exchange): statuses, headers, bodies.

The unit tests check each status code the spec names; the property test drives
the exchange with any sequence of requests — valid or not, interrupted,
with wrong checksums, racing, after expiry — against a model store, and
checks that it never crashes, that an upload's offset only grows, and that
the bytes kept are exactly the client's, none lost and none twice.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uploadwriter.tus import (
    Checkpoint,
    Commit,
    CreateUpload,
    Drop,
    Exchange,
    LoadUpload,
    LocalProtocolError,
    Output,
    Reply,
    StartWriting,
    Terminate,
    TusConfig,
    UploadInfo,
    Write,
    metadata_text,
)
from uploadwriter.tus._headers import BadHeader, read_checksum, read_metadata, read_size

TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = {"Content-Type": "application/offset+octet-stream"}
NOW = 1_000_000.0
CONFIG = TusConfig(max_size=1000, expires_after=60.0, checkpoint_every=16)


def exchange(method: str, upload_id: str | None = None, **headers: str) -> Exchange:
    named = {k.replace("_", "-"): v for k, v in headers.items()}
    return Exchange(CONFIG, method, upload_id, named, now=NOW)


def reply(outputs: list[Output]) -> Reply:
    assert len(outputs) >= 1
    last = outputs[-1]
    assert isinstance(last, Reply), outputs
    return last


def checksum(algorithm: str, data: bytes) -> str:
    return f"{algorithm} {base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"


INFO = UploadInfo("abc", 40, 10, (("filename", "YS50eHQ="),), NOW + 60)


# --- OPTIONS, versions, methods -----------------------------------------------------------------


def test_options_lists_the_version_extensions_max_size_and_checksums_without_tus_resumable() -> (
    None
):
    answer = reply(exchange("OPTIONS").begin())
    assert answer.status == 204
    assert answer.header("Tus-Version") == "1.0.0"
    assert answer.header("Tus-Extension") == (
        "creation,creation-with-upload,termination,expiration,checksum"
    )
    assert answer.header("Tus-Max-Size") == "1000"
    assert answer.header("Tus-Checksum-Algorithm") == "sha1,sha256"


@pytest.mark.parametrize("version", [None, "0.2.2", "2.0.0"])
def test_412_on_a_missing_or_unsupported_tus_resumable(version: str | None) -> None:
    headers = {} if version is None else {"Tus_Resumable": version}
    answer = reply(exchange("HEAD", "abc", **headers).begin())
    assert answer.status == 412
    assert answer.header("Tus-Version") == "1.0.0"
    assert answer.header("Tus-Resumable") == "1.0.0"


def test_405_for_other_methods_and_for_post_on_an_upload_or_patch_on_the_endpoint() -> None:
    assert reply(exchange("GET", "abc", **TUS).begin()).status == 405
    assert reply(exchange("POST", "abc", **TUS, Upload_Length="3").begin()).status == 405
    assert reply(exchange("PATCH", None, **TUS, **OCTETS, Upload_Offset="0").begin()).status == 405


def test_x_http_method_override_is_honoured() -> None:
    ex = exchange("POST", "abc", **TUS, X_HTTP_Method_Override="HEAD")
    assert ex.begin() == [LoadUpload("abc", lock=False)]


# --- creation -----------------------------------------------------------------------------------


def test_post_creates_an_upload_with_its_metadata_and_expiry() -> None:
    ex = exchange("POST", **TUS, Upload_Length="40", Upload_Metadata="filename YS50eHQ=,private")
    assert ex.begin() == [CreateUpload(40, (("filename", "YS50eHQ="), ("private", None)), NOW + 60)]
    answer = reply(ex.created(UploadInfo("new", 40, 0, (), NOW + 60)))
    assert answer.status == 201
    assert answer.header("Location") == "/files/new"
    assert answer.header("Upload-Expires") == "Mon, 12 Jan 1970 13:47:40 GMT"
    assert metadata_text((("filename", "YS50eHQ="), ("private", None)), "filename") == "a.txt"
    assert metadata_text((("private", None),), "private") == ""
    assert metadata_text((), "filename") is None


def test_an_empty_upload_metadata_header_is_accepted() -> None:
    ex = exchange("POST", **TUS, Upload_Length="5", Upload_Metadata="")
    assert ex.begin() == [CreateUpload(5, (), NOW + 60)]


@pytest.mark.parametrize(
    ("headers", "status", "words"),
    [
        ({}, 400, "needs Upload-Length"),
        ({"Upload_Length": "-1"}, 400, "whole number"),
        ({"Upload_Length": "1e3"}, 400, "whole number"),
        ({"Upload_Length": "1001"}, 413, "above Tus-Max-Size 1000"),
        ({"Upload_Length": "3", "Upload_Defer_Length": "1"}, 400, "not supported"),
        ({"Upload_Length": "3", "Upload_Metadata": "a b c"}, 400, "is not 'key base64value'"),
        ({"Upload_Length": "3", "Upload_Metadata": "a !!!"}, 400, "not base64"),
        ({"Upload_Length": "3", "Upload_Metadata": "a,a"}, 400, "given twice"),
        (
            {"Upload_Length": "3", "Content_Type": "text/plain", "Content_Length": "3"},
            415,
            "creation-with-upload needs Content-Type",
        ),
    ],
)
def test_post_refused(headers: dict[str, str], status: int, words: str) -> None:
    answer = reply(exchange("POST", **TUS, **headers).begin())
    assert answer.status == status
    assert words in answer.body.decode()


def test_a_creation_the_driver_refuses_is_415() -> None:
    ex = exchange("POST", **TUS, Upload_Length="3")
    ex.begin()
    answer = reply(ex.refuse("a.exe is not accepted"))
    assert answer.status == 415
    assert b"a.exe is not accepted" in answer.body


def test_creation_with_upload_writes_the_body_and_answers_201_with_the_offset() -> None:
    ex = exchange("POST", **TUS, **OCTETS, Upload_Length="5", Content_Length="3")
    assert isinstance(ex.begin()[0], CreateUpload)
    assert ex.created(UploadInfo("new", 5, 0)) == [StartWriting(0)]
    assert ex.receive_data(b"abc") == [Write(b"abc")]
    out = ex.end_of_body()
    assert out[0] == Commit(3, complete=False, expires=NOW + 60)
    answer = reply(out)
    assert (answer.status, answer.header("Upload-Offset")) == (201, "3")
    assert answer.header("Location") == "/files/new"


def test_an_empty_upload_is_complete_at_once() -> None:
    ex = exchange("POST", **TUS, Upload_Length="0")
    ex.begin()
    assert ex.created(UploadInfo("new", 0, 0)) == [StartWriting(0)]
    out = ex.end_of_body()  # the (empty) body ends it
    assert out[0] == Commit(0, complete=True, expires=None)
    assert reply(out).status == 201


# --- HEAD ---------------------------------------------------------------------------------------


def test_head_answers_the_offset_length_metadata_and_no_store() -> None:
    ex = exchange("HEAD", "abc", **TUS)
    assert ex.begin() == [LoadUpload("abc", lock=False)]
    answer = reply(ex.loaded(INFO))
    assert answer.status == 200
    assert answer.header("Upload-Offset") == "10"
    assert answer.header("Upload-Length") == "40"
    assert answer.header("Upload-Metadata") == "filename YS50eHQ="
    assert answer.header("Cache-Control") == "no-store"
    assert answer.body == b""


def test_404_for_an_unknown_upload_and_410_after_termination() -> None:
    ex = exchange("HEAD", "abc", **TUS)
    ex.begin()
    assert reply(ex.loaded(None)).status == 404
    ex = exchange("PATCH", "abc", **TUS, **OCTETS, Upload_Offset="10")
    ex.begin()
    assert reply(ex.loaded(attrs.evolve(INFO, state="terminated"))).status == 410


def test_an_expired_upload_is_terminated_and_answers_410() -> None:
    ex = exchange("HEAD", "abc", **TUS)
    ex.begin()
    assert ex.loaded(attrs.evolve(INFO, expires=NOW)) == [Terminate("abc", "expired")]
    assert reply(ex.terminated()).status == 410


# --- PATCH --------------------------------------------------------------------------------------


def test_415_on_a_patch_without_the_offset_content_type() -> None:
    answer = reply(exchange("PATCH", "abc", **TUS, Upload_Offset="0").begin())
    assert answer.status == 415


def test_409_on_a_wrong_offset_with_the_right_one() -> None:
    ex = exchange("PATCH", "abc", **TUS, **OCTETS, Upload_Offset="9")
    assert ex.begin() == [LoadUpload("abc", lock=True)]
    answer = reply(ex.loaded(INFO))
    assert (answer.status, answer.header("Upload-Offset")) == (409, "10")


def test_413_when_the_body_would_pass_the_length() -> None:
    ex = exchange("PATCH", "abc", **TUS, **OCTETS, Upload_Offset="10", Content_Length="31")
    ex.begin()
    assert reply(ex.loaded(INFO)).status == 413


def test_423_when_another_request_holds_the_lock() -> None:
    ex = exchange("PATCH", "abc", **TUS, **OCTETS, Upload_Offset="10")
    ex.begin()
    answer = reply(ex.busy())
    assert answer.status == 423
    assert b"another request is writing" in answer.body


def test_patch_writes_checkpoints_at_multiples_and_commits() -> None:
    ex = exchange("PATCH", "abc", **TUS, **OCTETS, Upload_Offset="10")
    ex.begin()
    assert ex.loaded(INFO) == [StartWriting(10)]
    assert ex.receive_data(b"x" * 30) == [
        Write(b"x" * 6),
        Checkpoint(16, NOW + 60),
        Write(b"x" * 16),
        Checkpoint(32, NOW + 60),
        Write(b"x" * 8),
    ]
    out = ex.end_of_body()
    assert out[0] == Commit(40, complete=True, expires=None)
    assert reply(out).header("Upload-Offset") == "40"
    assert (ex.offset, ex.info, ex.over, ex.method) == (40, INFO, True, "PATCH")


def test_bytes_past_the_length_of_a_chunked_body_are_not_taken() -> None:
    ex = exchange("PATCH", "abc", **TUS, **OCTETS, Upload_Offset="10")
    ex.begin()
    ex.loaded(attrs.evolve(INFO, length=12))
    assert ex.receive_data(b"abcdef") == [Write(b"ab")]
    assert ex.receive_data(b"more") == []


def test_a_patch_on_a_completed_upload_at_its_length_is_204() -> None:
    ex = exchange("PATCH", "abc", **TUS, **OCTETS, Upload_Offset="40", Content_Length="0")
    ex.begin()
    assert reply(ex.loaded(attrs.evolve(INFO, offset=40, state="completed"))).status == 204


@pytest.mark.parametrize("algorithm", ["sha1", "sha256"])
def test_checksum_match_commits_and_mismatch_drops_with_460(algorithm: str) -> None:
    for body, sent, status in [(b"right", b"right", 204), (b"right", b"wrong", 460)]:
        ex = exchange(
            "PATCH",
            "abc",
            **TUS,
            **OCTETS,
            Upload_Offset="10",
            Upload_Checksum=checksum(algorithm, body),
        )
        ex.begin()
        ex.loaded(INFO)
        assert ex.receive_data(sent) == [Write(sent)]  # no checkpoint before it is checked
        out = ex.end_of_body()
        assert reply(out).status == status
        if status == 460:
            assert isinstance(out[0], Drop)
            assert b"the offset stays 10" in reply(out).body
        else:
            assert out[0] == Commit(15, complete=False, expires=NOW + 60)


def test_an_interrupted_patch_keeps_its_bytes_unless_it_has_a_checksum() -> None:
    ex = exchange("PATCH", "abc", **TUS, **OCTETS, Upload_Offset="10")
    ex.begin()
    ex.loaded(INFO)
    ex.receive_data(b"abc")
    assert ex.disconnected()[0] == Commit(13, complete=False, expires=NOW + 60)
    ex = exchange(
        "PATCH", "abc", **TUS, **OCTETS, Upload_Offset="10", Upload_Checksum=checksum("sha1", b"")
    )
    ex.begin()
    ex.loaded(INFO)
    ex.receive_data(b"abc")
    assert isinstance(ex.disconnected()[0], Drop)


@pytest.mark.parametrize(
    "value", ["md5 AAAA", "sha1", "sha1 !!!", "sha256 " + base64.b64encode(b"short").decode()]
)
def test_400_on_an_unsupported_or_malformed_checksum(value: str) -> None:
    answer = reply(
        exchange("PATCH", "abc", **TUS, **OCTETS, Upload_Offset="0", Upload_Checksum=value).begin()
    )
    assert answer.status == 400
    assert b"Upload-Checksum" in answer.body


# --- DELETE -------------------------------------------------------------------------------------


def test_delete_terminates_under_the_lock_and_answers_204() -> None:
    ex = exchange("DELETE", "abc", **TUS)
    assert ex.begin() == [LoadUpload("abc", lock=True)]
    assert ex.loaded(INFO) == [Terminate("abc", "terminated")]
    assert reply(ex.terminated()).status == 204


def test_a_driver_call_out_of_turn_is_a_local_protocol_error() -> None:
    ex = exchange("HEAD", "abc", **TUS)
    with pytest.raises(LocalProtocolError, match=r"receive_data\(\) is not allowed"):
        ex.receive_data(b"x")
    ex.begin()
    with pytest.raises(LocalProtocolError, match="created"):
        ex.created(INFO)


def test_config_and_header_readers_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="max_size"):
        TusConfig(max_size=0)
    with pytest.raises(ValueError, match="expires_after"):
        TusConfig(expires_after=-1)
    with pytest.raises(ValueError, match="checkpoint_every"):
        TusConfig(checkpoint_every=0)
    with pytest.raises(BadHeader, match="Upload-Offset"):
        read_size("Upload-Offset", "+3")
    assert read_metadata("a YQ==, b") == (("a", "YQ=="), ("b", None))
    assert read_checksum("SHA1 " + base64.b64encode(bytes(20)).decode()) == ("sha1", bytes(20))


# --- any sequence of requests -------------------------------------------------------------------


@attrs.define
class ModelUpload:
    info: UploadInfo
    data: bytes  # the bytes kept: what the saved offset covers
    residue: bytes = b""  # written after the saved offset by a request that then stopped


@attrs.define
class ModelStore:
    """What a store keeps: the records and their bytes (the driver's side of the exchange)."""

    uploads: dict[str, ModelUpload] = attrs.Factory(dict)
    locked: set[str] = attrs.Factory(set)
    offsets: dict[str, list[int]] = attrs.Factory(dict)


@st.composite
def requests(draw: st.DrawFn, source: bytes) -> tuple[str, Mapping[str, str], list[bytes], str]:
    """A request: method, headers, body pieces, and how it ends (end, cut, or racing)."""
    method = draw(st.sampled_from(["POST", "HEAD", "PATCH", "PATCH", "PATCH", "DELETE", "GET"]))
    headers: dict[str, str] = {}
    if draw(st.integers(0, 9)):
        headers["Tus-Resumable"] = "1.0.0"
    if method == "POST":
        headers["Upload-Length"] = (
            str(len(source))
            if draw(st.booleans())
            else draw(st.sampled_from(["", "-1", "99999", "0"]))
        )
    if method == "PATCH" and draw(st.integers(0, 9)):
        headers.update(OCTETS)
    pieces = draw(st.lists(st.integers(0, 20), max_size=4))
    if method == "PATCH" and draw(st.integers(0, 3)) == 0:
        headers["Upload-Checksum"] = "sha1 " + draw(st.sampled_from(["good", "bad"]))
    end = draw(st.sampled_from(["end", "end", "cut", "locked", "time passes"]))
    return method, headers, [b"x" * n for n in pieces], end


def drive(
    store: ModelStore, source: bytes, request: tuple[str, Mapping[str, str], list[bytes], str]
) -> Reply | None:
    """Run one request through an Exchange against the model store, as the endpoint does."""
    method, headers, pieces, end = request
    now = NOW + (3600 if end == "time passes" else 0)
    ids = sorted(store.uploads)
    upload_id = ids[-1] if ids and method != "POST" else ("none" if method != "POST" else None)
    headers = dict(headers)
    current = store.uploads.get(upload_id) if upload_id else None
    offset = current.info.offset if current else 0
    if method == "PATCH":
        headers["Upload-Offset"] = str(offset if end != "locked" else offset + 1)
    # The body is the client's next bytes, from the offset it was told.
    body = source[offset : offset + sum(len(p) for p in pieces)]
    pieces = [body[sum(map(len, pieces[:i])) :][: len(p)] for i, p in enumerate(pieces)]
    if headers.get("Upload-Checksum") == "sha1 good":
        headers["Upload-Checksum"] = checksum("sha1", b"".join(pieces))
    elif headers.get("Upload-Checksum") == "sha1 bad":
        headers["Upload-Checksum"] = checksum("sha1", b"not the body")
    ex = Exchange(CONFIG, method, upload_id, headers, now=now)
    queue = list(ex.begin())
    answer: Reply | None = None
    written = b""
    body_fed = False
    while queue:
        output = queue.pop(0)
        if isinstance(output, Reply):
            answer = output
        elif isinstance(output, CreateUpload):
            new = f"u{len(store.uploads):03d}"
            store.uploads[new] = ModelUpload(
                UploadInfo(new, output.length, 0, (), output.expires), b""
            )
            store.offsets[new] = [0]
            queue += ex.created(store.uploads[new].info)
            upload_id = new
        elif isinstance(output, LoadUpload):
            held = store.uploads.get(output.upload_id)
            if output.lock and end == "locked" and method == "DELETE":
                queue += ex.busy()
            else:
                queue += ex.loaded(None if held is None else held.info)
        elif isinstance(output, StartWriting):
            assert upload_id is not None
            held = store.uploads[upload_id]
            assert output.offset == held.info.offset == len(held.data)
            held.residue = b""  # resume cuts it (L17)
            written = held.data
            if not body_fed:
                body_fed = True
                has_body = method == "PATCH" or "Content-Type" in headers
                for piece in (pieces if end != "cut" else pieces[:-1]) if has_body else []:
                    queue += ex.receive_data(piece)
                queue += ex.end_of_body() if end != "cut" else ex.disconnected()
        elif isinstance(output, Write):
            written += output.data
        elif isinstance(output, (Checkpoint, Commit)):
            assert upload_id is not None
            held = store.uploads[upload_id]
            assert output.offset == len(written)
            complete = isinstance(output, Commit) and output.complete
            held.info = attrs.evolve(
                held.info, offset=output.offset, state="completed" if complete else "open"
            )
            held.data = written
            store.offsets[upload_id].append(output.offset)
        elif isinstance(output, Drop):
            assert upload_id is not None
            held = store.uploads[upload_id]
            held.residue = written[len(held.data) :]
        elif isinstance(output, Terminate):
            held = store.uploads[output.upload_id]
            held.info = attrs.evolve(held.info, state="terminated")
            held.data = b""
            queue += ex.terminated()
    return answer


@settings(max_examples=300, deadline=None)
@given(st.data(), st.binary(min_size=0, max_size=60))
def test_any_sequence_of_requests_keeps_exactly_the_clients_bytes(
    data: st.DataObject, source: bytes
) -> None:
    store = ModelStore()
    for _ in range(data.draw(st.integers(1, 12))):
        request = data.draw(requests(source))
        answer = drive(store, source, request)
        assert answer is not None or request[3] == "cut"
        if answer is not None:
            assert answer.header("Tus-Resumable") == "1.0.0"
            assert answer.status in {
                200,
                201,
                204,
                400,
                404,
                405,
                409,
                410,
                412,
                413,
                415,
                423,
                460,
            }
        for upload_id, upload in store.uploads.items():
            offsets = store.offsets[upload_id]
            assert offsets == sorted(offsets)  # offsets only grow
            if upload.info.state != "terminated":
                # No byte lost, none twice: what is kept is the client's prefix.
                assert upload.data == source[: upload.info.offset]
                assert upload.info.offset <= upload.info.length
            if upload.info.state == "completed":
                assert upload.data == source[: upload.info.length]


def test_the_rarer_requests() -> None:
    answer = reply(exchange("PATCH", "abc", **TUS, **OCTETS).begin())
    assert (answer.status, b"PATCH needs Upload-Offset" in answer.body) == (400, True)
    ex = exchange("PATCH", "abc", **TUS, **OCTETS, Upload_Offset="10", Content_Length="lots")
    ex.begin()
    assert ex.loaded(INFO) == [StartWriting(10)]  # no usable length: bytes are counted
    assert exchange("HEAD", "abc", **TUS).disconnected() == []  # gone before any work
    with pytest.raises(BadHeader, match="not base64"):
        read_metadata("a YQ")  # base64 letters, wrong padding
