"""A real S3 for the tests: moto's server on 127.0.0.1, started by the tests, used through boto3."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator, Mapping
from typing import Any

import attrs
import pytest
from hypothesis import strategies as st

from uploadwriter import Cancel, Chunk, Done, Event
from uploadwriter.testing import EventStream, event_streams

MiB = 2**20

_names = itertools.count()


@attrs.frozen
class S3:
    """The moto server's address, a boto3 client for it, and a fresh bucket for one test."""

    endpoint: str
    client: Any
    bucket: str

    def objects(self) -> list[str]:
        listing = self.client.list_objects_v2(Bucket=self.bucket)
        return [o["Key"] for o in listing.get("Contents", [])]

    def in_progress(self) -> list[str]:
        listing = self.client.list_multipart_uploads(Bucket=self.bucket)
        return [f"{u['Key']} (upload {u['UploadId'][:12]}…)" for u in listing.get("Uploads", [])]

    def leaks(self) -> list[str]:
        """``leaks=``: unfinished multipart uploads, and objects nobody consumed."""
        return [f"in progress: {u}" for u in self.in_progress()] + [
            f"object: {k}" for k in self.objects()
        ]

    def consume(self, meta: Mapping[str, object]) -> None:
        """``consume=``: read the object back as the application would, then delete it."""
        body = self.client.get_object(Bucket=meta["bucket"], Key=meta["key"])["Body"].read()
        assert len(body) == meta["size"]
        self.client.delete_object(Bucket=meta["bucket"], Key=meta["key"])

    def read(self, key: str) -> bytes:
        data: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return data


def client_for(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(moto_endpoint: str) -> Iterator[S3]:
    client = client_for(moto_endpoint)
    bucket = f"test-bucket-{next(_names)}"
    client.create_bucket(Bucket=bucket)
    yield S3(moto_endpoint, client, bucket)
    for key in S3(moto_endpoint, client, bucket).objects():
        client.delete_object(Bucket=bucket, Key=key)


@st.composite
def _part_streams(draw: st.DrawFn, part: int) -> EventStream:
    """Uploads whose sizes sit on and around the part size, from cheap patterned data."""
    pattern = draw(st.binary(min_size=1, max_size=8))
    sizes = st.sampled_from([0, 1, 64_000, part - 1, part, part + 1, 2 * part + 1])
    body: list[Event] = [
        Chunk((pattern * (n // len(pattern) + 1))[:n])
        for n in draw(st.lists(sizes, min_size=1, max_size=3))
    ]
    total = sum(len(e.data) for e in body if isinstance(e, Chunk))
    body.extend(draw(st.sampled_from([(Done(),), (Cancel(),), ()])))
    expected = total if draw(st.booleans()) else None
    fail_at = draw(st.none() | st.integers(0, len(body) - 1))
    return EventStream(
        tuple(body), expected, None, fail_at, "injected" if fail_at is not None else None
    )


def part_streams(part: int) -> st.SearchStrategy[EventStream]:
    """``streams=`` for a writer that changes behaviour at ``part`` bytes, and the kit's own."""
    return st.one_of(_part_streams(part), event_streams(max_chunks=5, max_chunk_size=64_000))
