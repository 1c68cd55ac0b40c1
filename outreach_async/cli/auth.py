"""``outreach-async auth login``: log an app in with the authorization-code flow.

    outreach-async auth login --client-id ID --client-secret SECRET \\
        --scopes prospects.read accounts.read [--token-file PATH] [--port 8765]

Starts a one-shot listener on ``http://127.0.0.1:<port>/callback``, prints the authorize URL
(and opens it in the browser unless ``--no-browser``), checks the redirect's ``state``,
exchanges the code and saves the tokens with :class:`~outreach_async.FileTokenStore` (mode
0600). Afterwards ``await OAuth2Refresh.from_store(FileTokenStore(PATH), ...)`` uses them.
``--authorize-url`` and ``--token-url`` point it at a sandbox.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
from pathlib import Path
from typing import Any

from outreach_async.auth import DEFAULT_TOKEN_URL, FileTokenStore, login
from outreach_async.auth._login import (
    CALLBACK_PATH,
    DEFAULT_AUTHORIZE_URL,
    LOGIN_TIMEOUT,
    open_in_browser,
)

from ._status import UsageError

__all__ = ["default_token_file", "register"]

LOGIN_DESCRIPTION = (
    "Start a one-shot listener on http://127.0.0.1:PORT/callback, print the authorize URL (and "
    "open it in a browser unless --no-browser), check the redirect's state, exchange the code "
    "and save the tokens in a file only you can read. Programs then use them with "
    "OAuth2Refresh.from_store(FileTokenStore(PATH), client_id=..., client_secret=...)."
)


def default_token_file() -> Path:
    """``$OUTREACH_TOKEN_FILE``, else ``$XDG_CONFIG_HOME/outreach-async/tokens.json`` (with
    ``~/.config`` when XDG_CONFIG_HOME is unset)."""
    explicit = os.environ.get("OUTREACH_TOKEN_FILE")
    if explicit:
        return Path(explicit).expanduser()
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "outreach-async" / "tokens.json"


def register(commands: Any) -> None:
    """Add ``auth`` (with its ``login`` action) to the top-level subcommands."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "auth",
        help="log in to Outreach with OAuth and save the tokens",
        description="Log in to Outreach (OAuth 2.0 authorization-code flow).",
    )
    actions = parser.add_subparsers(dest="auth_action", metavar="ACTION", required=True)
    login_parser = actions.add_parser(
        "login",
        help="authorize the app in a browser and save its tokens",
        description=LOGIN_DESCRIPTION,
    )
    _add_login_arguments(login_parser)
    login_parser.set_defaults(handler=_login)


def _add_login_arguments(parser: argparse.ArgumentParser) -> None:
    app = parser.add_argument_group("the app (from the Outreach developer portal)")
    app.add_argument(
        "--client-id",
        default=os.environ.get("OUTREACH_CLIENT_ID"),
        help="the app's client id (default: $OUTREACH_CLIENT_ID)",
    )
    app.add_argument(
        "--client-secret",
        default=os.environ.get("OUTREACH_CLIENT_SECRET"),
        help="the app's client secret (default: $OUTREACH_CLIENT_SECRET, which keeps it out of "
        "the process list)",
    )
    app.add_argument(
        "--scopes",
        nargs="+",
        required=True,
        metavar="SCOPE",
        help="scopes to ask for, e.g. prospects.read accounts.all (space- or comma-separated)",
    )
    where = parser.add_argument_group("where")
    where.add_argument(
        "--token-file",
        type=Path,
        default=None,
        help=f"where to save the tokens (default: {default_token_file()})",
    )
    where.add_argument(
        "--port",
        type=int,
        default=0,
        help=f"loopback port of the redirect http://127.0.0.1:PORT{CALLBACK_PATH}; register that "
        "URI with the app (default: a free port)",
    )
    where.add_argument("--authorize-url", default=DEFAULT_AUTHORIZE_URL, help="%(default)s")
    where.add_argument("--token-url", default=DEFAULT_TOKEN_URL, help="%(default)s")
    behaviour = parser.add_argument_group("behaviour")
    behaviour.add_argument(
        "--no-browser", action="store_true", help="only print the URL; do not open a browser"
    )
    behaviour.add_argument(
        "--timeout",
        type=float,
        default=LOGIN_TIMEOUT,
        help="seconds to wait for the browser (default: %(default)s)",
    )


async def _login(args: argparse.Namespace) -> int:
    if not args.client_id or not args.client_secret:
        raise UsageError(
            "auth login needs --client-id and --client-secret "
            "(or OUTREACH_CLIENT_ID and OUTREACH_CLIENT_SECRET)"
        )
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, not {args.port}")
    path: Path = args.token_file or default_token_file()
    tokens = await login(
        client_id=args.client_id,
        client_secret=args.client_secret,
        scopes=args.scopes,
        store=FileTokenStore(path),
        authorize_base=args.authorize_url,
        token_url=args.token_url,
        port=args.port,
        open_url=None if args.no_browser else open_in_browser,
        announce=_announce,
        browser_timeout=args.timeout,
    )
    print(f"Logged in. Tokens saved to {path} (mode 600).", flush=True)
    if tokens.expires_at is not None:
        until = dt.datetime.fromtimestamp(tokens.expires_at, dt.UTC).isoformat(timespec="seconds")
        print(f"The access token is valid until {until}; it is refreshed from the file.")
    return 0


def _announce(url: str) -> None:
    print("Open this URL in a browser to authorize the app:", flush=True)
    print(url, flush=True)
