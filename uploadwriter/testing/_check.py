"""``check_writer``: one call that property-tests a writer against every law."""

from __future__ import annotations

from typing import Any

import hypothesis
from hypothesis import HealthCheck, Phase, given
from hypothesis.strategies import SearchStrategy

from ._laws import short
from ._run import run_stream
from ._spec import Consume, Hooks, Invariant, Leaks, make_spec
from ._streams import EventStream, event_streams

__all__ = ("check_writer", "default_settings")


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


def check_writer(
    writer: object,
    opts: object,
    *,
    settings: hypothesis.settings | None = None,
    streams: SearchStrategy[EventStream] | None = None,
    leaks: Leaks | None = None,
    invariant: Invariant | None = None,
    consume: Consume | None = None,
    backend: str = "asyncio",
) -> int:
    """Drive ``writer`` through the real drivers over generated uploads; fail on a broken law.

    ``writer`` is a sync or an async writer (or a class, created with no
    arguments); an async one runs under ``anyio.run`` on ``backend``. Each
    upload (an :class:`EventStream` from ``streams``, default
    :func:`event_streams`) runs through :class:`~uploadwriter.Uploader` or
    :class:`~uploadwriter.AsyncUploader` with ``opts``; after one that
    completed, ``meta`` is asked for twice and then given to ``consume``,
    which should do what your application does with a finished upload
    (move the file, delete the object). ``leaks`` is called before and after
    every upload and returns what is open (see :func:`open_fds`,
    :func:`files_in`): nothing may be added. ``invariant`` is called with the
    state after every callback that answered ``Ok``; raising or returning
    ``False`` breaks it. Needs no pytest. Returns the number of uploads run.

    Raises:
        WriterLawError: a law of :data:`LAWS` is broken; the message names it,
            the writer, the smallest event stream found and how to replay it.
        InitRefused: ``init`` refused ``opts``, so nothing could be checked.
        TypeError: ``writer`` is not an upload writer, or a hook is not callable.
        ValueError: ``backend`` is not ``"asyncio"`` or ``"trio"``.
    """
    hooks = Hooks(leaks=leaks, invariant=invariant, consume=consume, backend=backend)
    spec = make_spec(writer, opts, hooks)
    if streams is None:
        streams = event_streams()
    elif not isinstance(streams, SearchStrategy):
        raise TypeError(f"streams= must be a Hypothesis strategy of EventStream, not {streams!r}")
    # One plain upload first, so that opts the writer refuses are reported
    # as such rather than as a failing example.
    run_stream(spec, EventStream(()), shrunk=True, probe=True)
    count = [0]

    def check(stream: Any) -> None:
        if not isinstance(stream, EventStream):
            raise TypeError(f"streams= must generate EventStream values, not {stream!r}")
        count[0] += 1
        run_stream(spec, stream, shrunk=True)

    # Every check_writer call runs this same function: without a key of its
    # own, Hypothesis's example database would replay one writer's failures
    # for another (the attribute pytest's parametrize uses for the same end).
    check.__dict__["_hypothesis_internal_add_digest"] = f"{spec.name}|{short(opts)}".encode()
    chosen = settings if settings is not None else default_settings()
    hypothesis.settings(chosen)(given(streams)(check))()
    return count[0]
