"""The ``uploadwriter`` command line."""

from __future__ import annotations

import argparse
import json
import logging
import os
import stat
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
        info = os.fstat(source.fileno())
        # Pipes, devices and /proc files announce no size (or 0): stream them
        # until EOF with no expected size, and a bar without a total.
        size = info.st_size if stat.S_ISREG(info.st_mode) and info.st_size > 0 else None
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
            Uploader(writer, opts) as up,
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


def _json(text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(
            f'must be JSON, e.g. \'{{"level": "debug"}}\': {exc}'
        ) from None


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _check(args: argparse.Namespace) -> int:
    # Imported here: only `check` needs Hypothesis, which `send` must not require.
    try:
        from .testing._cli import run_check
    except ImportError as exc:
        print(
            f"uploadwriter check: needs Hypothesis ({exc}); "
            "install it with: pip install 'uploadwriter[testing]'",
            file=sys.stderr,
        )
        return 2
    return run_check(
        args.target, args.opts, max_examples=args.max_examples, fds=args.fds, sizes=args.sizes
    )


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
    check = commands.add_parser(
        "check",
        help="property-test a writer against the laws of uploadwriter.testing",
        description=(
            "Run uploadwriter.testing.check_writer on a writer: one fixed upload per close "
            "path, then uploads generated by Hypothesis, through the real drivers, checking "
            "every law. Exit status 0: all laws hold (a report on stdout); 1: one is "
            "broken (a report on stderr); 2: bad usage."
        ),
        epilog=(
            "What a completed upload made is released with the writer's discard(state) "
            "hook, if it has one (TmpFileWriter removes its file). Hypothesis's example "
            "database and caches go to $XDG_CACHE_HOME/uploadwriter/hypothesis (by default "
            "~/.cache/uploadwriter/hypothesis), never the current directory; set "
            "HYPOTHESIS_STORAGE_DIRECTORY to choose another place."
        ),
    )
    check.add_argument(
        "target",
        metavar="MODULE:ATTR",
        help="the writer: a class (created with no arguments) or an instance, "
        "e.g. uploadwriter.writers:EchoWriter",
    )
    check.add_argument(
        "--opts",
        type=_json,
        default={},
        metavar="JSON",
        help="the opts given to the writer's init, as JSON (default: {})",
    )
    check.add_argument(
        "--max-examples",
        type=_count,
        default=None,
        metavar="N",
        help="how many uploads Hypothesis generates, after the fixed ones (default: 100)",
    )
    check.add_argument(
        "--fds",
        action="store_true",
        help="also check that no file descriptor stays open after an upload (law f)",
    )
    check.add_argument(
        "--sizes",
        default=None,
        metavar="SIZES",
        help="sizes where the writer changes behaviour (a part or buffer size), comma "
        "separated, in bytes or with a unit: 131072,6MiB (KB, MB: powers of 1000; "
        "KiB, MiB: of 1024). Adds uploads of each size, one byte less and more, and "
        "with a chunk crossing it",
    )
    check.set_defaults(run=_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    return run(args)
