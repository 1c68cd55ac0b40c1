"""Where OAuth tokens live between runs: the :class:`TokenStore` protocol and a file store.

Outreach may rotate the refresh token on every refresh and a refresh token dies 14 days after
it was issued (facts 1.1, 11.2), so a long-lived integration must persist each new token set
before it uses it. :meth:`OAuth2Refresh.from_store <outreach_async.OAuth2Refresh.from_store>`
wires a store in: it loads the saved set and saves every new one from ``on_refresh``.

:class:`FileTokenStore` suits one process on one machine: the file is JSON, written atomically
(a temporary file in the same directory, flushed to disk, then renamed over the old one) and
readable by its owner only, from the moment it exists. Several processes sharing one refresh
token need a shared store with a lock (Redis, a database): implement :class:`TokenStore`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import stat
import tempfile
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import orjson

from outreach_async._auth import TokenSet
from outreach_async._exceptions import TokenStoreError
from outreach_async._hooks import logger

__all__ = ["FileTokenStore", "TokenStore", "TokenStoreError", "token_set_from_json"]

#: owner read and write, nobody else: tokens are credentials
FILE_MODE = 0o600
#: a directory the store creates: owner only too
DIR_MODE = 0o700


@runtime_checkable
class TokenStore(Protocol):
    """Loads and saves one :class:`TokenSet`; implement it for your own storage."""

    async def load(self) -> TokenSet | None:
        """The saved token set, or None when nothing was saved yet."""
        ...

    async def save(self, tokens: TokenSet) -> None:
        """Persist ``tokens`` durably, replacing what was saved before."""
        ...


def token_set_to_json(tokens: TokenSet) -> bytes:
    """The JSON form of a token set (what :class:`FileTokenStore` writes)."""
    return orjson.dumps(
        {
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "expires_at": tokens.expires_at,
        },
        option=orjson.OPT_INDENT_2,
    )


def token_set_from_json(raw: bytes, where: str = "the token store") -> TokenSet:
    """Read :func:`token_set_to_json`'s form back; :class:`TokenStoreError` when it is not one."""
    try:
        loaded: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise TokenStoreError(f"{where} does not hold JSON") from None
    if not isinstance(loaded, dict):
        raise TokenStoreError(f"{where} does not hold a JSON object")
    access, refresh = loaded.get("access_token"), loaded.get("refresh_token")
    expires_at = loaded.get("expires_at")
    if not isinstance(access, str) or not isinstance(refresh, str) or not refresh:
        raise TokenStoreError(f"{where} lacks an access_token or refresh_token string")
    if expires_at is not None and (
        isinstance(expires_at, bool)
        or not isinstance(expires_at, int | float)
        or not math.isfinite(expires_at)
    ):
        raise TokenStoreError(f"{where} has an expires_at that is not a number of seconds")
    return TokenSet(
        access_token=access,
        refresh_token=refresh,
        expires_at=None if expires_at is None else float(expires_at),
    )


class FileTokenStore(TokenStore):
    """A JSON file holding one token set: atomic writes, mode 0600 from creation.

    The directory is created (mode 0700) when missing. Saves from one store object run one at a
    time; the file I/O runs in a worker thread so the event loop never waits on the disk.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"FileTokenStore({str(self.path)!r})"

    async def load(self) -> TokenSet | None:
        """The saved set, or None when the file does not exist."""
        return await asyncio.to_thread(self._load)

    async def save(self, tokens: TokenSet) -> None:
        """Write ``tokens`` to a temporary file, fsync it, then rename it over the file."""
        async with self._lock:
            await asyncio.to_thread(self._save, token_set_to_json(tokens))

    # -- blocking halves, run in a thread ---------------------------------------------------------

    def _load(self) -> TokenSet | None:
        try:
            with self.path.open("rb") as file:
                mode = os.fstat(file.fileno()).st_mode
                raw = file.read()
        except FileNotFoundError:
            return None
        if stat.S_IMODE(mode) & 0o077:
            logger.warning(
                "%s is readable or writable by other users; run: chmod 600 %s",
                self.path,
                self.path,
            )
        return token_set_from_json(raw, str(self.path))

    def _save(self, payload: bytes) -> None:
        directory = self.path.parent
        if not directory.exists():
            directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        # mkstemp opens with O_EXCL and mode 0600: the secret is never readable by others, not
        # even between creation and a chmod. Same directory, so os.replace is an atomic rename.
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as file:
                os.fchmod(file.fileno(), FILE_MODE)  # whatever the umask said
                file.write(payload)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX: the directory entry lives in the directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms that cannot open directories
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
