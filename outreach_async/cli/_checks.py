"""Arguments checked before any connection: base URLs and the paths a command will write.

Each check raises :class:`UsageError` (exit status 2) with one line that names the argument and
what is wrong with it, so that a typo costs no request and never a traceback.
"""

from __future__ import annotations

import os

from yarl import URL

from ._status import UsageError

__all__ = ["API_PATH", "api_path_hint", "check_base_url", "check_writable", "lacks_api_path"]

#: the path every Outreach API v2 URL starts with
API_PATH = "/api/v2"
_EXAMPLES = "such as https://api.outreach.io/api/v2 or http://127.0.0.1:8787/api/v2"


def check_base_url(url: str, source: str = "--base-url") -> None:
    """An absolute http(s) URL with a host (``127.0.0.1:8787/api/v2`` lacks its scheme);
    ``source`` names where it came from (the option or ``OUTREACH_BASE_URL``)."""
    parsed = URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise UsageError(
            f"{source} {url!r} is not an http(s) URL with a host: give one {_EXAMPLES}"
        )


def lacks_api_path(url: str) -> bool:
    """Whether a base URL's path leaves out ``/api/v2`` (a 404 from it is then explained)."""
    return API_PATH not in URL(url).path


def api_path_hint(url: str) -> str:
    """What to say when a base URL without ``/api/v2`` got a 404."""
    return f"--base-url {url!r} got 404 Not Found: its path lacks {API_PATH} (give one {_EXAMPLES})"


def check_writable(path: str, flag: str, *, beside: bool = True) -> None:
    """``path`` can be created or written: it is not a directory, its directory exists and,
    when ``beside`` (a file written next to it, SQLite's journal) or to create it, is writable.
    A device such as ``/dev/full`` passes: its write errors name it."""
    full = os.path.abspath(path)
    if os.path.isdir(full):
        raise UsageError(f"{flag} {path}: is a directory, not a file")
    exists = os.path.exists(full)
    if exists and not os.access(full, os.W_OK):
        raise UsageError(f"{flag} {path}: cannot be written (permission denied)")
    directory = os.path.dirname(full)
    if not os.path.isdir(directory):
        raise UsageError(f"{flag} {path}: cannot be written ({directory} is not a directory)")
    needs_directory = not exists or (beside and os.path.isfile(full))
    if needs_directory and not os.access(directory, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {path}: cannot be written ({directory} is not writable)")
