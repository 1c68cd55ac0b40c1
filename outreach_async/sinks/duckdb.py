"""DuckDB, embedded (``pip install 'outreach-async[duckdb]'``): the sink with no server.

DuckDB's Python API blocks, so every call runs in a worker thread, one at a time (a DuckDB
connection is not for concurrent use). The protocol is PostgreSQL's: rows into a temporary
staging table, one ``INSERT ... SELECT DISTINCT ON (id) ... ON CONFLICT (id) DO UPDATE`` guarded
by ``updated_at``, and the checkpoint row, in one transaction.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import orjson

from outreach_async import ResourceSpec, SinkConnectError, SinkLayoutError, SinkPermissionError

from ._database import CHECKPOINT_TABLE, DatabaseSink, Row
from ._layout import TableLayout, json_text, quote, table_layout

__all__ = ["DuckDBSink"]

T = TypeVar("T")

_CHECKPOINTS_DDL = f"""
CREATE TABLE IF NOT EXISTS {CHECKPOINT_TABLE} (
    key VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now()
)
"""


class DuckDBSink(DatabaseSink):
    """One resource type's table in a DuckDB file (a path; ``":memory:"`` for a throwaway one)."""

    def __init__(self, path: str, spec: ResourceSpec, *, table: str | None = None) -> None:
        layout = table_layout(spec)
        if table is not None:
            layout = TableLayout(table, layout.columns, layout.version_column)
        self.path = path if path == ":memory:" else os.path.abspath(path)
        super().__init__(layout, f"duckdb:///{self.path}#{layout.table}")
        self.dialect = "duckdb"
        self._json_columns = frozenset(c.name for c in layout.columns if c.kind == "json")
        self._db: Any = None
        self._lock = threading.Lock()
        self._stage = quote(f"_outreach_stage_{layout.table}")
        #: the staging table's columns, as :meth:`DatabaseSink.rows` fills them
        self._stage_columns = [*layout.row_columns, "_ord"]
        types = {c.name: c.sql_type("duckdb") for c in layout.columns} | {"_ord": "BIGINT"}
        described = ", ".join(f"'{n}': '{types[n]}'" for n in self._stage_columns)
        listed = ", ".join(map(quote, self._stage_columns))
        self._stage_sql = (
            f"INSERT INTO {self._stage} ({listed}) SELECT {listed} FROM "
            f"read_json(?, format = 'newline_delimited', columns = {{{described}}})"
        )

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(self._locked, fn, *args)

    def _locked(self, fn: Callable[..., T], *args: Any) -> T:
        with self._lock:
            return fn(*args)

    # ------------------------------------------------------------------ connection

    async def connect(self) -> None:
        if self._db is None:
            await self._run(self._open)

    def _open(self) -> None:
        if self._db is not None:
            return
        duckdb = _import_duckdb()
        try:
            db = duckdb.connect(self.path)
        except (duckdb.Error, OSError) as exc:
            raise SinkConnectError(f"cannot open {self.path}: {exc}") from exc
        try:
            self._prepare(db)
        except BaseException:
            db.close()
            raise
        self._db = db

    def _prepare(self, db: Any) -> None:
        duckdb = _import_duckdb()
        try:
            db.execute(_CHECKPOINTS_DDL)
            found = {
                str(name): str(type_)
                for name, type_ in db.execute(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_name = ? AND table_schema = current_schema()",
                    [self.layout.table],
                ).fetchall()
            }
            if not found:
                db.execute(self.layout.create_sql("duckdb"))
            else:
                self._check_layout(db, found)
            db.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {self._stage} AS "
                f"SELECT *, 0::BIGINT AS _ord FROM {quote(self.layout.table)} LIMIT 0"
            )
        except duckdb.PermissionException as exc:
            raise SinkPermissionError(f"{self.name}: {exc}") from exc

    def _check_layout(self, db: Any, found: dict[str, str]) -> None:
        wrong = self.layout.mismatches(found, "duckdb")
        if wrong:
            raise SinkLayoutError(
                f"table {self.layout.table} exists with an incompatible layout: "
                + "; ".join(wrong[:3])
            )
        for column in self.layout.columns:
            if column.name not in found:
                db.execute(
                    f"ALTER TABLE {quote(self.layout.table)} ADD COLUMN "
                    f"{quote(column.name)} {column.sql_type('duckdb')}"
                )

    async def aclose(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            await self._run(db.close)

    def _connection(self) -> Any:
        if self._db is None:
            raise SinkConnectError(f"{self.name}: not connected (use 'async with' or connect())")
        return self._db

    # ------------------------------------------------------------------ checkpoints

    async def load_checkpoint(self, key: str) -> str | None:
        return await self._run(self._load, key)

    def _load(self, key: str) -> str | None:
        row = (
            self._connection()
            .execute(f"SELECT value FROM {CHECKPOINT_TABLE} WHERE key = ?", [key])
            .fetchone()
        )
        return None if row is None else str(row[0])

    async def create_checkpoint(self, key: str, text: str) -> str:
        return await self._run(self._create, key, text)

    def _create(self, key: str, text: str) -> str:
        self._connection().execute(
            f"INSERT INTO {CHECKPOINT_TABLE} (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [key, text],
        )
        return str(self._load(key))

    async def replace_checkpoint(self, key: str, expected: str | None, text: str) -> bool:
        return await self._run(self._replace, key, expected, text)

    def _replace(self, key: str, expected: str | None, text: str) -> bool:
        db = self._connection()
        db.execute("BEGIN TRANSACTION")
        try:
            if self._load(key) != expected:
                db.execute("ROLLBACK")
                return False
            self._save_checkpoint(db, key, text)
            db.execute("COMMIT")
            return True
        except BaseException:
            db.execute("ROLLBACK")
            raise

    @staticmethod
    def _save_checkpoint(db: Any, key: str, text: str) -> None:
        db.execute(
            f"INSERT INTO {CHECKPOINT_TABLE} (key, value) VALUES (?, ?) ON CONFLICT (key) "
            "DO UPDATE SET value = excluded.value, updated_at = now()",
            [key, text],
        )

    # ------------------------------------------------------------------ rows

    async def commit(self, rows: list[Row], checkpoint: tuple[str, str] | None) -> None:
        await self._run(self._commit, rows, checkpoint)

    def _commit(self, rows: list[Row], checkpoint: tuple[str, str] | None) -> None:
        db = self._connection()
        with tempfile.TemporaryDirectory(prefix="outreach-duckdb-") as scratch:
            staged = os.path.join(scratch, "rows.jsonl")
            if rows:
                self._write_rows(staged, rows)
            db.execute("BEGIN TRANSACTION")
            try:
                if rows:
                    db.execute(self._stage_sql, [staged])
                    db.execute(self.layout.upsert_sql(self._stage))
                    db.execute(f"DELETE FROM {self._stage}")
                if checkpoint is not None:
                    self._save_checkpoint(db, *checkpoint)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _write_rows(self, path: str, rows: list[Row]) -> None:
        """Rows as JSON Lines that DuckDB's ``read_json`` loads in bulk: binding rows one by one
        from Python (``executemany``) is two orders of magnitude slower."""
        names = self._stage_columns
        with open(path, "wb") as file:
            file.writelines(
                orjson.dumps(dict(zip(names, row, strict=True))) + b"\n" for row in rows
            )

    async def execute(self, sql: str, parameters: list[Any]) -> None:
        await self._run(self._execute, sql, parameters)

    def _execute(self, sql: str, parameters: list[Any]) -> None:
        self._connection().execute(sql, parameters)

    def bind(self, names: list[str], values: list[Any]) -> list[Any]:
        """DuckDB would bind a dict as a struct and a list as a list: JSON columns go as text."""
        return [
            json_text(v) if v is not None and n in self._json_columns else v
            for n, v in zip(names, values, strict=True)
        ]


def _import_duckdb() -> Any:
    try:
        import duckdb
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise SinkConnectError(
            "DuckDB sinks need duckdb: pip install 'outreach-async[duckdb]'"
        ) from exc
    return duckdb
