"""A Hypothesis state machine that runs upload after upload through a writer."""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar

import hypothesis
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from .._events import Chunk, Done, Event
from ._laws import WriterLawError
from ._report import AS_SENT
from ._run import AsyncRun, SyncRun
from ._spec import Consume, Hooks, Invariant, Leaks, Spec, make_spec
from ._strategies import DEFAULT_MAX_CHUNK_SIZE, error_reasons, events, exception_reasons

__all__ = ("WriterMachine", "writer_machine")


def _is_open(machine: WriterMachine) -> bool:
    return machine._run is not None


def _is_idle(machine: WriterMachine) -> bool:
    return machine._run is None


class WriterMachine(RuleBasedStateMachine):
    """Uploads one after another through one writer, each checked against every law.

    Rules start an upload (with or without an expected size and a limit),
    send chunks, ``Done()`` and ``Cancel()`` in any order, make the next write
    answer ``Err`` or raise, complete the upload properly, or finish it. Build one with
    :func:`writer_machine`, or subclass and set the class attributes
    ``writer`` and ``opts`` (and optionally the hooks ``leaks``,
    ``invariant``, ``consume`` and ``backend`` of :func:`check_writer`); its ``TestCase`` is
    collected by pytest and unittest.
    """

    writer: ClassVar[Any] = None
    opts: ClassVar[Any] = None
    leaks: ClassVar[Leaks | None] = None
    invariant: ClassVar[Invariant | None] = None
    consume: ClassVar[Consume | None] = None
    backend: ClassVar[str] = "asyncio"

    def __init__(self) -> None:
        super().__init__()
        cls = type(self)
        if cls.writer is None:
            raise TypeError(
                f"{cls.__name__} has no writer: set the class attributes writer and opts, "
                "or build the class with writer_machine(writer, opts)"
            )
        hooks = Hooks(
            leaks=cls.leaks, invariant=cls.invariant, consume=cls.consume, backend=cls.backend
        )
        self._spec: Spec = make_spec(cls.writer, cls.opts, hooks)
        self._run: SyncRun | AsyncRun | None = None
        self._broken = False
        self._exits = contextlib.ExitStack()
        self._portal: BlockingPortal | None = None
        if self._spec.asynchronous:
            # One event loop, in a thread, for the whole run of the machine:
            # an async writer may keep loop-bound objects across uploads.
            portal = start_blocking_portal(self._spec.hooks.backend)
            self._portal = self._exits.enter_context(portal)

    def _call(self, run: SyncRun | AsyncRun, name: str, *args: object) -> Any:
        # Async runs are driven through the portal's loop, sync ones directly.
        method = getattr(run, name)
        try:
            if self._portal is not None:
                return self._portal.call(method, *args)
            return method(*args)
        except WriterLawError:
            self._broken = True
            raise

    @precondition(_is_idle)
    @rule(
        sized=st.booleans(),
        size=st.integers(0, 2 * DEFAULT_MAX_CHUNK_SIZE),
        limit=st.none() | st.integers(0, 4 * DEFAULT_MAX_CHUNK_SIZE),
    )
    def start_upload(self, sized: bool, size: int, limit: int | None) -> None:
        """Start an upload (``init``), with or without an expected size and a limit."""
        kind = AsyncRun if self._spec.asynchronous else SyncRun
        run = kind(
            self._spec, origin=AS_SENT, expected_size=size if sized else None, max_size=limit
        )
        if self._call(run, "start"):
            self._run = run
            return
        self._call(run, "finish")
        raise run.init_refused()

    @precondition(_is_open)
    @rule(event=events())
    def send(self, event: Event) -> None:
        """Send a chunk, ``Done()`` or ``Cancel()``, whatever the upload's phase."""
        assert self._run is not None
        self._call(self._run, "send", event)

    @precondition(_is_open)
    @rule()
    def complete(self) -> None:
        """Send what the upload still expects, then ``Done()``."""
        run = self._run
        assert run is not None
        expected = run.expected_size
        if expected is not None and expected > run.up.size:
            self._call(run, "send", Chunk(bytes(expected - run.up.size)))
        self._call(run, "send", Done())

    @precondition(_is_open)
    @rule(reason=error_reasons())
    def fail_next_write(self, reason: object) -> None:
        """Make the writer's next ``write_chunk`` answer ``Err(reason, state)``."""
        assert self._run is not None
        self._run.recorder.faults.fail_next(reason)

    @precondition(_is_open)
    @rule(exception=exception_reasons())
    def raise_in_next_write(self, exception: Exception) -> None:
        """Make the writer's next ``write_chunk`` raise ``exception`` (the writer is not called)."""
        assert self._run is not None
        self._run.recorder.faults.fail_next(exception, raises=True)

    @precondition(_is_open)
    @rule()
    def finish_upload(self) -> None:
        """Leave the upload (``Cancel()`` if still open); check meta and leaks."""
        run = self._run
        assert run is not None
        self._run = None
        self._call(run, "finish")

    def teardown(self) -> None:
        run, self._run = self._run, None
        try:
            if run is not None:
                if self._broken:
                    self._call(run, "abort", RuntimeError("the check failed"))
                else:
                    self._call(run, "finish")
        finally:
            self._exits.close()


def writer_machine(
    writer: object,
    opts: object,
    *,
    settings: hypothesis.settings | None = None,
    leaks: Leaks | None = None,
    invariant: Invariant | None = None,
    consume: Consume | None = None,
    backend: str = "asyncio",
) -> type[WriterMachine]:
    """Return a :class:`WriterMachine` subclass for ``writer`` (an instance or a class).

    Its ``TestCase`` is a ``unittest.TestCase`` that pytest collects::

        TestMyWriter = writer_machine(MyWriter(), opts).TestCase

    The hooks are those of :func:`check_writer`. ``settings`` become the
    ``TestCase``'s settings (Hypothesis's default for state machines otherwise).

    Raises:
        TypeError: ``writer`` is not an upload writer, or a hook is not callable.
        ValueError: ``backend`` is not ``"asyncio"`` or ``"trio"``.
    """
    hooks = Hooks(leaks=leaks, invariant=invariant, consume=consume, backend=backend)
    name = type(make_spec(writer, opts, hooks).writer).__name__

    class Machine(WriterMachine):
        pass

    Machine.__name__ = Machine.__qualname__ = f"{name}Machine"
    Machine.writer = writer
    Machine.opts = opts
    # Read through the class, never an instance, so these plain functions
    # are not bound as methods.
    Machine.leaks = leaks
    Machine.invariant = invariant
    Machine.consume = consume
    Machine.backend = backend
    if settings is not None:
        Machine.TestCase.settings = settings
    return Machine
