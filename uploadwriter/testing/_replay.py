"""Run one upload from start to end: the check's step, and ``replay``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import anyio.to_thread

from ._laws import WriterLawError, short
from ._report import AS_GIVEN, Origin
from ._run import AsyncRun, SyncRun
from ._spec import Consume, Hooks, Invariant, Leaks, Spec, make_spec
from ._streams import EventStream

__all__ = ("LoopRunner", "replay", "replay_async", "run_stream")


def _run_sync(spec: Spec, stream: EventStream, origin: Origin, probe: bool) -> set[str]:
    run = SyncRun(spec, stream, origin=origin)
    if run.start():
        try:
            for event in stream.events:
                run.send(event)
        except WriterLawError as exc:
            run.abort(exc)
            raise
    elif probe:
        run.finish()
        raise run.init_refused()
    run.finish()
    return run.paths


async def _run_async(spec: Spec, stream: EventStream, origin: Origin, probe: bool) -> set[str]:
    run = AsyncRun(spec, stream, origin=origin)
    if await run.start():
        try:
            for event in stream.events:
                await run.send(event)
        except WriterLawError as exc:
            await run.abort(exc)
            raise
    elif probe:
        await run.finish()
        raise run.init_refused()
    await run.finish()
    return run.paths


#: Runs an async function to its end from synchronous code: ``anyio.run`` on
#: a new loop, or ``anyio.from_thread.run`` on the caller's loop.
LoopRunner = Callable[..., Any]


def run_stream(
    spec: Spec,
    stream: EventStream,
    *,
    origin: Origin = AS_GIVEN,
    probe: bool = False,
    runner: LoopRunner | None = None,
) -> set[str]:
    """Run one upload; return the close paths it took (see ``CLOSE_PATHS``).

    An async writer runs in a new event loop on ``spec.hooks.backend``, or
    through ``runner``. ``origin`` says in a report where ``stream`` comes from.

    Raises:
        WriterLawError: a law broke.
        InitRefused: with ``probe``, ``init`` refused the opts.
    """
    if not spec.asynchronous:
        return _run_sync(spec, stream, origin, probe)
    paths: set[str]
    if runner is None:
        paths = anyio.run(_run_async, spec, stream, origin, probe, backend=spec.hooks.backend)
    else:
        paths = runner(_run_async, spec, stream, origin, probe)
    return paths


def _replay_spec(
    writer: object, opts: object, stream: object, hooks: Hooks, *, awaited: bool = False
) -> Spec:
    if not isinstance(stream, EventStream):
        raise TypeError(f"stream must be an EventStream, not {short(stream)}")
    return make_spec(writer, opts, hooks, awaited=awaited)


def replay(
    writer: object,
    opts: object,
    stream: EventStream,
    *,
    leaks: Leaks | None = None,
    invariant: Invariant | None = None,
    consume: Consume | None = None,
    backend: str = "asyncio",
) -> None:
    """Run one upload, ``stream``, through ``writer`` with every check of :func:`check_writer`.

    This is how a failure that ``check_writer`` reported is reproduced; it also
    lets a test of your own drive ``@given(event_streams())`` streams through it.
    An async writer runs under ``anyio.run`` on ``backend``: inside a running
    event loop, use :func:`replay_async`.

    Raises:
        WriterLawError: the writer broke a law on this stream.
        TypeError: ``writer`` is not an upload writer, or ``stream`` not an ``EventStream``.
    """
    hooks = Hooks(leaks=leaks, invariant=invariant, consume=consume, backend=backend)
    run_stream(_replay_spec(writer, opts, stream, hooks), stream)


async def replay_async(
    writer: object,
    opts: object,
    stream: EventStream,
    *,
    leaks: Leaks | None = None,
    invariant: Invariant | None = None,
    consume: Consume | None = None,
) -> None:
    """:func:`replay` for code already in an event loop (asyncio or trio): ``await`` it.

    An async writer runs on the running loop; a sync one in a worker thread.

    Raises:
        WriterLawError: the writer broke a law on this stream.
        TypeError: ``writer`` is not an upload writer, or ``stream`` not an ``EventStream``.
    """
    hooks = Hooks(leaks=leaks, invariant=invariant, consume=consume)
    spec = _replay_spec(writer, opts, stream, hooks, awaited=True)
    if spec.asynchronous:
        await _run_async(spec, stream, AS_GIVEN, False)
    else:
        await anyio.to_thread.run_sync(_run_sync, spec, stream, AS_GIVEN, False)
