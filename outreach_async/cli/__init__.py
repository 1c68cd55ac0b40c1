"""The ``outreach-async`` command line.

    outreach-async export RESOURCE [--out FILE] [--state sync.db] [--sandbox] ...
    outreach-async sandbox serve [--port 8787] [--seed 10000] ...
    outreach-async fleet worker|sync|status --config fleet.toml ...

Each command lives in its own module with a ``register(subcommands)`` function that adds its
parser and sets ``handler`` (a function of the parsed arguments returning the exit status, or
a coroutine function). :data:`COMMANDS` lists them; a module that is not installed (``auth``
until it lands) is skipped. Exit statuses: see :class:`ExitStatus` (0 done, 2 bad input,
3 API or network error, 4 interrupted, 5 state conflict).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib
import inspect
import signal
import sys
import traceback
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

from outreach_async import (
    APIError,
    FleetConfigError,
    OutreachError,
    QueryError,
    ResponseFormatError,
    TransportError,
    __version__,
    pause_collector_while_decoding,
)
from outreach_async.export import CheckpointError, OutputMismatchError
from outreach_async.sinks import SinkLayoutError

from ._status import ExitStatus, StateConflict, UsageError

__all__ = ["COMMANDS", "ExitStatus", "StateConflict", "UsageError", "build_parser", "main"]

#: modules (under this package) that register a top-level command, in help order
COMMANDS = ("_export", "_sandbox", "auth", "_fleet")


def build_parser() -> argparse.ArgumentParser:
    """The parser of every installed command."""
    parser = argparse.ArgumentParser(
        prog="outreach-async",
        description="Command line of outreach-async, the asyncio client for Outreach API v2.",
    )
    parser.add_argument("--version", action="version", version=f"outreach-async {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            continue
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``outreach-async`` with ``argv`` (default: ``sys.argv[1:]``); returns the status."""
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exit_:  # --help, --version, and usage errors (already printed)
        return exit_.code if isinstance(exit_.code, int) else int(ExitStatus.USAGE)
    try:
        with _collector_tuned():
            outcome = args.handler(args)
            if inspect.iscoroutine(outcome):
                outcome = asyncio.run(_with_sigterm(outcome))
        return int(outcome)
    except BaseException as exc:  # every way out gets a clear message and its status
        return report(exc, parser.prog, sys.stderr)


@contextlib.contextmanager
def _collector_tuned() -> Iterator[None]:
    """Collect cyclic garbage less often while a command runs.

    An export allocates tens of thousands of containers per page, and with the default
    thresholds the collector walks the decoded pages again and again (measured: 40% of an
    8-partition export's CPU, for the same peak memory). The objects of the imports are frozen
    out of its reach first. The command is the application, so the process-wide setting is
    ours while it runs (the library never touches it unless asked): the paginators also pause
    it while they decode a page (:func:`~outreach_async.pause_collector_while_decoding`), turned
    on before the freeze so that each decoded page may join the oldest generation (which
    thaws the imports into it at the first page: fine for one command). Both are put back
    afterwards for callers of :func:`main` such as tests.
    """
    thresholds = gc.get_threshold()
    pause_collector_while_decoding(True)
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)
    try:
        yield
    finally:
        pause_collector_while_decoding(False)
        gc.set_threshold(*thresholds)
        gc.unfreeze()


async def _with_sigterm(coroutine: Any) -> Any:
    """Run the command, treating SIGTERM as Ctrl-C (the task is cancelled, state stays sound)."""
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    if task is not None:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
    return await coroutine


def report(exc: BaseException, prog: str, err: TextIO) -> int:
    """Print one line for ``exc`` and return its exit status."""
    status, message = classify(exc)
    if status is ExitStatus.INTERNAL:
        traceback.print_exception(exc, file=err)
    elif message:
        print(f"{prog}: {message}", file=err)
    return int(status)


def classify(exc: BaseException) -> tuple[ExitStatus, str]:
    """The exit status of an exception, and what to tell the user."""
    if isinstance(exc, SystemExit):
        raise exc
    if isinstance(exc, (KeyboardInterrupt, asyncio.CancelledError)):
        return ExitStatus.INTERRUPTED, "interrupted; run the same command again to resume"
    if isinstance(exc, BrokenPipeError):
        with contextlib.suppress(OSError):  # stdout's reader left: say nothing more there
            sys.stdout = open(  # noqa: SIM115 - replaces stdout for the rest of the process
                "/dev/null", "w"
            )
        return ExitStatus.INTERRUPTED, "the output was closed"
    if isinstance(exc, (UsageError, QueryError, SinkLayoutError, FleetConfigError)):
        return ExitStatus.USAGE, str(exc)
    if isinstance(exc, (OutputMismatchError, CheckpointError, StateConflict)):
        return ExitStatus.STATE, str(exc)
    if isinstance(exc, APIError):
        return ExitStatus.API, f"Outreach answered {exc.status}: {exc}"
    if isinstance(exc, TransportError):
        return ExitStatus.API, f"network error: {exc}"
    if isinstance(exc, (ResponseFormatError, OutreachError)):
        return ExitStatus.API, str(exc)
    if isinstance(exc, OSError):  # a path that cannot be read or written
        if exc.filename is not None:
            return ExitStatus.USAGE, f"cannot use {exc.filename}: {exc.strerror}"
        return ExitStatus.USAGE, str(exc)
    return ExitStatus.INTERNAL, ""
