"""The thread handoff: run a synchronous callback in a worker thread and await its answer.

The speed tricks of the sync-writer adapters live here, and only here.

``anyio.to_thread.run_sync`` is general (a capacity limiter, a worker per
event loop, cancellation options, ``from_thread`` support) and costs two to
three times a bare thread round trip; ``bench/handoff.py`` measures both side
by side. A handoff here is what the round trip needs and nothing more:

* A pool of worker threads, shared by every event loop of the process. A call
  goes to the most recently idle worker's own queue (one wake-up); when
  :data:`MAX_WORKERS` are busy it waits in a backlog that they drain. An idle
  worker exits after :data:`IDLE_SECONDS`; a forked child starts a new pool.
* The answer wakes the waiting task through the loop's own thread-safe entry:
  asyncio's ``call_soon_threadsafe`` resolving a future, trio's token
  rescheduling the task. Any other loop goes through ``anyio.to_thread``.
* A callback is never abandoned: a task cancelled while its callback runs
  waits for the answer, returns it (the call happened and counts), and is
  cancelled at its next checkpoint, as anyio does for a shielded thread call.
  trio does this natively (the wait refuses to abort); on asyncio the
  cancellation is caught, the answer awaited under a shield, and the same
  cancellation requested again (``uncancel()`` first, so that ``cancelling()``
  counts it once: anyio's scopes and ``asyncio.timeout`` see it as they sent it).
* Every exception the callback raises, ``GeneratorExit`` and
  ``KeyboardInterrupt`` included, crosses back as a value (:class:`Raised`):
  the loop's machinery never sees it raised in its own frames; the awaiting
  task raises it again in its own.

The callback runs in a copy of the caller's context (``contextvars``), as
with ``anyio.to_thread``; it is not an anyio worker thread, so
``anyio.from_thread`` needs an explicit ``token=`` there.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import sys
import threading
from collections import deque
from collections.abc import Callable
from queue import Empty, SimpleQueue
from typing import Any, Final, TypeVar, cast

import anyio
import anyio.to_thread

__all__ = (
    "IDLE_SECONDS",
    "MAX_WORKERS",
    "PENDING",
    "Answer",
    "Job",
    "Raised",
    "answer_here",
    "capture",
    "run_in_worker",
    "submit",
)

T = TypeVar("T")

#: Worker threads at most; more calls at once wait for one (anyio's default limit too).
MAX_WORKERS: Final = 40
#: An idle worker thread exits after this many seconds without a call.
IDLE_SECONDS: Final = 10.0


class Raised:
    """An exception raised by a callback in a worker thread, carried back as a value."""

    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc: Final = exc

    def __repr__(self) -> str:
        return f"Raised({self.exc!r})"


def capture(fn: Callable[..., T], *args: object) -> T | Raised:
    """Call ``fn(*args)``; return what it returns, or what it raised as a :class:`Raised`."""
    # Every exception, GeneratorExit and KeyboardInterrupt included, crosses
    # the thread boundary as a value: the event loop's machinery never sees
    # it raised in its own frames; it is raised again in the awaiting task.
    try:
        return fn(*args)
    except BaseException as exc:  # noqa: BLE001 - re-raised by the awaiting task
        return Raised(exc)


# --- answers: set in a worker thread, awaited on the loop ----------------------------------------


class Job:
    """Work for a worker thread: ``work`` is called there once, then ``finish``."""

    __slots__ = ()

    def work(self) -> None:  # pragma: no cover - every job class defines it
        raise NotImplementedError

    def finish(self) -> None:
        """Called once the worker is ready for its next job (so a task woken here finds it idle)."""


class Answer(Job):
    """A value a worker thread hands to a task waiting on the event loop; set once.

    Also the job of a call (:func:`run_in_worker`): ``work`` computes the
    value, ``finish`` hands it over; one object per call.
    """

    __slots__ = ("args", "context", "fn", "value")

    value: object  #: what the thread answered; :data:`PENDING` until then
    fn: Callable[..., object]
    args: tuple[object, ...]
    context: contextvars.Context

    def work(self) -> None:
        self.value = self.context.run(capture, self.fn, *self.args)

    def finish(self) -> None:
        # RuntimeError: the loop is gone (closed, or its run finished): nobody waits.
        with contextlib.suppress(RuntimeError):
            self._wake()

    def set(self, value: object) -> None:
        """In any thread: keep ``value`` and wake the waiting task (if the loop still runs)."""
        self.value = value
        self.finish()

    def _wake(self) -> None:  # pragma: no cover - every answer class defines it
        raise NotImplementedError

    async def wait(self) -> object:
        """Return the value once it is set. Never abandons it: a cancellation
        that arrives meanwhile is delivered at the task's next checkpoint."""
        raise NotImplementedError  # pragma: no cover - every answer class defines it

    async def wait_or_cancel(self) -> object:
        """Return the value once it is set; a cancellation raises at once."""
        raise NotImplementedError  # pragma: no cover - every answer class defines it


