"""Ctrl-C safety for the synchronous driver: defer SIGINT while the driver keeps its books.

Theory of operation
-------------------
CPython runs a Python-level signal handler in the main thread, between two
bytecodes of whatever code is running there. Python's default SIGINT handler
raises ``KeyboardInterrupt`` right there: after a writer's ``init`` answered
``Ok`` but before the driver recorded it, or halfway through ``close``. The
writer is then never closed, or its file is left behind.

So, like trio's KI protection, this module marks code objects:

* **protected**: the driver's own bookkeeping (``Uploader.__enter__``,
  ``__exit__``, ``send``, its feed loop) *and everything they call*, which
  includes the writer's ``init`` and ``close`` and the reducer;
* **unprotected**: :func:`call_write_chunk`, the trampoline through which the
  driver calls ``write_chunk``, so that Ctrl-C stops a write that hangs (the
  reducer then treats the write as raising: the writer is closed with
  ``Cancel()`` and the interrupt goes on, L11); and :func:`deliver`.

When SIGINT arrives, :func:`_on_sigint` walks the interrupted frame stack
outward to the first frame whose code is marked. Protected: the interrupt is
*deferred* (recorded in :data:`deferred`), and the driver delivers it when its
public method ends, in a ``finally`` (so an error being raised becomes its
context). Unprotected, or no marked frame at all: the handler it replaced
(usually Python's default, which raises ``KeyboardInterrupt``) runs at once,
with any deferred interrupt that no driver delivered.

A protected method that delivers has a *tail*: from its check of
:data:`deferred` on, an interrupt deferred there would never be seen. So an
interrupt that lands in the tail itself is handled again at the next point
where CPython runs signal handlers (``_thread.interrupt_main``), by the same
rules: past the method's return that is the caller (at once), or a protected
callee (deferred, then delivered). The tail is taken as every bytecode from the
method's first read of ``deferred`` on: a little more than the tail, which is
safe, since handling an interrupt again later never loses it or raises it
somewhere unsafe. (CPython 3.11+ runs no handler between that check and the
return; 3.10 does, where ``if deferred:`` jumps.)

A SIGINT that arrives while one has been deferred for :data:`ESCAPE_AFTER`
seconds is delivered at once, wherever it lands: the escape hatch for an
``init`` or ``close`` that hangs. It gives up the guarantee for that upload
(the interrupted callback may not finish). A quicker repeat (a wrapper that
forwards the terminal's SIGINT to its child, say) is deferred with the first.

Nothing runs per chunk: marks are set once, at import. A driver checks
:data:`deferred` (an empty list, so one truth test) when a public method ends.

The handler is in place only while an upload is open in the main thread
(:func:`enter`, :func:`leave`): the first to open puts it there, chained to
the handler in place then, and the last to be left puts that one back. So
``asyncio.run`` and ``trio.run``, which set up their own Ctrl-C handling only
if they find Python's default handler, still find it between uploads. If the
handler in place is not a Python callable (``SIG_IGN``, ``SIG_DFL``, or one
installed from C), SIGINT is left alone. Signals reach only the main thread,
so a driver running in another thread needs nothing. An application that
installs its own SIGINT handler during an upload keeps the protection if its
handler calls the one it replaced; it is not replaced back.
"""

from __future__ import annotations

import _thread
import dis
import importlib
import signal
import sys
import threading
import time
import weakref
from collections.abc import Callable
from types import CodeType, FrameType
from typing import Any, TypeVar

from ._protocols import UploadWriter
from ._results import Err, Ok


def _c_signal_functions() -> tuple[Callable[[int], object], Callable[[int, Any], object]]:
    """``getsignal`` and ``signal`` without the signal module's enum conversions.

    Those cost microseconds for a function (a ValueError each time), and the
    handler is put in place and taken out once per upload; the C functions
    under them (``_signal``, CPython's) do not.
    """
    try:
        c = importlib.import_module("_signal")
    except ImportError:  # pragma: no cover - not CPython
        return signal.getsignal, signal.signal
    return c.getsignal, c.signal


