"""Upload a local file to S3 with ``AsyncS3Writer``, on asyncio or trio.

    python examples/s3_upload.py FILE BUCKET KEY [--backend trio] [--part-size MiB]

The client is boto3's default (credentials, region and endpoint configured
the usual way: ``AWS_PROFILE``, ``AWS_ENDPOINT_URL_S3``...). The file is read
in 1 MiB chunks; a part goes to S3, in a worker thread, each time
``part_size`` bytes have arrived. Prints the meta as JSON.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import os
import sys
from collections.abc import Mapping

import anyio

from uploadwriter import AsyncUploader, Chunk, Done
from uploadwriter.writers import AsyncS3Writer, S3Opts

CHUNK = 2**20


async def upload_file(
    path: str, bucket: str, key: str, *, client: object = None, part_size: int = 8 * 2**20
) -> Mapping[str, object]:
    """Stream the file at ``path`` to ``s3://bucket/key``; return the writer's meta."""
    content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    opts = S3Opts(
        bucket, key, client=client, part_size=part_size, extra_args={"ContentType": content_type}
    )
    size = os.path.getsize(path)
    async with (
        await anyio.open_file(path, "rb") as source,
        AsyncUploader(AsyncS3Writer(), opts, expected_size=size) as up,
    ):
        while data := await source.read(CHUNK):
            await up.send(Chunk(data))
        await up.send(Done())  # closes an empty file; a no-op once size bytes arrived
    return up.meta()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("bucket")
    parser.add_argument("key")
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    parser.add_argument("--part-size", type=int, default=8, metavar="MiB")
    args = parser.parse_args(argv)

    async def run() -> Mapping[str, object]:
        return await upload_file(args.file, args.bucket, args.key, part_size=args.part_size * 2**20)

    meta = anyio.run(run, backend=args.backend)
    print(json.dumps(dict(meta)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
