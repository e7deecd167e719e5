"""The ``uploadwriter`` command line."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import stat
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, BinaryIO

from . import __version__
from ._destinations import parse_destination, writer_for
from ._errors import UploadError
from ._events import Chunk, Done
from ._protocols import discard
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


def _open(path: str) -> tuple[BinaryIO, str]:
    """The source to upload and its name in messages; ``-`` is standard input.

    Raises:
        OSError: the file cannot be opened.
    """
    if path == "-":
        return sys.stdin.buffer, "<stdin>"
    return open(path, "rb"), repr(path)


def _announced_size(source: BinaryIO) -> int | None:
    """The size a regular file announces; None for pipes, devices and /proc files (size 0)."""
    try:
        info = os.fstat(source.fileno())
    except (OSError, ValueError):  # no descriptor (stdin replaced), or closed
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) and info.st_size > 0 else None


def _progress_bar(total: int | None, name: str, *, enabled: bool) -> Any:
    from tqdm import tqdm

    # One convention for sizes, with or without a total: decimal units followed
    # by "B" (50_000_000 bytes is 50.0MB), as tqdm's rate already shows them.
    with_total = "{l_bar}{bar}| {n_fmt}{unit}/{total_fmt}{unit} [{elapsed}<{remaining}, {rate_fmt}]"
    return tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        unit_divisor=1000,
        desc=name,
        file=sys.stderr,
        disable=not enabled,
        bar_format=with_total if total is not None else None,
    )


def _writer(name: str) -> tuple[Any, Any]:
    if name == "echo":
        logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
        return EchoWriter(), EchoOpts(level="info")
    return TmpFileWriter(), TmpFileOpts()


def _send(args: argparse.Namespace) -> int:
    from tqdm.contrib.logging import logging_redirect_tqdm

    path: str = args.file
    chunk_size: int = args.chunk_size
    # The bar is for a person watching: drawn only on a terminal unless asked for.
    progress: bool = sys.stderr.isatty() if args.progress is None else args.progress
    try:
        source, name = _open(path)
    except OSError as exc:
        print(f"uploadwriter send: cannot read {path!r}: {exc.strerror}", file=sys.stderr)
        return 1
    writer, opts = _writer(args.writer)
    size = _announced_size(source)
    try:
        if args.to:
            writer, opts = writer_for(args.to, size, path)
        with (
            logging_redirect_tqdm() if progress else contextlib.nullcontext(),
            _progress_bar(size, os.path.basename(path), enabled=progress) as bar,
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
        print(f"uploadwriter send: cannot read {name}: {exc.strerror}", file=sys.stderr)
        return 1
    finally:
        if source is not sys.stdin.buffer:
            source.close()
    return _deliver(meta, writer, up.state)


def _deliver(meta: Mapping[str, object], writer: object, state: object) -> int:
    """Print the meta as JSON on stdout; if it cannot be, discard the upload.

    Whoever runs ``send`` learns where the upload went only from this line: a
    file nobody can find would be left behind, so it is removed instead (the
    writer's ``discard`` hook: ``TmpFileWriter`` removes its file).
    """
    try:
        sys.stdout.write(json.dumps(dict(meta), default=str) + "\n")
        sys.stdout.flush()
    except BaseException as exc:
        discard(writer, state)
        if not isinstance(exc, OSError):  # Ctrl-C: the file is removed all the same
            raise
        _stdout_to_devnull()
        print(
            f"uploadwriter send: cannot write the meta to stdout: {exc.strerror}; "
            "the upload was discarded",
            file=sys.stderr,
        )
        return 1
    return 0


def _to(text: str) -> object:
    try:
        return parse_destination(text)
    except (ValueError, TypeError, ImportError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _stdout_to_devnull() -> None:
    """Point stdout at /dev/null, so that the flush at exit does not fail a second time.

    (The "Note on SIGPIPE" of the signal module's documentation does the same.)
    """
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


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
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    send = commands.add_parser(
        "send",
        help="stream a local file through a writer in chunks, and print its meta as JSON",
        description=(
            "Stream FILE (or standard input, for -) through the reducer and a writer, chunk "
            "by chunk; print the writer's meta as one JSON object on stdout. If the meta "
            "cannot be written (a full disk, a closed pipe), the upload is discarded (the "
            "temp file removed) and the exit status is 1. Ctrl-C cancels the upload (the "
            "temp file is removed) and exits with status 130."
        ),
    )
    send.add_argument("file", metavar="FILE", help="the file to upload; - for standard input")
    where = send.add_mutually_exclusive_group()
    where.add_argument(
        "--to",
        type=_to,
        action="append",
        metavar="DEST",
        help="where the file goes, instead of --writer: sha256 (or any hashlib algorithm; "
        "sha256=HEX also checks the digest), s3://bucket/key, http(s)://host/path (a PUT), "
        "tmpfile; repeat --to to write to several at once",
    )
    where.add_argument(
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
    send.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="draw a progress bar on stderr (default: only when stderr is a terminal); "
        "sizes in decimal units, 1MB = 1,000,000 bytes",
    )
    send.add_argument(
        "-q",
        "--quiet",
        dest="progress",
        action="store_false",
        default=None,  # the default is --progress's: None, "on a terminal"
        help="the same as --no-progress",
    )
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
    _add_serve(commands)
    return parser


def _add_serve(commands: Any) -> None:
    # `serve` comes with the web extra; without it, it says how to get it.
    try:
        from .web._command import add_serve_command
    except ImportError as exc:
        missing = str(exc)
        serve = commands.add_parser("serve", help="run the reference upload server (web extra)")
        serve.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
        serve.set_defaults(run=lambda args: _needs_web(missing))
    else:
        add_serve_command(commands)


def _needs_web(missing: str) -> int:
    print(f"uploadwriter serve: {missing}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except KeyboardInterrupt:
        # The drivers have closed their writers on the way out (L10): for send,
        # the temp file is already removed. One line, and the shell's status.
        print(f"uploadwriter {args.command}: interrupted", file=sys.stderr)
        return 130
