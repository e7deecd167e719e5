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
    serve.set_defaults(run=run_serve)


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
