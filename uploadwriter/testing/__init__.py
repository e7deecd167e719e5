"""Check your own upload writer: Hypothesis strategies, ``check_writer``, a state machine.

Needs Hypothesis (``pip install 'uploadwriter[testing]'``); does not need pytest::

    from uploadwriter.testing import check_writer
    report = check_writer(MyWriter(), MyOpts(bucket="test"))

Every check runs one fixed upload per close path (:data:`CLOSE_PATHS`), then
Hypothesis's. A broken law raises :class:`WriterLawError` (an
``AssertionError``) naming the law (:data:`LAWS`), the writer, the upload that
breaks it and how to replay it; otherwise a :class:`CheckReport` says what ran.
"""

try:
    import hypothesis as _hypothesis  # noqa: F401 - imported to fail early, and clearly
except ModuleNotFoundError as _missing:  # pragma: no cover - tested in a subprocess
    if _missing.name != "hypothesis":
        raise
    raise ModuleNotFoundError(
        "uploadwriter.testing needs Hypothesis, which is not installed: "
        "pip install 'uploadwriter[testing]'",
        name="hypothesis",
    ) from _missing

from ._check import CheckReport as CheckReport
from ._check import check_writer as check_writer
from ._check import check_writer_async as check_writer_async
from ._check import default_settings as default_settings
from ._laws import LAWS as LAWS
from ._laws import InitRefused as InitRefused
from ._laws import WriterLawError as WriterLawError
from ._leaks import files_in as files_in
from ._leaks import open_fds as open_fds
from ._machine import WriterMachine as WriterMachine
from ._machine import writer_machine as writer_machine
from ._paths import CLOSE_PATHS as CLOSE_PATHS
from ._replay import replay as replay
from ._replay import replay_async as replay_async
from ._strategies import InjectedFailure as InjectedFailure
from ._strategies import chunk_data as chunk_data
from ._strategies import chunks as chunks
from ._strategies import close_reasons as close_reasons
from ._strategies import error_reasons as error_reasons
from ._strategies import events as events
from ._streams import EventStream as EventStream
from ._streams import event_streams as event_streams

__all__ = (
    "CLOSE_PATHS",
    "LAWS",
    "CheckReport",
    "EventStream",
    "InitRefused",
    "InjectedFailure",
    "WriterLawError",
    "WriterMachine",
    "check_writer",
    "check_writer_async",
    "chunk_data",
    "chunks",
    "close_reasons",
    "default_settings",
    "error_reasons",
    "event_streams",
    "events",
    "files_in",
    "open_fds",
    "replay",
    "replay_async",
    "writer_machine",
)