_getsignal, _setsignal = _c_signal_functions()

__all__ = ("ESCAPE_AFTER", "call_write_chunk", "deferred", "deliver", "enter", "leave", "protect")

S = TypeVar("S")
F = TypeVar("F", bound=Callable[..., Any])

SignalHandler = Callable[[int, "FrameType | None"], Any]

#: Seconds a deferred SIGINT must have waited before another one is delivered at once.
ESCAPE_AFTER = 0.5

#: ``time.monotonic()`` of each SIGINT deferred and not yet delivered (empty: none).
#: Drivers test it (``if deferred:``) when a public method ends; only the
#: handler, in the main thread, appends to it.
deferred: list[float] = []

#: Whether :func:`_on_sigint` is in place (put there by :func:`enter`).
installed = False

#: The uploaders open in the main thread. Weak: one abandoned without leaving
#: its block (a generator never finished, a test's simulated crash) is
#: forgotten once collected, and the handler goes back at the next leave.
_open: weakref.WeakSet[object] = weakref.WeakSet()

_previous: SignalHandler = signal.default_int_handler

# Code object -> protected (True) or unprotected (False). Filled at import.
_marks: dict[CodeType, bool] = {}
# Code object of a protected function that delivers -> the offsets of its tail.
_tails: dict[CodeType, range] = {}


def protect(function: F) -> F:
    """Mark ``function`` (and what it calls) as protected: SIGINT waits until it ends.

    If it reads :data:`deferred` (to deliver), everything from that read on is its tail.
    """
    code = function.__code__
    _marks[code] = True
    reads = [
        i.offset
        for i in dis.get_instructions(code)
        if i.opname in ("LOAD_GLOBAL", "LOAD_NAME") and i.argval == "deferred"
    ]
    if reads:
        _tails[code] = range(min(reads), len(code.co_code))
    return function


def _unprotect(function: F) -> F:
    _marks[function.__code__] = False
    return function


@_unprotect
def call_write_chunk(writer: UploadWriter[Any, S], data: bytes, state: S) -> Ok[S] | Err[S]:
    """Call ``writer.write_chunk(data, state)``: the one place Ctrl-C is delivered at once."""
    return writer.write_chunk(data, state)


def _innermost_marked(frame: FrameType | None) -> FrameType | None:
    """The first frame from ``frame`` outward whose code is marked, if any."""
    while frame is not None and frame.f_code not in _marks:
        frame = frame.f_back
    return frame


def _trip(signum: int) -> None:  # pragma: no cover - runs in a thread coverage does not see
    _thread.interrupt_main(signal.Signals(signum))


# CPython 3.10 runs signal handlers as it enters an exception handler: when a
# `with` block raises, a KeyboardInterrupt raised there skips __exit__. So on
# 3.10 an interrupt that lands outside the driver while an exception is being
# handled is looked at again a moment later: by then __exit__ is running
# (protected: it delivers the interrupt as it ends), or the moment has passed.
# For at most POSTPONE_FOR seconds, so that Ctrl-C in a long except block works.
_HANDLER_ENTRY_RUNS_SIGNALS = sys.version_info < (3, 11)
POSTPONE_FOR = 0.05
_postponed_since: list[float] = []


def _postpone(signum: int) -> bool:
    """On CPython 3.10, in an exception handler's entry, look again later (see above)."""
    if _HANDLER_ENTRY_RUNS_SIGNALS and sys.exc_info()[1] is not None:
        return _postpone_on_310(signum)  # pragma: no cover - CPython 3.10 only
    return False


def _postpone_on_310(signum: int) -> bool:  # pragma: no cover - CPython 3.10 only
    now = time.monotonic()
    if not _postponed_since:
        _postponed_since.append(now)
    elif now - _postponed_since[0] >= POSTPONE_FOR:
        return False
    _again_later(signum)
    return True


