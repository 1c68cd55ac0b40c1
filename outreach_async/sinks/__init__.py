"""Database sinks: land an export in PostgreSQL or DuckDB, exactly once, without files.

```python
from outreach_async.export import export_resource
from outreach_async.sinks import open_sink

async with open_sink("postgresql://me@localhost/crm", "prospects") as sink:
    await export_resource(outreach, "prospects", sink)
```

One table per resource type (layout: :mod:`outreach_async.sinks._layout`), rows upserted on
``id`` where the stored ``updated_at`` is not newer, and the export's checkpoint kept in the same
database and written in the same transaction as the rows it covers (:mod:`._database`): run the
same export again after any interruption and every record is there once, current.
"""

from __future__ import annotations

from outreach_async import (
    Resource,
    ResourceSpec,
    SinkConnectError,
    SinkError,
    SinkLayoutError,
    SinkPermissionError,
)
from outreach_async.export import resolve_resource

from ._database import DatabaseSink, SinkCheckpoints
from ._layout import Column, TableLayout, table_layout
from .duckdb import DuckDBSink
from .postgres import PostgresSink

__all__ = [
    "Column",
    "DatabaseSink",
    "DuckDBSink",
    "PostgresSink",
    "SinkCheckpoints",
    "SinkConnectError",
    "SinkError",
    "SinkLayoutError",
    "SinkPermissionError",
    "TableLayout",
    "is_database_url",
    "open_sink",
    "table_layout",
]

_SCHEMES = ("postgresql://", "postgres://", "duckdb://")


def is_database_url(destination: str) -> bool:
    """Whether ``--out`` names a database rather than a file."""
    return destination.startswith(_SCHEMES)


def open_sink(
    destination: str, resource: str | type[Resource] | ResourceSpec, *, table: str | None = None
) -> DatabaseSink:
    """The sink for a database URL: ``postgresql://...``, or ``duckdb:///relative.duckdb`` and
    ``duckdb:////absolute/path.duckdb`` as SQLAlchemy spells them (``duckdb:///:memory:`` for a
    database that lives as long as the sink)."""
    spec = _spec(resource)
    if destination.startswith(("postgresql://", "postgres://")):
        return PostgresSink(destination, spec, table=table)
    if destination.startswith("duckdb://"):
        # as SQLAlchemy reads them: duckdb:///relative.duckdb, duckdb:////absolute/path.duckdb
        path = destination.removeprefix("duckdb://").removeprefix("/")
        return DuckDBSink(path or ":memory:", spec, table=table)
    raise SinkError(f"not a database URL: {destination!r} (postgresql://... or duckdb:///path)")


def _spec(resource: str | type[Resource] | ResourceSpec) -> ResourceSpec:
    if isinstance(resource, ResourceSpec):
        return resource
    if isinstance(resource, str):
        return resolve_resource(resource).__resource_spec__
    return resource.__resource_spec__
