"""The HTTP forwarders' protocol side, sans-IO: options, and h11 turning events into bytes and back.

Theory of operation
-------------------
h11 is a state machine like our reducer: the writers hand it events (the
request head, each chunk as ``Data``, ``EndOfMessage``) and get bytes to
send; they hand it the bytes received and get the response back as events.
Nothing here touches a socket: ``_http.py`` moves the bytes, over a socket
(sync) or an anyio stream (async). One connection per upload, never reused.

The request body is framed so that the receiver can tell a whole body from
a cut one: ``Content-Length`` when ``content_length`` is given, else chunked
encoding. ``Done()`` sends the end of the body and reads the response;
``Cancel()`` and ``Error(...)`` just drop the connection, so the body ends
early (short of its length, or without the last chunk) and the receiver
sees an incomplete request, never a complete one. Redirects are not
followed: a 3xx is an answer like any other that is not 2xx.
"""

from __future__ import annotations

import math
import re
import ssl
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from .._errors import InvalidLimit, safe_repr

if TYPE_CHECKING:
    import h11

__all__ = (
    "MAX_RESPONSE_BODY",
    "ForwardError",
    "ForwardStatusError",
    "HttpForwardOpts",
    "Response",
    "Target",
    "chunk_bytes",
    "end_bytes",
    "need_h11",
    "request_bytes",
    "target",
)

#: The response body kept in the meta (and in ``ForwardStatusError``): the rest is not read.
MAX_RESPONSE_BODY = 64 * 1024

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FRAMING = frozenset({"content-length", "transfer-encoding"})


def need_h11(who: str) -> None:
    """Raise a clear ``ImportError`` if h11 is missing."""
    try:
        import h11  # noqa: F401
    except ImportError as exc:  # pragma: no cover - the test environment has h11
        raise ImportError(f"{who} needs h11: pip install 'uploadwriter[http]'") from exc


class ForwardError(Exception):
    """The ``Err`` reason when forwarding fails: no connection, a timeout, a broken exchange."""


class ForwardStatusError(ForwardError):
    """The ``Err`` reason when the receiver answers a status other than 2xx (3xx included)."""

    def __init__(self, url: str, response: Response) -> None:
        excerpt = response.body[:200].decode("utf-8", "replace")
        where = ""
        if 300 <= response.status < 400:
            location = dict(response.headers).get("location")
            where = f" (redirects are not followed; Location: {location})"
        super().__init__(
            f"{url} answered {response.status} {response.reason}{where}"
            + (f": {excerpt}" if excerpt else "")
        )
        self.status: int = response.status  #: the status code
        #: The response headers, names in lowercase.
        self.headers: dict[str, str] = dict(response.headers)
        self.body: bytes = response.body  #: the body, at most its first 64 KiB


# --- options --------------------------------------------------------------------------------


@attrs.frozen
class Target:
    """Where a URL points: what to connect to, and what to put in the request line."""

    https: bool
    host: str
    port: int
    host_header: str
    path: str


def target(url: str) -> Target:
    """Split ``url`` into a :class:`Target`.

    Raises:
        ValueError: not an http(s) URL with a host, or it carries credentials
            or a fragment, or its port is not a number.
    """
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            "HttpForwardOpts.url must be an http:// or https:// URL with a host, "
            f"not {safe_repr(url)}"
        )
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            "HttpForwardOpts.url must not carry credentials: "
            "put them in headers, e.g. ('Authorization', 'Basic ...')"
        )
    if parts.fragment:
        raise ValueError(
            f"HttpForwardOpts.url has a fragment, which is never sent: {safe_repr(url)}"
        )
    try:
        explicit = parts.port
    except ValueError:
        raise ValueError(f"HttpForwardOpts.url has a bad port: {safe_repr(url)}") from None
    https = scheme == "https"
    port = explicit if explicit is not None else (443 if https else 80)
    host = parts.hostname
    shown = f"[{host}]" if ":" in host else host
    host_header = shown if explicit is None else f"{shown}:{explicit}"
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(https, host, port, host_header, path)


def _url(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str):
        raise TypeError(f"HttpForwardOpts.url must be a str, not {safe_repr(value)}")
    target(value)


def _method(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not _TOKEN.fullmatch(value):
        raise ValueError(
            f"HttpForwardOpts.method must be an HTTP method such as 'PUT', not {safe_repr(value)}"
        )


def _pairs(value: object) -> object:
    items = value.items() if isinstance(value, Mapping) else value
    if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
        return value
    return tuple(tuple(item) if isinstance(item, (list, tuple)) else item for item in items)


def _headers(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, tuple):
        raise TypeError(
            "HttpForwardOpts.headers must be (name, value) pairs or a mapping, "
            f"not {safe_repr(value)}"
        )
    for pair in value:
        if not (
            isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(x, str) for x in pair)
        ):
            raise TypeError(
                f"HttpForwardOpts.headers: each header is a (str, str) pair, not {safe_repr(pair)}"
            )
        name, text = pair
        if not _TOKEN.fullmatch(name):
            raise ValueError(f"HttpForwardOpts.headers: {safe_repr(name)} is not a header name")
        if any(c in text for c in "\r\n\0"):
            raise ValueError(
                f"HttpForwardOpts.headers: the value of {safe_repr(name)} has a line break"
            )
        if name.lower() in _FRAMING:
            raise ValueError(
                f"HttpForwardOpts.headers must not set {name}: the writer frames the body "
                "(give content_length=N for Content-Length; chunked otherwise)"
            )


def _content_length(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"HttpForwardOpts.content_length must be an int or None, not {safe_repr(value)}"
        )
    if value < 0:
        raise InvalidLimit(f"HttpForwardOpts.content_length must not be negative, not {value}")