def _again_later(signum: int) -> None:
    """Have SIGINT handled again once the main thread gives up the GIL (from a new thread)."""
    try:
        _thread.start_new_thread(_trip, (signum,))
    except RuntimeError:  # pragma: no cover - no thread to be had (interpreter shutdown)
        deferred.append(time.monotonic())  # the next driver call delivers it


def _protected(frame: FrameType | None) -> bool:
    """Whether the innermost marked frame from ``frame`` outward is a protected one."""
    marked = _innermost_marked(frame)
    return marked is not None and _marks[marked.f_code]


def _call_previous(times: int, signum: int, frame: FrameType | None) -> None:
    deferred.clear()
    for _ in range(times):
        _previous(signum, frame)


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    while frame is not None and frame.f_code is _ON_SIGINT:  # a signal during this handler
        frame = frame.f_back
    marked = _innermost_marked(frame)
    if marked is None or not _marks[marked.f_code]:
        if _postpone(signum):
            return  # pragma: no cover - CPython 3.10 only
        # Unprotected: now, with any deferred interrupt that no driver delivered.
        _postponed_since.clear()
        _call_previous(len(deferred) + 1, signum, frame)
        return
    _postponed_since.clear()
    if marked.f_lasti in _tails.get(marked.f_code, ()):
        _again_later(signum)  # past the method's check of `deferred`
    elif deferred and time.monotonic() - deferred[0] >= ESCAPE_AFTER:
        # The escape hatch: the protected code is taking too long (a hung init or close).
        _call_previous(len(deferred) + 1, signum, frame)
    else:
        # Deferred; a quick repeat (a wrapper forwarding the same Ctrl-C) goes with it.
        deferred.append(time.monotonic())


_ON_SIGINT = _on_sigint.__code__


@_unprotect
def deliver() -> None:
    """Deliver the deferred SIGINTs: call the replaced handler once for each.

    Called by a driver's public method as it ends, when :data:`deferred` is
    not empty. Does nothing outside the main thread, or when a protected frame
    further out (a driver inside another driver's writer call) will deliver.
    The replaced handler usually raises ``KeyboardInterrupt``; the SIGINTs
    after the one whose handler raised are not delivered again.
    """
    if not deferred or threading.current_thread() is not threading.main_thread():
        return
    caller = sys._getframe(1)
    if _protected(caller.f_back):
        return
    _call_previous(len(deferred), signal.SIGINT, caller)


def enter(uploader: object) -> None:
    """Count ``uploader`` as open; in the main thread, the first puts the handler in place."""
    if threading.current_thread() is not threading.main_thread():
        return
    if not _open:
        _install()
    _open.add(uploader)


def leave(uploader: object) -> None:
    """Count ``uploader`` as left; when none is open, put the replaced handler back."""
    _open.discard(uploader)
    if _open or not installed or threading.current_thread() is not threading.main_thread():
        return
    if deferred:  # pragma: no cover - drivers deliver before they leave
        return
    _uninstall()


def _install() -> None:
    """Put the deferring handler in place, chained to the current one, if that is a
    Python callable (not ``SIG_IGN``, ``SIG_DFL``, or a handler installed from C)."""
    global installed, _previous
    if installed:  # pragma: no cover - left while an interrupt was deferred: still in place
        return
    current = _getsignal(signal.SIGINT)
    if not callable(current) or current is _on_sigint:
        return
    try:
        _setsignal(signal.SIGINT, _on_sigint)
    except ValueError:  # pragma: no cover - a subinterpreter cannot set handlers
        return
    _previous = current
    installed = True


def _uninstall() -> None:
    """Put the replaced handler back, unless the application has put another one since."""
    global installed
    installed = False
    if _getsignal(signal.SIGINT) is _on_sigint:
        _setsignal(signal.SIGINT, _previous)
