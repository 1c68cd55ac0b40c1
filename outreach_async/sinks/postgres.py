"""PostgreSQL through asyncpg (``pip install 'outreach-async[postgres]'``).

Each checkpoint's rows are loaded with ``COPY`` (binary) into a temporary staging table, then
moved into the resource's table by one ``INSERT ... SELECT DISTINCT ON (id) ... ON CONFLICT (id)
DO UPDATE ... WHERE`` the stored version is not newer, and the checkpoint row is written: one
transaction. A record read twice in one batch (it changed during the run) lands once, as its
newest version.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson
import yarl

from outreach_async import ResourceSpec, SinkConnectError, SinkLayoutError, SinkPermissionError

from ._database import CHECKPOINT_TABLE, DatabaseSink, Row
from ._layout import TableLayout, quote, table_layout

if TYPE_CHECKING:
    import asyncpg

__all__ = ["PostgresSink"]

_CHECKPOINTS_DDL = f"""
CREATE TABLE IF NOT EXISTS {CHECKPOINT_TABLE} (
    key text PRIMARY KEY,
    value text NOT NULL,
    updated_at timestamp with time zone NOT NULL DEFAULT now()
)
"""


def _display(url: str) -> str:
    """The URL without its password, for messages and checkpoints."""
    parsed = yarl.URL(url)
    return str(parsed.with_password(None)) if parsed.password else url


class PostgresSink(DatabaseSink):
    """One resource type's table in PostgreSQL, with the export's checkpoints beside it.

    ``PostgresSink("postgresql://user@host/db", Prospect.__resource_spec__)``; use it with
    ``async with`` (or :meth:`connect` / :meth:`aclose`) and pass it to ``export_resource`` as
    the sink. ``table`` overrides the table name; ``schema`` the schema (default: the
    connection's ``search_path``).
    """

    def __init__(
        self,
        url: str,
        spec: ResourceSpec,
        *,
        table: str | None = None,
        connect_timeout: float = 10.0,
    ) -> None:
        layout = table_layout(spec)
        if table is not None:
            layout = TableLayout(table, layout.columns, layout.version_column)
        super().__init__(layout, f"{_display(url)}#{layout.table}")
        self.url = url
        self._connect_timeout = connect_timeout
        self._conn: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()
        self._stage_name = f"_outreach_stage_{layout.table}"
        self._stage = quote(self._stage_name)

    # ------------------------------------------------------------------ connection

    async def connect(self) -> None:
        if self._conn is not None:
            return
        asyncpg = _import_asyncpg()
        try:
            conn = await asyncpg.connect(self.url, timeout=self._connect_timeout)
        except (OSError, TimeoutError) as exc:
            raise SinkConnectError(f"cannot reach {_display(self.url)}: {exc}") from exc
        except asyncpg.PostgresError as exc:
            raise SinkConnectError(f"cannot log in to {_display(self.url)}: {exc}") from exc
        try:
            # JSON columns take Python values; orjson encodes them (binary, for COPY)
            await conn.set_type_codec(
                "jsonb", schema="pg_catalog", encoder=_jsonb, decoder=_from_jsonb, format="binary"
            )
            await self._prepare(conn)
        except BaseException:
            await conn.close()
            raise
        self._conn = conn

    async def aclose(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()

    @contextlib.asynccontextmanager
    async def _using(self) -> AsyncIterator[asyncpg.Connection]:
        """The connection, to this task alone meanwhile: an export's checkpoints and a webhook
        handler may share one sink, and asyncpg runs one operation at a time."""
        async with self._lock:
            if self._conn is None:
                raise SinkConnectError(
                    f"{self.name}: not connected (use 'async with' or connect())"
                )
            yield self._conn

    async def _prepare(self, conn: asyncpg.Connection) -> None:
        asyncpg = _import_asyncpg()
        try:
            async with conn.transaction():
                # sinks of several resources (a fleet tenant's) prepare one database at once,
                # and CREATE TABLE IF NOT EXISTS fails for all but one of two racing creators
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", CHECKPOINT_TABLE)
                if not await _columns(conn, CHECKPOINT_TABLE):
                    await conn.execute(_CHECKPOINTS_DDL)
            found = await _columns(conn, self.layout.table)
            if not found:
                await conn.execute(self.layout.create_sql("postgres"))
            else:
                await self._check_layout(conn, found)
            await self._check_privileges(conn)
            await conn.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {self._stage} "
                f"(LIKE {quote(self.layout.table)}, _ord bigint) ON COMMIT DELETE ROWS"
            )
        except asyncpg.InsufficientPrivilegeError as exc:
            raise SinkPermissionError(
                f"{self.name}: the role cannot create or write the tables it needs: {exc}"
            ) from exc
        except asyncpg.ReadOnlySQLTransactionError as exc:
            raise SinkPermissionError(f"{self.name}: the database is read-only: {exc}") from exc

    async def _check_layout(self, conn: asyncpg.Connection, found: dict[str, str]) -> None:
        """Add the columns a newer version brought; refuse a table typed otherwise."""
        wrong = self.layout.mismatches(found, "postgres")
        if wrong:
            raise SinkLayoutError(
                f"table {self.layout.table} exists with an incompatible layout: "
                + "; ".join(wrong[:3])
                + ("" if len(wrong) <= 3 else f" (and {len(wrong) - 3} more)")
            )
        if not await _has_primary_key_on_id(conn, self.layout.table):
            raise SinkLayoutError(
                f"table {self.layout.table} exists without a primary key on id, which the "
                "upserts need"
            )
        for column in self.layout.columns:
            if column.name not in found:
                await conn.execute(
                    f"ALTER TABLE {quote(self.layout.table)} ADD COLUMN "
                    f"{quote(column.name)} {column.sql_type('postgres')}"
                )

    async def _check_privileges(self, conn: asyncpg.Connection) -> None:
        for table in (self.layout.table, CHECKPOINT_TABLE):
            allowed = await conn.fetchval(
                "SELECT has_table_privilege(current_user, $1, 'INSERT') "
                "AND has_table_privilege(current_user, $1, 'UPDATE')",
                quote(table),
            )
            if not allowed:
                raise SinkPermissionError(
                    f"{self.name}: the role may not insert into and update {table}"
                )

    # ------------------------------------------------------------------ checkpoints

    async def load_checkpoint(self, key: str) -> str | None:
        async with self._using() as conn:
            return await _checkpoint(conn, key)

    async def create_checkpoint(self, key: str, text: str) -> str:
        async with self._using() as conn:
            await conn.execute(
                f"INSERT INTO {CHECKPOINT_TABLE} (key, value) VALUES ($1, $2) "
                "ON CONFLICT (key) DO NOTHING",
                key,
                text,
            )
            return str(await _checkpoint(conn, key))

    async def replace_checkpoint(self, key: str, expected: str | None, text: str) -> bool:
        async with self._using() as conn, conn.transaction():
            current = await conn.fetchval(
                f"SELECT value FROM {CHECKPOINT_TABLE} WHERE key = $1 FOR UPDATE", key
            )
            if current != expected:
                return False
            await self._save_checkpoint(conn, key, text)
            return True

    async def _save_checkpoint(self, conn: asyncpg.Connection, key: str, text: str) -> None:
        await conn.execute(
            f"INSERT INTO {CHECKPOINT_TABLE} (key, value) VALUES ($1, $2) ON CONFLICT (key) "
            "DO UPDATE SET value = excluded.value, updated_at = now()",
            key,
            text,
        )

    # ------------------------------------------------------------------ rows

    async def commit(self, rows: list[Row], checkpoint: tuple[str, str] | None) -> None:
        async with self._using() as conn, conn.transaction():
            if rows:
                await conn.copy_records_to_table(
                    self._stage_name,
                    records=rows,
                    columns=[*self.layout.row_columns, "_ord"],
                )
                await conn.execute(self.layout.upsert_sql(self._stage))
                await conn.execute(f"TRUNCATE {self._stage}")
            if checkpoint is not None:
                await self._save_checkpoint(conn, *checkpoint)

    async def execute(self, sql: str, parameters: list[Any]) -> None:
        async with self._using() as conn:
            await conn.execute(sql, *parameters)


async def _columns(conn: asyncpg.Connection, table: str) -> dict[str, str]:
    rows = await conn.fetch(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type "
        "FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 "
        "AND NOT a.attisdropped",
        quote(table),
    )
    return {str(r["attname"]): str(r["type"]) for r in rows}


async def _has_primary_key_on_id(conn: asyncpg.Connection, table: str) -> bool:
    found = await conn.fetchval(
        "SELECT count(*) FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
        "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = to_regclass($1) AND i.indisunique "
        "AND i.indnatts = 1 AND a.attname = 'id'",
        quote(table),
    )
    return bool(found)


async def _checkpoint(conn: asyncpg.Connection, key: str) -> str | None:
    value = await conn.fetchval(f"SELECT value FROM {CHECKPOINT_TABLE} WHERE key = $1", key)
    return None if value is None else str(value)


def _jsonb(value: Any) -> bytes:
    """jsonb's binary form: a version byte (1), then the JSON text."""
    return b"\x01" + orjson.dumps(value)


def _from_jsonb(data: bytes) -> Any:
    return orjson.loads(data[1:])


def _import_asyncpg() -> Any:
    try:
        import asyncpg
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise SinkConnectError(
            "PostgreSQL sinks need asyncpg: pip install 'outreach-async[postgres]'"
        ) from exc
    return asyncpg
