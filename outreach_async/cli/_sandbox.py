"""``outreach-async sandbox serve``, run by :func:`outreach_async.sandbox.cli.serve_command`."""

from __future__ import annotations

import argparse
from typing import Any

from ._status import UsageError

__all__ = ["register"]


def register(commands: Any) -> None:
    """Add ``sandbox`` to the top-level subcommands."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "sandbox",
        help="run a local Outreach API sandbox",
        description="Run a local, seeded Outreach API on loopback (see sandbox serve --help).",
    )
    parser.add_argument("action", choices=("serve",), help="serve: run until Ctrl-C")
    parser.add_argument("options", nargs=argparse.REMAINDER, help="options of the action")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from outreach_async.sandbox.cli import serve_command

    try:
        return serve_command(args.options)
    except OverflowError as exc:  # the socket layer's word for a port outside 0-65535
        raise UsageError(f"sandbox serve: {exc}") from exc
