"""``UploadChannel``: the ASGI endpoint of the upload channel, and its ``Origin`` check.

Each WebSocket connection it accepts is served by a
:class:`~uploadwriter.web._connection.Connection`, a thin driver over the
protocol (:class:`~uploadwriter.web.Channel`) and the uploads layer.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Callable, Mapping, Sequence

from .._errors import safe_repr
from .._options import count_option
from ..uploads import UploadConfig, UploadEntry
from ._channel import DEFAULT_WINDOW
from ._connection import Connection, ConsumeFn, Receive, Scope, SendFn

__all__ = ("ConsumeFn", "UploadChannel")

log = logging.getLogger("uploadwriter.web")

# Close code sent (before accepting) to a refused Origin: servers answer 403.
_POLICY_VIOLATION = 1008


def default_consume(meta: Mapping[str, object], entry: UploadEntry) -> object:
    """The default ``consume``: tell the client the entry's name and size (the file is dropped)."""
    return {"name": entry.client_name, "size": entry.client_size}


def _origin(value: str) -> str | None:
    """Normalise an origin (``"https://Example.com:443/"`` -> ``"https://example.com"``).

    ``None`` if it is not one (a bad port, no host).
    """
    parts = urllib.parse.urlsplit(value.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    if port is not None and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    return f"{scheme}://{host}"


def _check_origins(value: object) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise TypeError(
            "allowed_origins must be a list of origins such as ['https://example.com'] "
            f"(or ['*'] for any, or None for the page's own origin), not {safe_repr(value)}"
        )
    origins: set[str] = set()
    for item in value:
        if item == "*":
            origins.add("*")
            continue
        if not isinstance(item, str):
            raise TypeError(f"allowed_origins holds strings, not {safe_repr(item)}")
        parts = urllib.parse.urlsplit(item)
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.path not in ("", "/")
        ):
            raise ValueError(
                f"allowed_origins: {item!r} is not an origin; write scheme://host[:port], "
                "such as 'https://example.com' or 'http://127.0.0.1:8000', or '*' for any"
            )
        normal = _origin(item)
        assert normal is not None  # checked just above
        origins.add(normal)
    return frozenset(origins)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


class UploadChannel:
    """An ASGI app for the WebSocket upload channel (mount it in Starlette or FastAPI).

    ``config`` is an :class:`~uploadwriter.uploads.UploadConfig`, or a function
    returning one for each connection. Each connection gets its own
    :class:`~uploadwriter.uploads.Uploads`. Each completed entry is consumed
    with ``consume(meta, entry)`` (default: its name and size; the writer's
    result is then dropped): its return value, or what it awaits to, must be
    JSON and is sent to the client in the entry's ``done`` message. ``consume``
    runs on the event loop: keep a synchronous one quick.

    ``allowed_origins``: the browser origins that may connect (``"*"`` for
    any); ``None`` allows the page's own origin (the ``Origin`` header's host
    is the ``Host`` header). Clients that send no ``Origin`` (not browsers)
    are allowed. A refused origin gets HTTP 403.

    ``window`` is the flow-control window: chunks a client may have
    unacknowledged (see "Flow control" in the protocol reference).

    Raises:
        TypeError: an option has the wrong type.
        ValueError: an origin is not ``scheme://host[:port]``, or ``window`` is less than 1.
    """

    def __init__(
        self,
        config: UploadConfig | Callable[[], UploadConfig],
        *,
        consume: ConsumeFn | None = None,
        allowed_origins: Sequence[str] | None = None,
        window: int = DEFAULT_WINDOW,
    ) -> None:
        if not isinstance(config, UploadConfig) and not callable(config):
            raise TypeError(
                "config must be an UploadConfig or a function returning one, "
                f"not {safe_repr(config)}"
            )
        if consume is not None and not callable(consume):
            raise TypeError(f"consume must be a callable or None, not {safe_repr(consume)}")
        self._config = config
        self._consume: ConsumeFn = consume if consume is not None else default_consume
        self._origins = _check_origins(allowed_origins)
        self._window = count_option("window", window)

    def config(self) -> UploadConfig:
        """Return the configuration for a new connection.

        Raises:
            TypeError: the config function did not return an ``UploadConfig``.
        """
        config = self._config
        if isinstance(config, UploadConfig):
            return config
        made = config()
        if not isinstance(made, UploadConfig):
            raise TypeError(f"the config function returned {safe_repr(made)}, not an UploadConfig")
        return made

    def origin_allowed(self, scope: Scope) -> bool:
        """Return whether the connection's ``Origin`` header is allowed."""
        origin = _header(scope, b"origin")
        if origin is None:
            return True  # not a browser: Origin guards browsers against other sites' pages
        allowed = self._origins
        if allowed is not None and "*" in allowed:
            return True
        normal = _origin(origin)
        if normal is None:
            return False  # a malformed Origin is nobody's
        if allowed is None:
            host = _header(scope, b"host")
            scheme = urllib.parse.urlsplit(origin).scheme
            return host is not None and normal == _origin(f"{scheme}://{host}")
        return normal in allowed

    async def __call__(self, scope: Scope, receive: Receive, send: SendFn) -> None:
        """Serve one ASGI connection: a WebSocket; plain HTTP gets 426 Upgrade Required."""
        kind = scope["type"]
        if kind == "websocket":
            await receive()  # websocket.connect, the first message of the scope
            if not self.origin_allowed(scope):
                log.warning("refused a WebSocket from origin %r", _header(scope, b"origin"))
                await send({"type": "websocket.close", "code": _POLICY_VIOLATION})
                return
            connection = Connection(
                self.config(), receive, send, consume=self._consume, window=self._window
            )
            await connection.serve()
        elif kind == "http":
            body = b"This is the uploadwriter upload channel: connect with a WebSocket.\n"
            await send(
                {
                    "type": "http.response.start",
                    "status": 426,
                    "headers": [
                        (b"content-type", b"text/plain; charset=utf-8"),
                        (b"upgrade", b"websocket"),
                        (b"connection", b"Upgrade"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
        elif kind == "lifespan":  # served on its own, not mounted
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