#: The value of an :class:`Answer` not set yet.
PENDING: Final = object()


class _AsyncioAnswer(Answer):
    __slots__ = ("_future", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.value = PENDING
        self._loop = loop
        self._future: asyncio.Future[None] = loop.create_future()

    def _wake(self) -> None:
        self._loop.call_soon_threadsafe(self._resolve)

    def _resolve(self) -> None:
        # On the loop's thread. The future may have been cancelled meanwhile
        # (its task was): _after_cancel then waits on a new one.
        future = self._future
        if not future.done():
            future.set_result(None)

    async def wait(self) -> object:
        if self.value is PENDING:
            try:
                await self._future
            except asyncio.CancelledError as exc:
                await self._after_cancel(exc)
        return self.value

    async def wait_or_cancel(self) -> object:
        if self.value is PENDING:
            await self._future
        return self.value

    async def _after_cancel(self, cancelled: asyncio.CancelledError) -> None:
        """Cancelled while the thread works: wait for its answer, then cancel the task again."""
        task = asyncio.current_task()
        assert task is not None
        with anyio.CancelScope(shield=True):  # anyio's scopes do not ask again meanwhile
            while self.value is PENDING:
                self._future = self._loop.create_future()
                try:
                    await self._future
                except asyncio.CancelledError:  # a native cancel: requested again below, once
                    _uncancel(task)
        # The answer counts (the call happened); the cancellation is delivered
        # at the task's next checkpoint. uncancel() first: cancelling() counts it once.
        _uncancel(task)
        task.cancel(cancelled.args[0] if cancelled.args else None)


def _uncancel(task: asyncio.Task[Any]) -> None:
    uncancel = getattr(task, "uncancel", None)  # Python 3.11+
    if uncancel is not None:  # pragma: no branch - Python 3.10 has no uncancel()
        uncancel()


class _TrioAnswer(Answer):
    __slots__ = ("_lowlevel", "_task", "_token")

    def __init__(self, lowlevel: Any) -> None:
        self.value = PENDING
        self._lowlevel = lowlevel
        self._token = lowlevel.current_trio_token()
        self._task: object = None

    def _wake(self) -> None:
        self._token.run_sync_soon(self._resume)

    def _resume(self) -> None:
        # On trio's thread, like wait(): no race on _task.
        task = self._task
        if task is not None:
            self._task = None
            self._lowlevel.reschedule(task)

    async def wait(self) -> object:
        if self.value is PENDING:
            lowlevel = self._lowlevel
            self._task = lowlevel.current_task()
            # The thread works on: the task stays until it answers, and a
            # cancellation is delivered at its next checkpoint (trio's own rule).
            await lowlevel.wait_task_rescheduled(self._refuse_abort)
        return self.value

    def _refuse_abort(self, raise_cancel: object) -> object:
        return self._lowlevel.Abort.FAILED

    async def wait_or_cancel(self) -> object:
        if self.value is PENDING:
            lowlevel = self._lowlevel
            self._task = lowlevel.current_task()
            await lowlevel.wait_task_rescheduled(self._abort)
        return self.value

    def _abort(self, raise_cancel: object) -> object:
        self._task = None
        return self._lowlevel.Abort.SUCCEEDED


def answer_here() -> Answer | None:
    """An :class:`Answer` for the task running here; ``None`` on a loop other than asyncio or trio.

    Raises:
        RuntimeError: no event loop runs here.
    """
    # What sniffio.current_async_library() does, in the order it does it, with
    # asyncio's loop looked up only once.
    sniffio = sys.modules.get("sniffio")  # trio needs it, so trio imported it
    if sniffio is not None:  # pragma: no branch - absent only where trio is not installed
        name = sniffio.thread_local.name or sniffio.current_async_library_cvar.get()
        if name == "trio":
            return _TrioAnswer(sys.modules["trio"].lowlevel)
        if name is not None and name != "asyncio":
            return None
    return _AsyncioAnswer(asyncio.get_running_loop())


# --- the pool ------------------------------------------------------------------------------------


class _Worker:
    __slots__ = ("queue",)

    def __init__(self) -> None:
        self.queue: SimpleQueue[Job] = SimpleQueue()


class _Pool:
    """Worker threads, reused most-recently-idle first; a backlog when all are busy."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._backlog: deque[Job] = deque()
        self._count = 0

    def submit(self, job: Job) -> None:
        with self._lock:
            if self._idle:
                worker = self._idle.pop()
            elif self._count < MAX_WORKERS:
                self._count += 1
                worker = None
            else:
                self._backlog.append(job)
                return
        if worker is not None:
            worker.queue.put(job)
            return
        try:
            threading.Thread(
                target=self._serve, args=(job,), name="uploadwriter-worker", daemon=True
            ).start()
        except BaseException:  # pragma: no cover - the system refused a thread
            with self._lock:
                self._count -= 1
            raise

    def _serve(self, job: Job | None) -> None:
        worker = _Worker()
        while True:
            while job is not None:
                job.work()
                done, job = job, None
                # Ready for the next job before the answer goes out: the task it
                # wakes may submit its next call at once, and must find this
                # worker idle (not start a new thread).
                with self._lock:
                    if self._backlog:
                        job = self._backlog.popleft()
                    else:
                        self._idle.append(worker)
                done.finish()
            try:
                job = worker.queue.get(timeout=IDLE_SECONDS)
            except Empty:
                with self._lock:
                    if worker in self._idle:
                        self._idle.remove(worker)
                        self._count -= 1
                        return
                # Taken off the idle list meanwhile: its job is on its way.
                job = worker.queue.get()


_pool = _Pool()


def submit(job: Job) -> None:
    """Have a worker thread do the job, soon."""
    _pool.submit(job)


def _new_pool() -> None:  # pragma: no cover - runs in a forked child, which exits unmeasured
    # In a forked child only the forking thread exists: the parent's workers
    # (and any lock one of them held) are not there.
    global _pool
    _pool = _Pool()


if hasattr(os, "register_at_fork"):  # pragma: no branch - every POSIX system has it
    os.register_at_fork(after_in_child=_new_pool)


async def run_in_worker(fn: Callable[..., T], *args: object) -> T:
    """Run ``fn(*args)`` in a worker thread; return its answer, or raise what it raised.

    Never abandons the call: see the module's docstring for cancellation.
    """
    call = answer_here()
    value: object
    if call is None:
        value = await anyio.to_thread.run_sync(capture, fn, *args)
    else:
        call.fn = fn
        call.args = args
        call.context = contextvars.copy_context()
        _pool.submit(call)
        value = await call.wait()
    if type(value) is Raised:
        raise value.exc
    return cast("T", value)
