"""The ``uploadwriter`` command line."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from ._errors import UploadError
from ._events import Chunk, Done
from ._sync import Uploader
from .writers import EchoOpts, EchoWriter, TmpFileOpts, TmpFileWriter

__all__ = ("main",)

DEFAULT_CHUNK_SIZE = 64_000  # Phoenix's default chunk size


def _chunk_size(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number of bytes, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 byte, not {value}")
    return value


def _send(args: argparse.Namespace) -> int:
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    path: str = args.file
    chunk_size: int = args.chunk_size
    try:
        source = open(path, "rb")  # noqa: SIM115 - closed in the finally below
    except OSError as exc:
        print(f"uploadwriter send: cannot read {path!r}: {exc.strerror}", file=sys.stderr)
        return 1
    writer: Any
    opts: Any
    if args.writer == "echo":
        writer, opts = EchoWriter(), EchoOpts(level="info")
        logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    else:
        writer, opts = TmpFileWriter(), TmpFileOpts()
    try:
        size = os.fstat(source.fileno()).st_size
        with (
            logging_redirect_tqdm(),
            tqdm(
                total=size,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=os.path.basename(path),
                file=sys.stderr,
                disable=args.quiet,
            ) as bar,
            Uploader(writer, opts, expected_size=size) as up,
        ):
            while data := source.read(chunk_size):
                up.send(Chunk(data))
                bar.update(len(data))
            up.send(Done())
        meta = up.meta()
    except UploadError as exc:
        print(f"uploadwriter send: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"uploadwriter send: cannot read {path!r}: {exc.strerror}", file=sys.stderr)
        return 1
    finally:
        source.close()
    print(json.dumps(dict(meta), default=str))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="uploadwriter",
        description="Stream uploads through upload writers, and check writers.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    send = commands.add_parser(
        "send",
        help="stream a local file through a writer in chunks, and print its meta as JSON",
        description=(
            "Stream FILE through the reducer and a writer, chunk by chunk, with a "
            "progress bar on stderr; print the writer's meta as one JSON object on stdout."
        ),
    )
    send.add_argument("file", metavar="FILE", help="the file to upload")
    send.add_argument(
        "--writer",
        choices=("tmpfile", "echo"),
        default="tmpfile",
        help="tmpfile: copy into a new temp file (meta: its path); echo: log chunk sizes",
    )
    send.add_argument(
        "--chunk-size",
        type=_chunk_size,
        default=DEFAULT_CHUNK_SIZE,
        metavar="N",
        help=f"bytes per chunk (default {DEFAULT_CHUNK_SIZE:_}, as Phoenix)",
    )
    send.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    send.set_defaults(run=_send)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    return run(args)
