"""Checkpoint stores: where an export keeps its progress between runs.

A checkpoint is one JSON document under a key derived from the resource and the query (see
:func:`checkpoint_key`). Three stores implement :class:`CheckpointStore`:

- :class:`SQLiteCheckpointStore`: a local file (``--state sync.db``), the default. Each save is
  one committed transaction with ``synchronous=FULL``, so after a crash (``kill -9``) the file
  holds either the previous checkpoint or the new one, never a mix.
- :class:`RedisCheckpointStore` (in :mod:`._redis_store`): for fleets of workers sharing
  progress (``--state redis://host:6379/0``).
- :class:`MemoryCheckpointStore`: no persistence (one-off exports, tests).

Values are compared as canonical JSON text (sorted keys), which is what
:meth:`CheckpointStore.replace` checks before it writes: fleet members race to start the next
run, and only one may win.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
import threading
from typing import Any, Protocol, runtime_checkable

import orjson

from outreach_async import CheckpointError

__all__ = [
    "CheckpointError",
    "CheckpointStore",
    "MemoryCheckpointStore",
    "SQLiteCheckpointStore",
    "canonical_json",
    "decode_checkpoint",
    "checkpoint_key",
]

Document = dict[str, Any]


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: equal values give equal text."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=repr).decode()


def checkpoint_key(resource_type: str, query: Any, suffix: str = "") -> str:
    """``prospect:1a2b3c4d5e6f7a8b[:suffix]``: the resource and a digest of the query."""
    digest = hashlib.sha256(canonical_json(query).encode()).hexdigest()[:16]
    return f"{resource_type}:{digest}" + (f":{suffix}" if suffix else "")


def decode_checkpoint(text: str | bytes | None) -> Document | None:
    """A stored checkpoint document (None for none); :class:`CheckpointError` when it is not a
    JSON object."""
    if text is None:
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise CheckpointError(f"a checkpoint is not valid JSON: {exc}", malformed=True) from exc
    if not isinstance(value, dict):
        raise CheckpointError("a checkpoint is not a JSON object", malformed=True)
    return value


@runtime_checkable
class CheckpointStore(Protocol):
    """Keyed JSON documents with atomic writes. Implementations must survive ``kill -9``
    between any two calls with the last completed ``save`` intact."""

    async def load(self, key: str) -> Document | None:
        """The document under ``key``, or None."""

    async def save(self, key: str, value: Document) -> None:
        """Replace the document under ``key``; durable when this returns."""

    async def create(self, key: str, value: Document) -> Document:
        """Store ``value`` unless ``key`` exists; return what ``key`` holds afterwards."""

    async def replace(self, key: str, expected: Document | None, value: Document) -> bool:
        """Store ``value`` only if ``key`` still holds ``expected``; True when it did."""

    async def close(self) -> None:
        """Release connections."""


class MemoryCheckpointStore:
    """A dict: progress lasts as long as the object (one-off exports and tests)."""

    def __init__(self) -> None:
        self.documents: dict[str, str] = {}

    async def load(self, key: str) -> Document | None:
        return decode_checkpoint(self.documents.get(key))

    async def save(self, key: str, value: Document) -> None:
        self.documents[key] = canonical_json(value)

    async def create(self, key: str, value: Document) -> Document:
        self.documents.setdefault(key, canonical_json(value))
        return decode_checkpoint(self.documents[key]) or {}

    async def replace(self, key: str, expected: Document | None, value: Document) -> bool:
        current = self.documents.get(key)
        if current != (None if expected is None else canonical_json(expected)):
            return False
        self.documents[key] = canonical_json(value)
        return True

    async def close(self) -> None:
        return None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS outreach_checkpoints (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
)
"""


def _corrupt(exc: sqlite3.Error) -> bool:
    """Whether SQLite says the file is not a database or is damaged (not merely busy or
    unwritable)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT)


class SQLiteCheckpointStore:
    """Checkpoints in one SQLite file (``sync.db``); safe for several processes at once.

    Calls run in a worker thread (a commit waits for the disk), one at a time.
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0) -> None:
        self.path = os.fspath(path)
        try:
            self._db = sqlite3.connect(
                self.path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
            # The rollback journal with synchronous=FULL: a committed save survives a crash or
            # a power cut; an interrupted one leaves the previous value.
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(_SCHEMA)
        except sqlite3.Error as exc:
            raise CheckpointError(
                f"cannot open the state file {self.path}: {exc}", malformed=_corrupt(exc)
            ) from exc
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<SQLiteCheckpointStore {self.path}>"

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.to_thread(self._locked, fn, *args)

    def _locked(self, fn: Any, *args: Any) -> Any:
        with self._lock:
            try:
                return fn(*args)
            except sqlite3.Error as exc:
                raise CheckpointError(
                    f"state file {self.path}: {exc}", malformed=_corrupt(exc)
                ) from exc

    def _select(self, key: str) -> str | None:
        row = self._db.execute(
            "SELECT value FROM outreach_checkpoints WHERE key = ?", (key,)
        ).fetchone()
        return None if row is None else str(row[0])

    def _upsert(self, key: str, text: str) -> None:
        self._db.execute(
            "INSERT INTO outreach_checkpoints (key, value) VALUES (?, ?) ON CONFLICT(key) DO "
            "UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            (key, text),
        )

    def _create(self, key: str, text: str) -> str | None:
        self._db.execute(
            "INSERT OR IGNORE INTO outreach_checkpoints (key, value) VALUES (?, ?)", (key, text)
        )
        return self._select(key)

    def _replace(self, key: str, expected: str | None, text: str) -> bool:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            if self._select(key) != expected:
                self._db.execute("ROLLBACK")
                return False
            self._upsert(key, text)
            self._db.execute("COMMIT")
            return True
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    async def load(self, key: str) -> Document | None:
        return decode_checkpoint(await self._run(self._select, key))

    async def save(self, key: str, value: Document) -> None:
        await self._run(self._upsert, key, canonical_json(value))

    async def create(self, key: str, value: Document) -> Document:
        return decode_checkpoint(await self._run(self._create, key, canonical_json(value))) or {}

    async def replace(self, key: str, expected: Document | None, value: Document) -> bool:
        old = None if expected is None else canonical_json(expected)
        return bool(await self._run(self._replace, key, old, canonical_json(value)))

    async def close(self) -> None:
        await self._run(self._db.close)
