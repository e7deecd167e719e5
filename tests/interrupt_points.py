"""Ctrl-C at every bytecode of an upload: run by ``test_interrupts.py`` in a fresh interpreter.

``python -m tests.interrupt_points WRITER HANDLER SCENARIO`` runs one upload
once to count the bytecodes it executes (in every frame but the caller's own:
the driver, the reducer, the writer, the standard library under them), then
runs it again once per bytecode, raising a real SIGINT (``signal.raise_signal``)
from a trace function just before that bytecode runs. The SIGINT handler then
runs with that frame as the interrupted one, exactly as if the signal had
arrived there; this covers every point where CPython may run a handler, and more.

After each run it checks the lifecycle promise and prints a JSON report:
every writer whose ``init`` answered ``Ok`` was closed exactly once, no file
of an unfinished upload is left, no descriptor leaked, and the interrupt
reached the caller exactly once (or, with a handler that does not raise, the
handler ran once and the upload ended as if nothing had happened).
"""

from __future__ import annotations

import collections
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from types import FrameType
from typing import Any

from uploadwriter import Cancel, Chunk, Done, FileTooLarge, Ok, Uploader
from uploadwriter.reducer import Phase
from uploadwriter.writers import TmpFileOpts, TmpFileWriter

HANDLERS = ("default", "raising", "counting")
SCENARIOS = ("done", "cancel", "raise", "expected", "too-large")


class CountingWriter:
    """Records which uploads' ``init`` answered ``Ok`` and how often each was closed."""

    def __init__(self) -> None:
        self.next_id = 0
        self.started: dict[int, bool] = {}
        self.closes: collections.defaultdict[int, int] = collections.defaultdict(int)

    def init(self, opts: object) -> Ok[int]:
        n = self.next_id
        self.next_id = n + 1
        answer = Ok(n)
        self.started[n] = True  # a store, not a call: nothing can land before the return
        return answer

    def meta(self, state: int) -> Mapping[str, object]:
        return {"id": state}

    def write_chunk(self, data: bytes, state: int) -> Ok[int]:
        return Ok(state)

    def close(self, state: int, reason: object) -> Ok[int]:
        answer = Ok(state)
        self.closes[state] += 1
        return answer


def upload(writer: Any, opts: object, scenario: str, box: list[Uploader[Any, Any]]) -> None:
    """The caller's code: one upload of the given shape, its uploader put in ``box``.

    Its own frame is never interrupted (that is Python's ``with`` statement's business).
    """
    expected = 10 if scenario == "expected" else None
    maximum = 4 if scenario == "too-large" else None
    up: Uploader[Any, Any] = Uploader(writer, opts, expected_size=expected, max_size=maximum)
    box.append(up)
    try:
        with up:
            up.send(Chunk(b"abc"))
            if scenario == "too-large":
                up.send(Chunk(b"defg"))
            up.send(Chunk(b"defghij"))
            if scenario == "done":
                up.send(Done())
            elif scenario == "cancel":
                up.send(Cancel())
            elif scenario == "raise":
                raise LookupError("the caller's own failure")
    except (LookupError, FileTooLarge):
        pass


class Injector:
    """A trace function that counts bytecodes, and raises SIGINT before the ``at``-th one."""

    def __init__(self, skip: object, at: int | None = None) -> None:
        self.skip = skip  # the caller's code object: its frame is not counted
        self.at = at
        self.count = 0
        self.fired = False

    def __call__(self, frame: FrameType, event: str, arg: object) -> Callable[..., Any] | None:
        if frame.f_code is self.skip:
            return self
        frame.f_trace_opcodes = True
        if event == "opcode":
            if self.count == self.at:
                self.fired = True
                signal.raise_signal(signal.SIGINT)
            self.count += 1
        return self


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def main(writer_name: str, handler_name: str, scenario: str) -> dict[str, Any]:
    calls = [0]

    def raising(signum: int, frame: FrameType | None) -> None:
        calls[0] += 1
        raise KeyboardInterrupt

    def counting(signum: int, frame: FrameType | None) -> None:
        calls[0] += 1

    handler = {"default": signal.default_int_handler, "raising": raising, "counting": counting}
    signal.signal(signal.SIGINT, handler[handler_name])
    directory = tempfile.mkdtemp(prefix="uploadwriter-points-")
    counting_writer = CountingWriter()
    writer: Any = counting_writer if writer_name == "counting" else TmpFileWriter()
    opts: object = None if writer_name == "counting" else TmpFileOpts(dir=directory)
    skip = upload.__code__

    def run(at: int | None) -> tuple[Injector, Uploader[Any, Any] | None, bool]:
        injector = Injector(skip, at)
        interrupted = False
        old = sys.gettrace()  # coverage's, in CI: put back after each run
        box: list[Uploader[Any, Any]] = []
        try:
            # Python 3.12.1 sends opcode events only if a frame asked for them
            # before tracing started (3.11 and 3.13 also honour it per call).
            sys._getframe().f_trace_opcodes = True
            sys.settrace(injector)
            try:
                upload(writer, opts, scenario, box)
            finally:
                sys.settrace(old)
            # An interrupt that landed after a method's last look at it is handled
            # again a moment later: give it that moment (at most a switch interval).
            deadline = time.monotonic() + 1.0
            while injector.fired and not calls[0] and time.monotonic() < deadline:
                time.sleep(0.0005)
        except KeyboardInterrupt:
            interrupted = True
        return injector, (box[0] if box else None), interrupted

    upload(writer, opts, scenario, [])  # warm up: imports, caches
    for name in os.listdir(directory):
        os.unlink(os.path.join(directory, name))
    points = run(None)[0].count
    if not points:
        raise SystemExit("no bytecode was traced: opcode events do not work on this Python")
    expected_outcome = run(None)[1]
    assert expected_outcome is not None
    reference = (expected_outcome.reason, expected_outcome.size)
    for name in os.listdir(directory):
        os.unlink(os.path.join(directory, name))

    failures: list[str] = []
    fds = _fds()
    for at in range(points):
        first_id = counting_writer.next_id
        calls[0] = 0
        injector, up, interrupted = run(at)
        problems = []
        if not injector.fired:
            problems.append("the point was not reached")
        for n in range(first_id, counting_writer.next_id):
            closes = counting_writer.closes[n]
            if n in counting_writer.started and closes != 1:
                problems.append(f"init answered Ok, closed {closes} times")
            if n not in counting_writer.started and closes:
                problems.append("closed, but init never answered Ok")
        completed = up is not None and up.phase is Phase.CLOSED and up.failure is None
        kept = completed and up is not None and up.reason == Done()
        files = os.listdir(directory)
        if len(files) != (1 if kept and writer_name == "tmpfile" else 0):
            problems.append(f"files left: {files} (completed: {completed})")
        for name in files:
            os.unlink(os.path.join(directory, name))
        if _fds() != fds:
            problems.append(f"descriptors: {fds} before, {_fds()} after")
        if handler_name == "counting":
            if calls[0] != 1 or interrupted:
                problems.append(f"handler ran {calls[0]} times, interrupted={interrupted}")
            if up is None or (up.reason, up.size) != reference:
                outcome = None if up is None else (up.reason, up.size)
                problems.append(f"ended {outcome}, not {reference}")
        elif not interrupted or (handler_name == "raising" and calls[0] != 1):
            problems.append(f"interrupted={interrupted}, handler ran {calls[0]} times")
        if problems:
            failures.append(f"bytecode {at}: {'; '.join(problems)}")
    os.rmdir(directory)
    return {"points": points, "failures": failures[:20], "failed": len(failures)}


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4])))
