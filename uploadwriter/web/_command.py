"""``uploadwriter serve``: the reference upload server on uvicorn."""

from __future__ import annotations

import argparse
import math
import signal
import sys
from typing import Any

from ._serve import DEFAULT_MAX_ENTRIES, DEFAULT_MAX_FILE_SIZE

__all__ = ("add_serve_command", "run_serve")

#: Seconds that in-flight requests get to finish after Ctrl-C; then they are
#: cancelled (their writers closed with Cancel(), so nothing partial is kept).
GRACE_SECONDS = 3


def _whole(minimum: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text.replace("_", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {value}")
        return value

    return parse


def _port(text: str) -> int:
    value: int = _whole(0)(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 to 65535, not {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, not {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, not {text!r}")
    return value


def add_serve_command(commands: Any) -> None:
    """Register ``serve`` on the command line's subcommands (an argparse subparsers action)."""
    serve = commands.add_parser(
        "serve",
        help="run the reference upload server (HTTP and WebSocket) on uvicorn",
        description=(
            "Receive uploads over HTTP (POST /upload multipart/form-data, PUT /upload/NAME) "
            "and the WebSocket page at /, and save them in DIR under names of the server's "
            "choosing, each with its sha256; GET /uploads lists them. Ctrl-C stops it."
        ),
    )
    serve.add_argument("--dir", required=True, metavar="DIR", help="where uploads are saved")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8000, help="port (8000; 0 picks a free one)")
    serve.add_argument(
        "--accept",
        action="append",
        metavar="FILTER",
        help="accepted file types: extensions such as .jpg, MIME types such as image/png, "
        "or image/* for any image (audio, video alike); repeat it or separate them with "
        "commas (default: any)",
    )
    serve.add_argument(
        "--max-file-size",
        type=_whole(1),
        default=DEFAULT_MAX_FILE_SIZE,
        metavar="N",
        help=f"largest file, in bytes (default {DEFAULT_MAX_FILE_SIZE:_})",
    )
    serve.add_argument(
        "--max-entries",
        type=_whole(1),
        default=DEFAULT_MAX_ENTRIES,
        metavar="N",
        help=f"most files per request (default {DEFAULT_MAX_ENTRIES})",
    )
    serve.add_argument(
        "--chunk-timeout",
        type=_seconds,
        default=10.0,
        metavar="S",
        help="seconds a client may send nothing before its upload is cancelled (default 10)",
    )
    tus = serve.add_argument_group(
        "resumable uploads (tus 1.0.0 at /files/)",
        "By default they are kept in DIR/.uploadwriter/tus, which every server on the same "
        "DIR shares. With --tus-s3-bucket they are kept in S3 instead (boto3's usual "
        "configuration: AWS_* variables, ~/.aws), and any server that shares the bucket "
        "and the lock directory resumes them.",
    )
    tus.add_argument(
        "--tus-expires-after",
        type=_seconds,
        default=24 * 3600.0,
        metavar="S",
        help="seconds an unfinished upload is kept after its last request (default 86400)",
    )
    tus.add_argument(
        "--tus-checkpoint-every",
        type=_whole(1),
        default=8 * 2**20,
        metavar="N",
        help="bytes between durable checkpoints inside one PATCH, with the file store "
        "(default 8 MiB; the S3 store checkpoints at each part)",
    )
    tus.add_argument("--tus-s3-bucket", metavar="BUCKET", help="keep tus uploads in this bucket")
    tus.add_argument(
        "--tus-s3-prefix", default="tus/", metavar="PREFIX", help="key prefix in the bucket (tus/)"
    )
    tus.add_argument(
        "--tus-lock-dir",
        metavar="LOCKS",
        help="where the S3 store's flock(2) locks are (default DIR/.uploadwriter/tus-locks); "
        "every server that shares the bucket must share it",
    )
    serve.set_defaults(run=run_serve)


def _tus_store(args: argparse.Namespace) -> Any:
    """The tus store the options ask for."""
    from pathlib import Path

    from ..tus import FileStore, S3Store

    root = Path(args.dir)
    if args.tus_s3_bucket is None:
        return FileStore(root / ".uploadwriter" / "tus", checkpoint_every=args.tus_checkpoint_every)
    import boto3

    locks = args.tus_lock_dir or root / ".uploadwriter" / "tus-locks"
    return S3Store(
        boto3.client("s3"), args.tus_s3_bucket, prefix=args.tus_s3_prefix, lock_directory=locks
    )


def run_serve(args: argparse.Namespace) -> int:
    """Run the server until Ctrl-C or SIGTERM; return the exit status (130 after Ctrl-C, else 0)."""
    import uvicorn

    from ._malloc import steady_malloc
    from ._serve import create_app

    # Half the CPU of receiving a body, on glibc (see _malloc.py).
    steady_malloc()

    accept: Any = "any"
    if args.accept:
        items = (item.strip() for value in args.accept for item in value.split(","))
        accept = [item for item in items if item]
    try:
        app = create_app(
            args.dir,
            accept=accept,
            max_file_size=args.max_file_size,
            max_entries=args.max_entries,
            chunk_timeout=args.chunk_timeout,
            tus_store=_tus_store(args),
            tus_expires_after=args.tus_expires_after,
        )
    except (TypeError, ValueError) as exc:
        print(f"uploadwriter serve: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"uploadwriter serve: cannot use --dir {args.dir!r}: {exc}", file=sys.stderr)
        return 1
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        http="httptools",
        lifespan="off",
        timeout_graceful_shutdown=GRACE_SECONDS,
        log_level="info",
    )
    print(f"uploadwriter serve: saving uploads in {app.state.store.directory}", file=sys.stderr)
    # uvicorn handles Ctrl-C and SIGTERM while it serves (stop accepting, a
    # grace period, then cancel what is in flight), and raises the signal again
    # once it has shut down, for whoever ran it. These handlers are that
    # whoever: they note the signal (the exit status says which) instead of
    # letting asyncio turn it into a cancellation of the finished server.
    caught: list[int] = []
    previous = {
        number: signal.signal(number, lambda number, frame: caught.append(number))
        for number in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        uvicorn.Server(config).run()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    print("uploadwriter serve: stopped", file=sys.stderr)
    # Ctrl-C: the status a shell reports for it; SIGTERM (a service manager): 0.
    return 130 if signal.SIGINT in caught else 0
