"""``HttpForwardWriter`` and ``AsyncHttpForwardWriter``: stream an upload to another HTTP server.

The protocol (h11, framing, the response) is in ``_forward.py``; these
writers only move its bytes: over a socket, or an anyio stream (asyncio and
trio). Each upload opens one connection in ``init`` and sends the request
head; each chunk goes out as it arrives; ``Done()`` ends the body and reads
the response; ``Cancel()``/``Error(...)`` drop the connection mid-body.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING

import anyio
import anyio.abc
import attrs

from .._errors import safe_repr
from .._events import CloseReason, Done
from .._results import Err, Ok
from ._forward import (
    ForwardError,
    ForwardStatusError,
    HttpForwardOpts,
    Response,
    ResponseReader,
    Target,
    chunk_bytes,
    end_bytes,
    meta,
    need_h11,
    request_bytes,
    target,
)

if TYPE_CHECKING:
    import h11

__all__ = (
    "AsyncHttpForwardState",
    "AsyncHttpForwardWriter",
    "HttpForwardState",
    "HttpForwardWriter",
)

_RECEIVE = 65536


@attrs.frozen
class HttpForwardState:
    """One upload being forwarded.

    Values: ``url``, ``sent`` (body bytes sent), ``timeout``, ``response``
    (once done). Resources, compared by identity: ``conn``, the h11
    connection (where the exchange stands), and ``sock``, the socket.
    Continue from the state the last callback returned.
    """

    url: str
    sent: int
    timeout: float
    conn: h11.Connection = attrs.field(repr=False, eq=False)
    sock: socket.socket = attrs.field(repr=False, eq=False)
    response: Response | None = None


@attrs.frozen
class AsyncHttpForwardState:
    """:class:`HttpForwardState` of the async writer: ``stream`` (a resource) for ``sock``."""

    url: str
    sent: int
    timeout: float
    conn: h11.Connection = attrs.field(repr=False, eq=False)
    stream: anyio.abc.ByteStream = attrs.field(repr=False, eq=False)
    response: Response | None = None


def _refused(opts: object, who: str) -> Err[None] | None:
    if isinstance(opts, HttpForwardOpts):
        return None
    return Err(TypeError(f"{who} needs HttpForwardOpts(url, ...), not {safe_repr(opts)}"), None)


def _failed(what: str, url: str, exc: BaseException, timeout: float) -> ForwardError:
    if isinstance(exc, ForwardError):
        return exc
    if isinstance(exc, TimeoutError):
        error = ForwardError(f"{what} {url} took more than the timeout of {timeout} s")
    else:
        error = ForwardError(f"{what} {url} failed: {type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error


def _answer(state_url: str, response: Response) -> ForwardStatusError | None:
    if 200 <= response.status < 300:
        return None
    return ForwardStatusError(state_url, response)


def _context(opts: HttpForwardOpts) -> ssl.SSLContext:
    return opts.ssl_context if opts.ssl_context is not None else ssl.create_default_context()


def _connect(opts: HttpForwardOpts, where: Target) -> socket.socket:
    sock = socket.create_connection((where.host, where.port), timeout=opts.timeout)
    if not where.https:
        return sock
    try:
        return _context(opts).wrap_socket(sock, server_hostname=where.host)
    except BaseException:
        sock.close()
        raise


class HttpForwardWriter:
    """Stream an upload to another HTTP server as it arrives; meta is its answer.

    Meta is ``{"status": int, "headers": {name: value}, "body": bytes}`` (the
    body's first 64 KiB). A status other than 2xx answers ``Err`` with
    :class:`ForwardStatusError` (redirects are not followed); a connection,
    timeout or protocol failure answers ``Err`` with :class:`ForwardError`.
    The receiver's answer is the product: there is no ``discard``.

    Raises:
        ImportError: h11 is not installed.
    """

    def __init__(self) -> None:
        need_h11("HttpForwardWriter")

    def init(self, opts: HttpForwardOpts) -> Ok[HttpForwardState] | Err[None]:
        """Connect and send the request head (``Err(ForwardError)`` if that fails)."""
        refused = _refused(opts, "HttpForwardWriter")
        if refused is not None:
            return refused
        where = target(opts.url)
        try:
            sock = _connect(opts, where)
        except OSError as exc:
            return Err(_failed("connecting to", opts.url, exc, opts.timeout), None)
        try:
            conn, head = request_bytes(opts, where)
            sock.sendall(head)
        # A fresh connection takes a few hundred bytes at once: these paths
        # are for a peer that resets it at once, or a Ctrl-C just then.
        except Exception as exc:  # noqa: BLE001 # pragma: no cover - see above
            sock.close()
            return Err(_failed("sending the request to", opts.url, exc, opts.timeout), None)
        except BaseException:  # pragma: no cover - see above
            sock.close()
            raise
        return Ok(HttpForwardState(opts.url, 0, opts.timeout, conn, sock))

    def meta(self, state: HttpForwardState) -> Mapping[str, object]:
        """``{"status", "headers", "body"}`` of the receiver's 2xx answer."""
        return meta(state.response)

    def write_chunk(
        self, data: bytes, state: HttpForwardState
    ) -> Ok[HttpForwardState] | Err[HttpForwardState]:
        """Send ``data`` as the next piece of the body."""
        try:
            state.sock.sendall(chunk_bytes(state.conn, data))
        except (OSError, ForwardError) as exc:
            return Err(_failed("sending to", state.url, exc, state.timeout), state)
        return Ok(
            HttpForwardState(
                state.url, state.sent + len(data), state.timeout, state.conn, state.sock
            )
        )

    def close(
        self, state: HttpForwardState, reason: CloseReason
    ) -> Ok[HttpForwardState] | Err[HttpForwardState]:
        """``Done()``: end the body, read the answer. Otherwise drop the connection."""
        if not isinstance(reason, Done):
            state.sock.close()
            return Ok(state)
        try:
            state.sock.sendall(end_bytes(state.conn))
            reader = ResponseReader(state.url)
            while not reader.done(state.conn):
                reader.feed(state.conn, state.sock.recv(_RECEIVE))
            response = reader.response()
        except (OSError, ForwardError) as exc:
            return Err(_failed("waiting for the answer of", state.url, exc, state.timeout), state)
        finally:
            state.sock.close()
        done = attrs.evolve(state, response=response)
        refused = _answer(state.url, response)
        return Err(refused, done) if refused is not None else Ok(done)


class AsyncHttpForwardWriter:
    """:class:`HttpForwardWriter` for :class:`~uploadwriter.AsyncUploader`, on asyncio and trio.

    Over an anyio stream (TLS through anyio for https). A send cut short by
    cancellation leaves the body incomplete; the upload is then cancelled and
    the connection dropped, as for ``Cancel()``.

    Raises:
        ImportError: h11 is not installed.
    """

    def __init__(self) -> None:
        need_h11("AsyncHttpForwardWriter")

    async def init(self, opts: HttpForwardOpts) -> Ok[AsyncHttpForwardState] | Err[None]:
        """Connect and send the request head (``Err(ForwardError)`` if that fails)."""
        refused = _refused(opts, "AsyncHttpForwardWriter")
        if refused is not None:
            return refused
        where = target(opts.url)
        try:
            with anyio.fail_after(opts.timeout):
                stream: anyio.abc.ByteStream
                if where.https:
                    # The body's framing says where it ends, not TLS's close_notify.
                    stream = await anyio.connect_tcp(
                        where.host,
                        where.port,
                        ssl_context=_context(opts),
                        tls_standard_compatible=False,
                    )
                else:
                    stream = await anyio.connect_tcp(where.host, where.port)
        except (OSError, anyio.BrokenResourceError, ssl.SSLError) as exc:
            return Err(_failed("connecting to", opts.url, exc, opts.timeout), None)
        try:
            conn, head = request_bytes(opts, where)
            with anyio.fail_after(opts.timeout):
                await stream.send(head)
        # As in HttpForwardWriter.init: a reset at once, or a cancellation just then.
        except Exception as exc:  # noqa: BLE001 # pragma: no cover - see above
            await anyio.aclose_forcefully(stream)
            return Err(_failed("sending the request to", opts.url, exc, opts.timeout), None)
        except BaseException:  # pragma: no cover - see above
            await anyio.aclose_forcefully(stream)
            raise
        return Ok(AsyncHttpForwardState(opts.url, 0, opts.timeout, conn, stream))

    def meta(self, state: AsyncHttpForwardState) -> Mapping[str, object]:
        """``{"status", "headers", "body"}`` of the receiver's 2xx answer."""
        return meta(state.response)

    async def write_chunk(
        self, data: bytes, state: AsyncHttpForwardState
    ) -> Ok[AsyncHttpForwardState] | Err[AsyncHttpForwardState]:
        """Send ``data`` as the next piece of the body."""
        try:
            out = chunk_bytes(state.conn, data)
            with anyio.fail_after(state.timeout):
                await state.stream.send(out)
        except (OSError, ForwardError, anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
            return Err(_failed("sending to", state.url, exc, state.timeout), state)
        return Ok(
            AsyncHttpForwardState(
                state.url, state.sent + len(data), state.timeout, state.conn, state.stream
            )
        )

    async def close(
        self, state: AsyncHttpForwardState, reason: CloseReason
    ) -> Ok[AsyncHttpForwardState] | Err[AsyncHttpForwardState]:
        """``Done()``: end the body, read the answer. Otherwise drop the connection."""
        if not isinstance(reason, Done):
            await anyio.aclose_forcefully(state.stream)
            return Ok(state)
        try:
            reader = ResponseReader(state.url)
            with anyio.fail_after(state.timeout):
                await state.stream.send(end_bytes(state.conn))
            while not reader.done(state.conn):
                with anyio.fail_after(state.timeout):
                    try:
                        data = await state.stream.receive(_RECEIVE)
                    except anyio.EndOfStream:
                        data = b""
                reader.feed(state.conn, data)
            response = reader.response()
        except (OSError, ForwardError, anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
            return Err(_failed("waiting for the answer of", state.url, exc, state.timeout), state)
        finally:
            await anyio.aclose_forcefully(state.stream)
        done = attrs.evolve(state, response=response)
        refused = _answer(state.url, response)
        return Err(refused, done) if refused is not None else Ok(done)
