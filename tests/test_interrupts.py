"""Ctrl-C and the synchronous driver: every writer whose init answered Ok is closed exactly
once, and no file of an unfinished upload is left, wherever SIGINT lands (issue 9 item 4).

Three kinds of test:

- deterministic ones in this process: the writer raises SIGINT itself (``raise_signal``
  runs the handler right there, in the writer's frame);
- ``interrupt_points``, in a fresh interpreter: a SIGINT before every bytecode an upload runs;
- a short soak, in a fresh interpreter: real SIGINTs at random moments from another
  thread and from another process (the long soak is ``python -m bench.interrupts``).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import FrameType

import pytest

from uploadwriter import (
    Cancel,
    Chunk,
    Done,
    Err,
    InitError,
    Ok,
    Uploader,
    WriterFailure,
    _interrupts,
)

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "pthread_kill"), reason="POSIX signals (SIGINT from a thread)"
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def nothing_left_behind() -> Iterator[None]:
    """After each test: nothing deferred, no upload counted open, the handler put back."""
    before = signal.getsignal(signal.SIGINT)
    yield
    # A deferred interrupt would surface in a later test.
    assert _interrupts.deferred == []
    assert _interrupts._open == set()
    assert signal.getsignal(signal.SIGINT) is before


class SignallingWriter:
    """Records its calls; raises SIGINT inside the callbacks named in ``signal_in``."""

    def __init__(self, *signal_in: str, close_answer: str = "ok") -> None:
        self.signal_in = signal_in
        self.close_answer = close_answer
        self.calls: list[str] = []

    def _maybe_signal(self, name: str) -> None:
        self.calls.append(name)
        if name in self.signal_in:
            signal.raise_signal(signal.SIGINT)  # the handler runs here, in this frame
            self.calls.append(f"{name} went on")

    def init(self, opts: object) -> Ok[int]:
        self._maybe_signal("init")
        return Ok(0)

    def meta(self, state: int) -> Mapping[str, object]:
        return {"size": state}

    def write_chunk(self, data: bytes, state: int) -> Ok[int]:
        self._maybe_signal("write_chunk")
        return Ok(state + len(data))

    def close(self, state: int, reason: object) -> Ok[int] | Err[int]:
        self._maybe_signal("close")
        self.calls.append(f"closed with {reason!r}")
        return Ok(state) if self.close_answer == "ok" else Err("refused", state)


# --- where an interrupt lands ----------------------------------------------------------------


def test_ctrl_c_in_init_is_raised_after_it_and_the_writer_is_cancelled() -> None:
    writer = SignallingWriter("init")
    up = Uploader(writer, None)
    with pytest.raises(KeyboardInterrupt), up:
        pytest.fail("the block does not run: __enter__ raised")  # pragma: no cover
    # init ran to the end, then the upload was closed before __enter__ raised (L5, L10).
    assert writer.calls == ["init", "init went on", "close", "closed with Cancel()"]
    assert up.reason == Cancel()


def test_ctrl_c_in_init_then_in_the_close_that_follows_are_both_raised() -> None:
    writer = SignallingWriter("init", "close")
    up = Uploader(writer, None)
    with pytest.raises(KeyboardInterrupt) as info, up:
        pytest.fail("the block does not run: __enter__ raised")  # pragma: no cover
    # The second interrupt came while leaving; it is raised, with the first as context.
    assert isinstance(info.value.__context__, KeyboardInterrupt)
    assert writer.calls == [
        "init",
        "init went on",
        "close",
        "close went on",
        "closed with Cancel()",
    ]


def test_ctrl_c_in_close_waits_for_close_to_finish() -> None:
    writer = SignallingWriter("close")
    with Uploader(writer, None) as up:
        up.send(Chunk(b"abc"))
        with pytest.raises(KeyboardInterrupt):
            up.send(Done())
    assert writer.calls[-2:] == ["close went on", "closed with Done()"]
    assert up.meta() == {"size": 3}  # the upload completed before the interrupt was raised


def test_ctrl_c_in_a_write_is_raised_at_once_and_the_writer_cancelled() -> None:
    writer = SignallingWriter("write_chunk")
    with pytest.raises(KeyboardInterrupt), Uploader(writer, None) as up:
        up.send(Chunk(b"abc"))
    # The write stopped where the signal landed; the reducer closed with Cancel() (L11).
    assert writer.calls == ["init", "write_chunk", "close", "closed with Cancel()"]
    assert up.reason == Cancel()


def test_a_deferred_interrupt_has_the_error_being_raised_as_its_context() -> None:
    writer = SignallingWriter("close", close_answer="err")
    with Uploader(writer, None) as up, pytest.raises(KeyboardInterrupt) as info:
        up.send(Done())
    assert isinstance(info.value.__context__, WriterFailure)
    assert up.reason == Done()


def test_ctrl_c_in_the_exit_cancel_is_raised_from_the_block() -> None:
    writer = SignallingWriter("close")
    with pytest.raises(KeyboardInterrupt) as info, Uploader(writer, None):
        raise LookupError("the caller's own failure")
    # Raised after the cancel finished, with the caller's exception as its context.
    assert isinstance(info.value.__context__, LookupError)
    assert writer.calls[-1] == "closed with Cancel()"


def test_an_application_handler_that_does_not_raise_runs_once_when_the_method_ends() -> None:
    seen: list[str] = []

    def note(signum: int, frame: FrameType | None) -> None:
        seen.append("app handler" if frame is None else f"app handler in {frame.f_code.co_name}")

    writer = SignallingWriter("close")
    previous = signal.signal(signal.SIGINT, note)
    try:
        with Uploader(writer, None) as up:
            up.send(Done())
            seen.append("after send")
        assert signal.getsignal(signal.SIGINT) is note  # put back
    finally:
        signal.signal(signal.SIGINT, previous)
    assert seen == ["app handler in send", "after send"]
    assert writer.calls[-1] == "closed with Done()"


class NestingWriter:
    """A writer whose close drives another upload (whose init raises SIGINT)."""

    def __init__(self) -> None:
        self.inner = SignallingWriter("init")
        self.calls: list[str] = []

    def init(self, opts: object) -> Ok[None]:
        return Ok(None)

    def meta(self, state: None) -> Mapping[str, object]:
        return {}

    def write_chunk(self, data: bytes, state: None) -> Ok[None]:
        return Ok(None)

    def close(self, state: None, reason: object) -> Ok[None]:
        with Uploader(self.inner, None) as inner:
            inner.send(Chunk(b"x"))
            inner.send(Done())
        self.calls.append("inner upload done")
        return Ok(None)


def test_an_interrupt_in_a_nested_driver_waits_for_the_outermost_one() -> None:
    writer = NestingWriter()
    with Uploader(writer, None) as up, pytest.raises(KeyboardInterrupt):
        up.send(Done())
    # The inner upload ran to completion inside the outer close, which also finished.
    assert writer.inner.calls[-1] == "closed with Done()"
    assert writer.calls == ["inner upload done"]
    assert up.reason == Done()


# --- escape hatch, hung writes, threads ------------------------------------------------------


class HangingWriter:
    """``init`` or ``write_chunk`` hangs (in short sleeps) until ``release`` is set."""

    def __init__(self, hang_in: str) -> None:
        self.hang_in = hang_in
        self.release = threading.Event()
        self.hanging = threading.Event()
        self.calls: list[str] = []

    def _hang(self, name: str) -> None:
        self.calls.append(name)
        if name == self.hang_in:
            self.hanging.set()
            while not self.release.is_set():
                time.sleep(0.005)
            self.calls.append(f"{name} released")

    def init(self, opts: object) -> Ok[None]:
        self._hang("init")
        return Ok(None)

    def meta(self, state: None) -> Mapping[str, object]:
        return {}

    def write_chunk(self, data: bytes, state: None) -> Ok[None]:
        self._hang("write_chunk")
        return Ok(None)

    def close(self, state: None, reason: object) -> Ok[None]:
        self.calls.append(f"closed with {reason!r}")
        return Ok(None)


def test_ctrl_c_stops_a_hung_write_and_the_writer_is_cancelled() -> None:
    writer = HangingWriter("write_chunk")
    main = threading.get_ident()

    def interrupt() -> None:
        writer.hanging.wait(10)
        signal.pthread_kill(main, signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    try:
        with pytest.raises(KeyboardInterrupt), Uploader(writer, None) as up:
            up.send(Chunk(b"abc"))
    finally:
        writer.release.set()
    assert writer.calls == ["init", "write_chunk", "closed with Cancel()"]
    assert up.reason == Cancel()


def test_a_second_ctrl_c_after_a_while_escapes_a_hung_init() -> None:
    writer = HangingWriter("init")
    main = threading.get_ident()
    events: list[str] = []

    def interrupt() -> None:
        writer.hanging.wait(10)
        signal.pthread_kill(main, signal.SIGINT)  # deferred: init is protected
        while not _interrupts.deferred:
            time.sleep(0.001)
        signal.pthread_kill(main, signal.SIGINT)  # a quick repeat: deferred with it
        time.sleep(_interrupts.ESCAPE_AFTER + 0.2)
        events.append(f"init still running: {writer.calls == ['init']}")
        signal.pthread_kill(main, signal.SIGINT)  # the escape hatch

    sender = threading.Thread(target=interrupt, daemon=True)
    sender.start()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt), Uploader(writer, None):
            pass  # pragma: no cover
    finally:
        writer.release.set()
        sender.join(10)
    assert events == ["init still running: True"]
    assert writer.calls == ["init"]  # interrupted inside init: never answered, never closed
    assert time.monotonic() - started < 5


def _interrupt_and_wait(main: int) -> None:
    signal.pthread_kill(main, signal.SIGINT)
    time.sleep(5)  # pragma: no cover - interrupted


def test_a_driver_in_another_thread_is_not_interrupted() -> None:
    writer = HangingWriter("write_chunk")
    main = threading.get_ident()
    results: list[object] = []

    def upload() -> None:
        with Uploader(writer, None) as up:
            up.send(Chunk(b"abc"))
            up.send(Done())
        results.append(up.reason)

    worker = threading.Thread(target=upload)
    worker.start()
    writer.hanging.wait(10)
    with pytest.raises(KeyboardInterrupt):
        _interrupt_and_wait(main)  # not in an upload here: raised at once
    writer.release.set()
    worker.join(10)
    assert results == [Done()]


def test_deliver_does_nothing_outside_the_main_thread() -> None:
    _interrupts.deferred.append(time.monotonic())
    try:
        worker = threading.Thread(target=_interrupts.deliver)
        worker.start()
        worker.join(10)
        assert _interrupts.deferred != []
    finally:
        _interrupts.deferred.clear()


# --- installing the handler ------------------------------------------------------------------


class RefusingWriter(SignallingWriter):
    def init(self, opts: object) -> Err[None]:  # type: ignore[override]
        return Err("no", None)


def test_the_handler_is_in_place_only_while_an_upload_is_open() -> None:
    before = signal.getsignal(signal.SIGINT)
    with Uploader(SignallingWriter(), None) as outer:
        assert signal.getsignal(signal.SIGINT) is _interrupts._on_sigint
        with Uploader(SignallingWriter(), None) as inner:
            inner.send(Done())
        assert signal.getsignal(signal.SIGINT) is _interrupts._on_sigint  # outer still open
        outer.send(Done())
    assert signal.getsignal(signal.SIGINT) is before
    with pytest.raises(InitError), Uploader(RefusingWriter(), None):
        pass  # pragma: no cover
    assert signal.getsignal(signal.SIGINT) is before  # a refused init leaves nothing either
    assert not _interrupts.installed


def test_a_handler_the_application_installs_during_an_upload_is_kept() -> None:
    before = signal.getsignal(signal.SIGINT)

    def mine(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt  # pragma: no cover - never signalled

    try:
        with Uploader(SignallingWriter(), None):
            signal.signal(signal.SIGINT, mine)
        assert signal.getsignal(signal.SIGINT) is mine
    finally:
        signal.signal(signal.SIGINT, before)


@pytest.mark.skipif(
    sys.version_info < (3, 11), reason="asyncio.run handles Ctrl-C itself from Python 3.11"
)
def test_asyncio_still_sets_up_its_own_ctrl_c_after_a_sync_upload() -> None:
    out = _python(
        PRELUDE
        + """
