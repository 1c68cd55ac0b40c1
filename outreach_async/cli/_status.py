"""Exit statuses of ``outreach-async`` and the errors that map to them."""

from __future__ import annotations

import enum

__all__ = ["ExitStatus", "StateConflict", "UsageError"]


class ExitStatus(enum.IntEnum):
    """What ``outreach-async`` exits with."""

    OK = 0
    #: a bug: the traceback is printed
    INTERNAL = 1
    #: bad arguments or input: an unknown resource, field or filter, a bad date (argparse too)
    USAGE = 2
    #: Outreach answered an error (401, 403, 404, 422, 429 or 5xx after retries), or the network
    #: failed
    API = 3
    #: Ctrl-C or SIGTERM; with --state, the same command resumes
    INTERRUPTED = 4
    #: the output file and its checkpoint disagree, or the state store cannot be used
    STATE = 5


class UsageError(Exception):
    """A command was given arguments it cannot use (exit status 2)."""


class StateConflict(Exception):
    """The output and the state of an incremental export disagree, or the state cannot be
    read (exit status 5); the message names both and how to start over."""
