"""``check_writer``: fixed uploads, then Hypothesis's, and the report."""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Iterable
from typing import Any

import anyio.from_thread
import anyio.to_thread
import attrs
import hypothesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from ._laws import short
from ._paths import CLOSE_PATHS, fixed_uploads
from ._replay import LoopRunner, run_stream
from ._report import SHRUNK, Origin
from ._sizes import check_sizes, near_sizes, sized_uploads
from ._spec import Consume, Hooks, Invariant, Leaks, Spec, make_spec
from ._streams import EventStream, event_streams

__all__ = ("CheckReport", "check_writer", "check_writer_async", "default_settings")


def default_settings() -> hypothesis.settings:
    """The settings ``check_writer`` uses unless given others.

    The current Hypothesis profile's, without a deadline (a writer that
    touches the disk or the network is slow now and then, which is not a
    bug), without the health checks about large or slow examples (large
    uploads are the point), and without the "explain" phase.
    """
    return hypothesis.settings(
        deadline=None,
        # The report already says which upload broke which law and how.
        phases=[phase for phase in Phase if phase is not Phase.explain],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        return True
    trio = sys.modules.get("trio")
    if trio is None:
        return False
    try:
        trio.lowlevel.current_task()
    except RuntimeError:
        return False
    return True


def _ranges(letters: str) -> str:
    """``"abcdeg"`` -> ``"a-e, g"``."""
    parts: list[str] = []
    i = 0
    while i < len(letters):
        j = i
        while j + 1 < len(letters) and ord(letters[j + 1]) == ord(letters[j]) + 1:
            j += 1
        parts.append(letters[i] if i == j else f"{letters[i]}-{letters[j]}")
        i = j + 1
    return ", ".join(parts)


@attrs.frozen
class CheckReport:
    """What a :func:`check_writer` run that found no broken law did.

    ``str(report)`` says it in two lines, e.g.::

        mymodule.MyWriter: laws a-e hold over 109 uploads (sync writer): 9 fixed, 100 generated
          close paths covered: done, size-reached, cancel, ...
    """

    #: The writer's class, as ``module.QualifiedName``.
    writer: str
    #: Whether it is an async writer.
    asynchronous: bool
    #: The letters of the laws checked (f needs ``leaks=``, g ``invariant=``).
    laws: str
    #: Uploads run in all: the fixed ones, then Hypothesis's.
    uploads: int
    #: Of which fixed: one per close path, and nine per size of ``sizes=``.
    fixed_uploads: int
    #: The close paths (keys of :data:`CLOSE_PATHS`) some upload took, in that order.
    paths_covered: tuple[str, ...]
    #: The sizes given with ``sizes=``, sorted.
    sizes: tuple[int, ...] = ()

    @property
    def paths_missed(self) -> tuple[str, ...]:
        """The close paths no upload took (a writer whose every write fails never completes)."""
        return tuple(path for path in CLOSE_PATHS if path not in self.paths_covered)

    def summary(self) -> str:
        """The report without the writer's name."""
        kind = "async" if self.asynchronous else "sync"
        generated = self.uploads - self.fixed_uploads
        lines = [
            f"laws {_ranges(self.laws)} hold over {self.uploads} uploads ({kind} writer): "
            f"{self.fixed_uploads} fixed, {generated} generated",
            f"  close paths covered: {', '.join(self.paths_covered) or 'none'}",
        ]
        if self.paths_missed:
            lines.append(f"  close paths not covered: {', '.join(self.paths_missed)}")
        if self.sizes:
            lines.append(f"  around the sizes: {', '.join(map(str, self.sizes))}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return f"{self.writer}: {self.summary()}"


@attrs.frozen
class _Plan:
    """What one check runs: the fixed uploads, then Hypothesis's strategy with its settings."""

    fixed: list[tuple[Origin, EventStream]]
    streams: SearchStrategy[EventStream]
    settings: hypothesis.settings
    sizes: tuple[int, ...]


_AGAIN = "Every check runs this upload first, before Hypothesis's random ones."


def _plan(streams: object, sizes: Iterable[int], settings: hypothesis.settings | None) -> _Plan:
    sizes = check_sizes(sizes)
    if streams is None:
        plain = event_streams()
        # A quarter of the random uploads go past one of the sizes.
        streams = st.one_of(plain, plain, plain, near_sizes(sizes, plain)) if sizes else plain
    elif not isinstance(streams, SearchStrategy):
        raise TypeError(f"streams= must be a Hypothesis strategy of EventStream, not {streams!r}")
    fixed = [
        (Origin(f"the fixed upload for close path {path!r}", _AGAIN), stream)
        for path, stream in fixed_uploads()
    ]
    for size in sizes:
        fixed.extend(
            (Origin(f"a fixed upload for sizes=[{size}]: {what}", _AGAIN), stream)
            for _, what, stream in sized_uploads(size)
        )
    chosen = settings if settings is not None else default_settings()
    return _Plan(fixed, streams, chosen, sizes)


def _check(spec: Spec, plan: _Plan, runner: LoopRunner | None) -> CheckReport:
    covered: set[str] = set()
    # The first fixed upload also tells opts the writer refuses (InitRefused)
    # from a broken law.
    for index, (origin, stream) in enumerate(plan.fixed):
        covered |= run_stream(spec, stream, origin=origin, probe=index == 0, runner=runner)
    count = [0]

    def check(stream: Any) -> None:
        if not isinstance(stream, EventStream):
            raise TypeError(f"streams= must generate EventStream values, not {stream!r}")
        count[0] += 1
        covered.update(run_stream(spec, stream, origin=SHRUNK, runner=runner))

    # Every check_writer call runs this same function: without a key of its
    # own, Hypothesis's example database would replay one writer's failures
    # for another (the attribute pytest's parametrize uses for the same end).
    key = f"{spec.name}|{short(spec.opts)}|{plan.sizes}"
    check.__dict__["_hypothesis_internal_add_digest"] = key.encode()
    hypothesis.settings(plan.settings)(given(plan.streams)(check))()
    hooks = spec.hooks
    laws = "abcde" + ("f" if hooks.leaks else "") + ("g" if hooks.invariant else "")
    return CheckReport(
        writer=spec.name,
        asynchronous=spec.asynchronous,
        laws=laws,
        uploads=len(plan.fixed) + count[0],
        fixed_uploads=len(plan.fixed),
        paths_covered=tuple(path for path in CLOSE_PATHS if path in covered),
        sizes=plan.sizes,
    )


def check_writer(
    writer: object,
    opts: object,
    *,
    settings: hypothesis.settings | None = None,
    streams: SearchStrategy[EventStream] | None = None,
    sizes: Iterable[int] = (),
    leaks: Leaks | None = None,
    invariant: Invariant | None = None,
    consume: Consume | None = None,
    backend: str = "asyncio",
) -> CheckReport:
    """Drive ``writer`` through the real drivers over many uploads; fail on a broken law.

    ``writer`` is a sync or an async writer (or a class, created with no
    arguments); an async one runs under ``anyio.run`` on ``backend`` (inside a
    running event loop, use :func:`check_writer_async`). First come fixed
    uploads, one per close path (:data:`CLOSE_PATHS`), so that each is checked
    on every run; then Hypothesis's (``streams``, default :func:`event_streams`,
    with ``settings``, default :func:`default_settings`), which it shrinks to
    the smallest that fails.

    ``sizes`` are sizes in bytes where the writer changes behaviour (a part
    size, a buffer size): for each, fixed uploads of one byte less, exactly
    that and one more, and ones where a single chunk crosses it (completed,
    failing, raising, too large, cancelled); a quarter of the default random
    uploads also go past one of them. The bytes come from one repeated
    buffer, so multi-megabyte sizes cost little.

    After an upload that completed, ``meta`` is asked for twice and then given
    to ``consume``, which should do what your application does with a finished
    upload (move the file, delete the object); without ``consume``, the
    writer's own ``discard(state)`` hook is called, if it has one. ``leaks`` is
    called before and after every upload and returns what is open (see
    :func:`open_fds`, :func:`files_in`): nothing may be added. ``invariant``
    is called with the state after every callback that answered ``Ok``;
    raising or returning ``False`` breaks it. Needs no pytest.

    Returns:
        A :class:`CheckReport`: the uploads run and the close paths covered.

    Raises:
        WriterLawError: a law of :data:`LAWS` is broken; the message names it,
            the writer, the upload (the smallest found, or the fixed one), the
            writer calls made and how to replay it.
        InitRefused: ``init`` refused ``opts``, so nothing could be checked.
        TypeError: ``writer`` is not an upload writer, a hook is not callable,
            or ``streams`` or ``sizes`` is not what it must be.
        ValueError: ``backend`` is not ``"asyncio"`` or ``"trio"``, or a size is
            less than 1.
        RuntimeError: ``writer`` is async and an event loop is running here.
    """
    hooks = Hooks(leaks=leaks, invariant=invariant, consume=consume, backend=backend)
    spec = make_spec(writer, opts, hooks)
    if spec.asynchronous and _in_event_loop():
        raise RuntimeError(
            "check_writer runs an async writer in an event loop of its own, which cannot "
            "start in a running event loop: await check_writer_async(...) instead"
        )
    return _check(spec, _plan(streams, sizes, settings), runner=None)


async def check_writer_async(
    writer: object,
    opts: object,
    *,
    settings: hypothesis.settings | None = None,
    streams: SearchStrategy[EventStream] | None = None,
    sizes: Iterable[int] = (),
    leaks: Leaks | None = None,
    invariant: Invariant | None = None,
    consume: Consume | None = None,
) -> CheckReport:
    """:func:`check_writer` for code already in an event loop: ``await`` it.

    For tests run by pytest-anyio or pytest-asyncio, and notebooks, on asyncio
    or trio. An async writer runs on the running loop (so it may use objects
    bound to it); Hypothesis, and a sync writer, run in a worker thread, which
    leaves the loop free meanwhile. The hooks are called in that thread.

    Raises:
        The same as :func:`check_writer`.
    """
    hooks = Hooks(leaks=leaks, invariant=invariant, consume=consume)
    spec = make_spec(writer, opts, hooks, awaited=True)
    plan = _plan(streams, sizes, settings)
    runner: LoopRunner = anyio.from_thread.run
    report: CheckReport = await anyio.to_thread.run_sync(
        functools.partial(_check, spec, plan, runner)
    )
    return report