import asyncio
with Uploader(SignallingWriter(), None) as up:
    up.send(Done())
async def main():
    # asyncio.run installs its own handler (cancel the main task) only if it finds Python's.
    return signal.getsignal(signal.SIGINT) is not signal.default_int_handler
print(signal.getsignal(signal.SIGINT) is signal.default_int_handler, asyncio.run(main()))
"""
    )
    assert out == "True True"


def _python(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()


PRELUDE = """
import signal, threading
from uploadwriter import Chunk, Done, Uploader, _interrupts
from tests.test_interrupts import SignallingWriter
"""


@pytest.mark.parametrize("handler", ["SIG_IGN", "SIG_DFL"])
def test_a_handler_that_is_not_a_python_callable_is_left_alone(handler: str) -> None:
    out = _python(
        PRELUDE
        + f"signal.signal(signal.SIGINT, signal.{handler})\n"
        + "with Uploader(SignallingWriter(), None) as up: up.send(Done())\n"
        + f"print(signal.getsignal(signal.SIGINT) is signal.{handler}, _interrupts.installed)"
    )
    assert out == "True False"


def test_the_handler_is_installed_by_the_main_thread_only_and_chains_to_the_application() -> None:
    out = _python(
        PRELUDE
        + """
calls = []
def app(signum, frame):
    calls.append(frame.f_code.co_name)
