""":class:`FileTokenStore`: OAuth tokens in a file, between runs of one process.

:class:`FileTokenStore` suits one process on one machine: the file is JSON, written atomically
(a temporary file in the same directory, flushed to disk, then renamed over the old one) and
readable by its owner only, from the moment it exists. Several processes sharing one refresh
token need a shared store with a lock (Redis, a database): implement :class:`TokenStore`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import tempfile
from pathlib import Path

from outreach_async._hooks import logger

from ._tokens import TokenSet, TokenStore, token_set_from_json, token_set_to_json

__all__ = ["FileTokenStore"]

#: owner read and write, nobody else: tokens are credentials
FILE_MODE = 0o600
#: a directory the store creates: owner only too
DIR_MODE = 0o700


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
