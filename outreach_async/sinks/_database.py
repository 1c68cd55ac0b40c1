"""What every database sink shares: the export's output and its checkpoint store in one.

The export engine hands its :class:`~outreach_async.export.Output` each batch of records and then
saves a checkpoint. A database sink is both halves: it takes the flat records themselves
(:meth:`DatabaseSink.write_records`, no JSON line encoded and parsed again) and keeps them as
rows, and saving the checkpoint (:class:`SinkCheckpoints`) writes the kept rows *and* the
checkpoint in one transaction. A kill at any moment leaves either both or neither, so a re-run
resumes from a checkpoint that matches the table exactly, and upserts on ``id`` make a record
read twice land once. No file offsets, no ``--state``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

from outreach_async.export import Output, canonical_json, decode_checkpoint

from ._layout import Dialect, TableLayout

__all__ = ["DatabaseSink", "Row", "SinkCheckpoints", "records_of"]

Document = dict[str, Any]
#: a record as the staging table takes it: the values of :attr:`TableLayout.row_columns`, then
#: its arrival number (the newest of an id's versions in one commit wins ties)
Row = tuple[Any, ...]

#: the table that keeps checkpoints beside the data, one row per export (key)
CHECKPOINT_TABLE = "outreach_checkpoints"


class DatabaseSink(Output):
    """Base of :class:`~outreach_async.sinks.PostgresSink` and
    :class:`~outreach_async.sinks.DuckDBSink`: keeps the export's records as rows until the
    checkpoint that covers them is saved, then writes both in one transaction (:meth:`commit`)."""

    resumable = False
    takes_records = True
    #: the SQL dialect of :class:`TableLayout`'s statements
    dialect: Dialect = "postgres"

    def __init__(self, layout: TableLayout, name: str) -> None:
        self.layout = layout
        self.name = name
        self._pending: list[Row] = []
        #: records taken so far (the export's offset in a sink: it has no bytes)
        self._offset = 0
        #: the checkpoint store to pass to ``export_resource`` (it does so by itself)
        self.checkpoints = SinkCheckpoints(self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    # ------------------------------------------------------------------ Output

    @property
    def offset(self) -> int:
        return self._offset

    def write(self, data: bytes) -> None:
        """Take JSON Lines (the export hands a sink its flat records instead)."""
        if data:
            self.write_records(records_of(data), ())

    def write_records(self, records: list[dict[str, Any]], ids: Sequence[int | None]) -> None:
        """Keep a batch of flat records as rows until the checkpoint that covers them."""
        self._pending += self.rows(records, self._offset)
        self._offset += len(records)

    def sync(self) -> None:
        """Nothing to do: rows become durable with their checkpoint, in one transaction."""

    def close(self) -> None:
        """The engine is done with the output; the connection closes with :meth:`aclose`."""

    # ------------------------------------------------------------------ rows

    def take_rows(self) -> list[Row]:
        """The rows written since the last checkpoint, and forget them."""
        rows, self._pending = self._pending, []
        return rows

    def rows(self, records: Iterable[Mapping[str, Any]], first: int = 0) -> list[Row]:
        """Flat records as :data:`Row`\\s, numbered from ``first`` in arrival order."""
        return self.layout.rows(records, dt.datetime.now(dt.UTC), first)

    # ------------------------------------------------------------------ per database

    async def connect(self) -> None:
        """Open the connection and make sure the table and the checkpoint table exist."""
        raise NotImplementedError

    async def aclose(self) -> None:
        raise NotImplementedError

    async def load_checkpoint(self, key: str) -> str | None:
        raise NotImplementedError

    async def commit(self, rows: list[Row], checkpoint: tuple[str, str] | None) -> None:
        """Upsert ``rows`` (see :meth:`rows`) and save ``checkpoint`` (key, JSON text) in one
        transaction."""
        raise NotImplementedError

    async def create_checkpoint(self, key: str, text: str) -> str:
        raise NotImplementedError

    async def replace_checkpoint(self, key: str, expected: str | None, text: str) -> bool:
        raise NotImplementedError

    async def apply_partial(self, record: Mapping[str, Any]) -> None:
        """Upsert only the fields ``record`` carries (a webhook's changes), unless the stored
        version is newer; ``extra`` is merged."""
        await self.connect()
        names, values = self.layout.partial_row(record, dt.datetime.now(dt.UTC))
        await self.execute(
            self.layout.partial_upsert_sql(names, self.dialect), self.bind(names, values)
        )

    async def mark_deleted(self, ids: list[int], at: dt.datetime) -> None:
        """Set ``deleted_at`` (a ``*.destroyed`` webhook); a tombstone row for an id not stored
        yet, so a deletion is never lost."""
        await self.connect()
        await self.execute(self.layout.delete_sql(self.dialect), [ids, at])

    def bind(self, names: list[str], values: list[Any]) -> list[Any]:
        """Row values as the driver binds them (JSON columns: the driver's codec, by default)."""
        return values

    async def execute(self, sql: str, parameters: list[Any]) -> None:
        """Run one statement in its own transaction."""
        raise NotImplementedError

    async def upsert(self, records: list[dict[str, Any]]) -> None:
        """Upsert flat export records outside an export (webhooks): newer versions win."""
        await self.connect()
        await self.commit(self.rows(records), None)

    async def __aenter__(self) -> DatabaseSink:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def records_of(lines: bytes) -> list[dict[str, Any]]:
    """The flat records of JSON Lines, in order."""
    return [orjson.loads(line) for line in lines.splitlines() if line]


class SinkCheckpoints:
    """The export's :class:`~outreach_async.export.CheckpointStore`, kept in the sink's database.

    :meth:`save` is where the rows written since the last save reach the table: both in one
    transaction.
    """

    def __init__(self, sink: DatabaseSink) -> None:
        self._sink = sink

    async def load(self, key: str) -> Document | None:
        await self._sink.connect()
        return decode_checkpoint(await self._sink.load_checkpoint(key))

    async def save(self, key: str, value: Document) -> None:
        await self._sink.commit(self._sink.take_rows(), (key, canonical_json(value)))

    async def create(self, key: str, value: Document) -> Document:
        await self._sink.connect()
        return (
            decode_checkpoint(await self._sink.create_checkpoint(key, canonical_json(value))) or {}
        )

    async def replace(self, key: str, expected: Document | None, value: Document) -> bool:
        old = None if expected is None else canonical_json(expected)
        return await self._sink.replace_checkpoint(key, old, canonical_json(value))

    async def close(self) -> None:
        """The sink owns the connection (``await sink.aclose()``)."""