def _timeout(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"HttpForwardOpts.timeout must be a number of seconds, not {safe_repr(value)}"
        )
    try:
        seconds = float(value)
    except OverflowError:  # an int too large for a float: not finite either
        seconds = math.inf
    if not (seconds > 0 and math.isfinite(seconds)):
        raise InvalidLimit(
            f"HttpForwardOpts.timeout must be more than 0 seconds, and finite, not "
            f"{safe_repr(value)}"
        )


def _ssl_context(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, ssl.SSLContext):
        raise TypeError(
            f"HttpForwardOpts.ssl_context must be an ssl.SSLContext or None, not {safe_repr(value)}"
        )


@attrs.frozen
class HttpForwardOpts:
    """Options of :class:`HttpForwardWriter` and :class:`AsyncHttpForwardWriter`.

    Raises:
        TypeError: an option is of the wrong type.
        ValueError: ``url`` is not an http(s) URL with a host (or has
            credentials or a fragment), ``method`` is not a token, a header
            is malformed or sets the framing, ``content_length`` is negative,
            ``timeout`` is not positive.
    """

    #: Where to send the upload: ``http://`` or ``https://``.
    url: str = attrs.field(validator=_url)
    #: The request's method.
    method: str = attrs.field(default="PUT", validator=_method)
    #: Extra request headers: ``(name, value)`` pairs (a mapping is accepted).
    headers: tuple[tuple[str, str], ...] = attrs.field(
        default=(), converter=_pairs, validator=_headers
    )
    #: The body's exact size, sent as ``Content-Length``; ``None``: chunked encoding.
    content_length: int | None = attrs.field(default=None, validator=_content_length)
    #: Seconds allowed to connect, and for each send and each receive.
    timeout: float = attrs.field(default=30.0, validator=_timeout)
    #: For https: the TLS settings (e.g. a private CA); default ``ssl.create_default_context()``.
    ssl_context: ssl.SSLContext | None = attrs.field(
        default=None, validator=_ssl_context, repr=False, eq=False, hash=False
    )


# --- the exchange, sans-IO -----------------------------------------------------------------


@attrs.frozen
class Response:
    """The receiver's answer: status, headers (names in lowercase), the body's first bytes."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


def request_bytes(opts: HttpForwardOpts, where: Target) -> tuple[h11.Connection, bytes]:
    """A client connection, and the request head to send first."""
    import h11

    framing = (
        ("Content-Length", str(opts.content_length))
        if opts.content_length is not None
        else ("Transfer-Encoding", "chunked")
    )
    given = {name.lower() for name, _ in opts.headers}
    host = [] if "host" in given else [("Host", where.host_header)]
    conn = h11.Connection(h11.CLIENT)
    head = conn.send(
        h11.Request(
            method=opts.method,
            target=where.path,
            headers=[*host, *opts.headers, framing],
        )
    )
    assert head is not None
    return conn, head


def chunk_bytes(conn: h11.Connection, data: bytes) -> bytes:
    """The bytes that carry ``data`` in the body.

    Raises:
        ForwardError: more bytes than ``content_length``.
    """
    import h11

    try:
        out = conn.send(h11.Data(data=data))
    except h11.LocalProtocolError as exc:
        raise ForwardError(f"the upload is longer than its content_length: {exc}") from exc
    assert out is not None
    return out


def end_bytes(conn: h11.Connection) -> bytes:
    """The bytes that end the body.

    Raises:
        ForwardError: fewer bytes than ``content_length`` were sent.
    """
    import h11

    try:
        out = conn.send(h11.EndOfMessage())
    except h11.LocalProtocolError as exc:
        raise ForwardError(f"the upload is shorter than its content_length: {exc}") from exc
    assert out is not None
    return out


class ResponseReader:
    """Collects the response from h11's events, keeping at most ``MAX_RESPONSE_BODY`` bytes."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.head: h11.Response | None = None
        self.body = bytearray()
        self.ended = False  # the receiver closed its side

    def feed(self, conn: h11.Connection, data: bytes) -> None:
        """Give h11 the bytes received (``b""`` at the end of the stream)."""
        self.ended = not data
        conn.receive_data(data)

    def done(self, conn: h11.Connection) -> bool:
        """Read the events h11 has; return whether the response is complete (or long enough).

        Raises:
            ForwardError: the receiver broke the protocol or closed without answering.
        """
        import h11

        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                if self.ended and self.head is None:
                    raise ForwardError(
                        f"{self.url} closed the connection without answering"
                    ) from exc
                raise ForwardError(f"{self.url} sent a malformed response: {exc}") from exc
            if event is h11.NEED_DATA:
                return False
            if isinstance(event, h11.Response):
                self.head = event
            elif isinstance(event, h11.Data):
                self.body += event.data
                if len(self.body) >= MAX_RESPONSE_BODY:
                    return True  # enough: the rest is not read
            elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                return True
            # InformationalResponse (100 Continue...) is skipped.

    def response(self) -> Response:
        """The response read (call once :meth:`done` answered ``True``)."""
        assert self.head is not None
        return Response(
            self.head.status_code,
            self.head.reason.decode("latin-1"),
            tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in self.head.headers),
            bytes(self.body[:MAX_RESPONSE_BODY]),
        )


def meta(response: Response | None) -> Mapping[str, object]:
    """``{"status", "headers", "body"}``; repeated headers are joined with ``", "``."""
    assert response is not None, "meta is only asked for after Done() answered Ok"
    headers: dict[str, str] = {}
    for name, value in response.headers:
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return {"status": response.status, "headers": headers, "body": response.body}
