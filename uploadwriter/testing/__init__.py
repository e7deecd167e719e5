"""Check your own upload writer: Hypothesis strategies, ``check_writer``, a state machine.

Needs Hypothesis (``pip install 'uploadwriter[testing]'``); does not need pytest::

    from uploadwriter.testing import check_writer
    check_writer(MyWriter(), {"bucket": "test"})

A broken law raises :class:`WriterLawError` (an ``AssertionError``) naming
the law (:data:`LAWS`), the writer, the smallest upload that breaks it and
how to replay it.
"""

from ._check import check_writer as check_writer
from ._check import default_settings as default_settings
from ._laws import LAWS as LAWS
from ._laws import InitRefused as InitRefused
from ._laws import WriterLawError as WriterLawError
from ._leaks import files_in as files_in
from ._leaks import open_fds as open_fds
from ._machine import WriterMachine as WriterMachine
from ._machine import writer_machine as writer_machine
from ._run import replay as replay
from ._strategies import InjectedFailure as InjectedFailure
from ._strategies import chunk_data as chunk_data
from ._strategies import chunks as chunks
from ._strategies import close_reasons as close_reasons
from ._strategies import error_reasons as error_reasons
from ._strategies import events as events
from ._streams import EventStream as EventStream
from ._streams import event_streams as event_streams

__all__ = (
    "LAWS",
    "EventStream",
    "InitRefused",
    "InjectedFailure",
    "WriterLawError",
    "WriterMachine",
    "check_writer",
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
    "writer_machine",
)