signal.signal(signal.SIGINT, app)
def in_thread():
    with Uploader(SignallingWriter(), None) as up: up.send(Done())
worker = threading.Thread(target=in_thread); worker.start(); worker.join()
print(signal.getsignal(signal.SIGINT) is app)
with Uploader(SignallingWriter(), None) as up:
    print(signal.getsignal(signal.SIGINT) is _interrupts._on_sigint)
    signal.raise_signal(signal.SIGINT)  # not inside the driver: the app's handler, at once
    up.send(Done())
print(calls, signal.getsignal(signal.SIGINT) is app)
"""
    )
    assert out.splitlines() == ["True", "True", "['<module>'] True"]


# --- exhaustive and random -------------------------------------------------------------------

POINTS = [
    *((w, "default", s) for w in ("counting", "tmpfile") for s in ("done", "raise", "expected")),
    ("counting", "default", "cancel"),
    ("tmpfile", "default", "too-large"),
    ("counting", "counting", "done"),
    ("tmpfile", "raising", "cancel"),
]


@pytest.mark.parametrize(("writer", "handler", "scenario"), POINTS)
def test_a_sigint_before_any_bytecode_keeps_the_promise(
    writer: str, handler: str, scenario: str
) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tests.interrupt_points", writer, handler, scenario],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout
    report = json.loads(out)
    assert report["points"] > 1000  # the driver, the reducer, the writer, tempfile...
    assert report["failures"] == []


@pytest.mark.parametrize("writer", ["counting", "tmpfile"])
@pytest.mark.parametrize("sender", ["thread", "process"])
def test_real_sigints_at_random_moments_keep_the_promise(writer: str, sender: str) -> None:
    sys.path.insert(0, str(ROOT))
    try:
        from bench.interrupts import run_child
    finally:
        sys.path.remove(str(ROOT))
    report = run_child(writer, sender, interrupts=300, seed=7, gap=0.0005, cwd=str(ROOT))
    assert report["interrupted_uploads"] == 300
    assert report["fds_leaked"] == 0
    if writer == "counting":
        assert (report["never_closed"], report["closed_twice"]) == (0, 0)
        assert report["interrupted_after_init_ok"] > 100  # the interrupts hit started uploads
    else:
        assert report["files_left"] == 0


# --- the marks ---------------------------------------------------------------------------------


def test_the_driver_marks_its_bookkeeping_protected_and_the_write_trampoline_not() -> None:
    marks = _interrupts._marks
    for method in (Uploader.__enter__, Uploader.__exit__, Uploader._feed):
        assert marks[method.__code__] is True
    assert Uploader.send.__code__ not in marks  # only its _feed is
    assert marks[_interrupts.call_write_chunk.__code__] is False
    assert marks[_interrupts.deliver.__code__] is False
    # The methods that deliver have a tail (everything from their check of `deferred`),
    # and the feed loop, which does not deliver, has none.
    assert set(_interrupts._tails) == {Uploader.__enter__.__code__, Uploader.__exit__.__code__}
