"""The table a database sink keeps for one resource type, derived from its spec. Pure.

The layout (stable: a later version only ever *adds* columns):

- the table is named after the resource's path (``prospects``, ``sequence_states``);
- ``id bigint PRIMARY KEY``;
- one column per attribute, named by the attribute's snake_case name, typed from the spec:
  ``integer`` → ``bigint``, ``number`` → ``double precision``, ``boolean`` → ``boolean``,
  ``datetime`` → ``timestamptz``, ``date`` → ``date``, ``string`` → ``text``, an array of strings
  → ``text[]``, any other array, ``object`` and ``any`` → ``jsonb`` (``JSON`` in DuckDB);
- one column per relationship: a to-one as ``<name>_id bigint``, a to-many whose ids the API
  carries as ``<name>_ids bigint[]`` (links-only to-manys have no column); where an attribute
  already has that name (mailboxes have ``user_id`` and a ``user``), ``<name>_ref_id``;
- ``extra jsonb``: attributes and relationships this version does not know yet, by wire name;
- ``deleted_at timestamptz``: set by a ``*.destroyed`` webhook (see
  :mod:`outreach_async.webhooks`); listings never return a deleted record;
- ``synced_at timestamptz``: when the row was last written.
"""

from __future__ import annotations

import datetime as dt
import json
import operator
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

import attrs
import orjson

from outreach_async import ResourceSpec
from outreach_async._wire import camel_to_snake

__all__ = ["Column", "ColumnKind", "Dialect", "TableLayout", "quote", "table_layout"]

#: the value kinds a column holds (how a record's JSON value becomes a column value)
ColumnKind = Literal[
    "bigint", "double", "boolean", "text", "timestamptz", "date", "text[]", "bigint[]", "json"
]
Dialect = Literal["postgres", "duckdb"]

_SQL_TYPES: dict[Dialect, dict[ColumnKind, str]] = {
    "postgres": {
        "bigint": "bigint",
        "double": "double precision",
        "boolean": "boolean",
        "text": "text",
        "timestamptz": "timestamp with time zone",
        "date": "date",
        "text[]": "text[]",
        "bigint[]": "bigint[]",
        "json": "jsonb",
    },
    "duckdb": {
        "bigint": "BIGINT",
        "double": "DOUBLE",
        "boolean": "BOOLEAN",
        "text": "VARCHAR",
        "timestamptz": "TIMESTAMP WITH TIME ZONE",
        "date": "DATE",
        "text[]": "VARCHAR[]",
        "bigint[]": "BIGINT[]",
        "json": "JSON",
    },
}

_SCALAR_KINDS: dict[str, ColumnKind] = {
    "integer": "bigint",
    "number": "double",
    "boolean": "boolean",
    "string": "text",
    "datetime": "timestamptz",
    "date": "date",
    "object": "json",
    "any": "json",
}

#: columns every table has besides the spec's: (name, kind)
ID, EXTRA, DELETED_AT, SYNCED_AT = "id", "extra", "deleted_at", "synced_at"


@attrs.frozen
class Column:
    """One column: its SQL name, what it holds, and the record key it is read from."""

    name: str
    kind: ColumnKind
    #: the key in a flat export record (the wire name); None for the bookkeeping columns
    source: str | None

    def sql_type(self, dialect: Dialect) -> str:
        return _SQL_TYPES[dialect][self.kind]


def _attribute_kind(kind: str, item_kind: str) -> ColumnKind:
    if kind == "array":
        return "text[]" if item_kind == "string" else "json"
    return _SCALAR_KINDS[kind]


class TableLayout:
    """The table of one resource type; :meth:`row` turns a flat export record into a row."""

    def __init__(self, table: str, columns: tuple[Column, ...], version_column: str | None):
        self.table = table
        self.columns = columns
        #: the column that orders versions of a record (``updated_at``), when the type has one
        self.version_column = version_column
        filled = [c for c in columns if c.source is not None]
        #: the column names of :meth:`row`'s values, in order
        self.row_columns = [c.name for c in filled] + [EXTRA, SYNCED_AT]
        self._sources = [str(c.source) for c in filled]
        #: (index, converter) of the columns whose values need converting or checking, and the
        #: indexes of the text columns (their values only need checking at once); JSON columns
        #: take any value as it is
        self._converted = [
            (i, _CONVERTERS[c.kind]) for i, c in enumerate(filled) if c.kind in _CONVERTERS
        ]
        self._texts = [i for i, c in enumerate(filled) if c.kind == "text"]
        self._text_values = _picker(self._texts)
        self._known = frozenset(self._sources) | {"type"}

    def __repr__(self) -> str:
        return f"<TableLayout {self.table}: {len(self.columns)} columns>"

    def create_sql(self, dialect: Dialect) -> str:
        """``CREATE TABLE`` for this layout."""
        columns = [
            f"{quote(c.name)} {c.sql_type(dialect)}" + (" PRIMARY KEY" if c.name == ID else "")
            for c in self.columns
        ]
        return f"CREATE TABLE {quote(self.table)} ({', '.join(columns)})"

    def mismatches(self, found: Mapping[str, str], dialect: Dialect) -> list[str]:
        """The columns an existing table types otherwise (``found``: name -> SQL type)."""
        return [
            f"{c.name} is {found[c.name]}, expected {c.sql_type(dialect)}"
            for c in self.columns
            if c.name in found and found[c.name].lower() != c.sql_type(dialect).lower()
        ]

    def upsert_sql(self, stage: str) -> str:
        """Move a staging table's rows (with an ``_ord`` arrival number) into the table: the
        newest version of each id once, never over a newer stored version. The same SQL in
        PostgreSQL and DuckDB."""
        names = [quote(n) for n in self.row_columns]
        table = quote(self.table)
        order = "id"
        guard = ""
        if self.version_column is not None:
            version = quote(self.version_column)
            order += f", {version} DESC NULLS LAST"
            guard = (
                f" WHERE {table}.{version} IS NULL OR EXCLUDED.{version} IS NULL"
                f" OR EXCLUDED.{version} >= {table}.{version}"
            )
        updates = ", ".join(f"{n} = EXCLUDED.{n}" for n in names if n != quote(ID))
        return (
            f"INSERT INTO {table} ({', '.join(names)}) "
            f"SELECT DISTINCT ON (id) {', '.join(names)} FROM {stage} ORDER BY {order}, _ord DESC "
            f"ON CONFLICT (id) DO UPDATE SET {updates}{guard}"
        )

    def partial_row(
        self, record: Mapping[str, Any], synced_at: dt.datetime
    ) -> tuple[list[str], list[Any]]:
        """The columns a partial record (a webhook's changed fields) carries, and their values:
        ``id`` first, ``extra`` when something went there, ``synced_at`` last."""
        row = self.row(record, synced_at)
        sources = [*self._sources, None, None]
        names: list[str] = []
        values: list[Any] = []
        for name, source, value in zip(self.row_columns, sources, row, strict=True):
            carried = source in record if source is not None else value is not None
            if carried or name == SYNCED_AT:
                names.append(name)
                values.append(value)
        return names, values

    def partial_upsert_sql(self, names: list[str], dialect: Dialect) -> str:
        """Insert or update only ``names`` (the :meth:`partial_row` columns); ``extra`` is merged.

        Webhook deliveries arrive in any order, so an event older than the stored row (by
        ``updatedAt``) only fills columns the row does not hold yet: a late ``created`` still
        brings the fields the earlier-arrived ``updated`` did not carry, and never undoes it."""
        table = quote(self.table)
        marks = [f"${i}" if dialect == "postgres" else "?" for i in range(1, len(names) + 1)]
        newer = None
        if self.version_column is not None and self.version_column in names:
            version = quote(self.version_column)
            newer = f"{table}.{version} IS NULL OR EXCLUDED.{version} >= {table}.{version}"
        updates = [self._partial_update(n, table, dialect, newer) for n in names if n != ID]
        return (
            f"INSERT INTO {table} ({', '.join(map(quote, names))}) VALUES ({', '.join(marks)}) "
            f"ON CONFLICT (id) DO UPDATE SET {', '.join(updates)}"
        )

    @staticmethod
    def _partial_update(name: str, table: str, dialect: Dialect, newer: str | None) -> str:
        if name == EXTRA:
            return _merge_extra(table, dialect)
        column = quote(name)
        if newer is None:
            return f"{column} = EXCLUDED.{column}"
        return (
            f"{column} = CASE WHEN {newer} THEN EXCLUDED.{column} "
            f"ELSE COALESCE({table}.{column}, EXCLUDED.{column}) END"
        )

    def delete_sql(self, dialect: Dialect) -> str:
        """Mark ids deleted (parameters: the ids, the time), a tombstone row for an id not yet
        stored; an earlier deletion time stays."""
        table = quote(self.table)
        ids, at = ("$1::bigint[]", "$2") if dialect == "postgres" else ("?::BIGINT[]", "?")
        return (
            f"INSERT INTO {table} (id, deleted_at, synced_at) SELECT unnest({ids}), {at}, now() "
            f"ON CONFLICT (id) DO UPDATE SET deleted_at = EXCLUDED.deleted_at, synced_at = now() "
            f"WHERE {table}.deleted_at IS NULL OR {table}.deleted_at > EXCLUDED.deleted_at"
        )

    def row(self, record: Mapping[str, Any], synced_at: dt.datetime) -> tuple[Any, ...]:
        """The values of :attr:`row_columns`, from one flat export record.

        JSON columns (and ``extra``) hold Python values (the sink encodes them). A value that
        does not fit its column's type (text in a number column, an id that is not an integer)
        is kept in ``extra`` under its wire name and the column is NULL: nothing is dropped.
        """
        return tuple(self._values(record, synced_at))

    def rows(
        self, records: Iterable[Mapping[str, Any]], synced_at: dt.datetime, first: int
    ) -> list[tuple[Any, ...]]:
        """The :meth:`row` of each record followed by its number (counting from ``first``): a
        staging table's rows (its last column orders versions of an id that arrived together)."""
        values_of = self._values
        out: list[tuple[Any, ...]] = []
        for number, record in enumerate(records, first):  # per record: locals
            values = values_of(record, synced_at)
            values.append(number)
            out.append(tuple(values))
        return out

    def _values(self, record: Mapping[str, Any], synced_at: dt.datetime) -> list[Any]:
        # Per record and column, so written for speed: C-level passes over all the columns,
        # Python only for the few values that need converting.
        values = list(map(record.get, self._sources))
        misfits: dict[str, Any] = {}
        for index, convert in self._converted:
            value = values[index]
            if value is not None:
                try:
                    values[index] = convert(value)
                except (TypeError, ValueError, OverflowError):
                    misfits[self._sources[index]] = value
                    values[index] = None
        # Text columns are most of a record and nearly always str or null: check them at C speed
        # and convert one by one only when something else is there.
        if not _STR_OR_NONE.issuperset(map(type, self._text_values(values))):
            for index in self._texts:
                values[index] = None if values[index] is None else _text(values[index])
        extra = None
        if misfits or not self._known.issuperset(record):
            extra = {k: record[k] for k in record.keys() - self._known} | misfits
        values.append(extra)
        values.append(synced_at)
        return values


def _merge_extra(table: str, dialect: Dialect) -> str:
    if dialect == "postgres":
        return f"extra = COALESCE({table}.extra, '{{}}'::jsonb) || EXCLUDED.extra"
    return f"extra = json_merge_patch(COALESCE({table}.extra, '{{}}'), EXCLUDED.extra)"


def quote(name: str) -> str:
    """An SQL identifier, quoted (names come from the spec, but a table name may be the user's)."""
    return '"' + name.replace('"', '""') + '"'


def table_layout(spec: ResourceSpec) -> TableLayout:
    """The documented layout of ``spec``'s table (see the module docstring)."""
    columns = [Column(ID, "bigint", "id")]
    taken = {ID, EXTRA, DELETED_AT, SYNCED_AT}
    for attribute in spec.attributes:
        kind = _attribute_kind(attribute.kind, attribute.item_kind)
        columns.append(Column(attribute.name, kind, attribute.wire))
        taken.add(attribute.name)
    for relationship in spec.relationships:
        if relationship.to_many and relationship.links_only:
            continue
        suffix = "_ids" if relationship.to_many else "_id"
        name = relationship.name + suffix
        if name in taken:
            name = relationship.name + "_ref" + suffix
        columns.append(
            Column(name, "bigint[]" if relationship.to_many else "bigint", relationship.wire)
        )
        taken.add(name)
    columns += [Column(EXTRA, "json", None), Column(DELETED_AT, "timestamptz", None)]
    columns.append(Column(SYNCED_AT, "timestamptz", None))
    version = spec.attribute("updatedAt")
    table = camel_to_snake(spec.path)  # sequenceStates -> sequence_states
    return TableLayout(table, tuple(columns), version.name if version is not None else None)


# Converters: a record's JSON value to the column's Python value, or TypeError/ValueError when
# it does not fit (the row then keeps it in ``extra``).

_BIGINT = range(-(2**63), 2**63)
_STR_OR_NONE = frozenset({str, type(None)})
_INT_ONLY = frozenset({int})


def _timestamp(value: Any) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value)  # 3.11 reads the API's trailing Z
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def _date(value: Any) -> dt.date:
    return dt.date.fromisoformat(value[:10])


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json_text(value)


def json_text(value: Any) -> str:
    """JSON text of any JSON value (orjson, or the standard library for what orjson refuses:
    integers past 64 bits)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


def _picker(indexes: list[int]) -> Callable[[list[Any]], tuple[Any, ...]]:
    """``operator.itemgetter`` that always returns a tuple (of one index it does not)."""
    if len(indexes) > 1:
        getter: Callable[[list[Any]], tuple[Any, ...]] = operator.itemgetter(*indexes)
        return getter
    return lambda values: tuple(values[i] for i in indexes)


def _texts(value: Any) -> list[str | None]:
    if not isinstance(value, list):
        raise TypeError("not a list")
    if _STR_OR_NONE.issuperset(map(type, value)):  # the usual case, at C speed
        return value
    return [None if v is None else _text(v) for v in value]


def _integer(value: Any) -> int:
    if value.__class__ is int and value in _BIGINT:  # the usual case, quickly
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise TypeError("not a whole number")
    if int(value) not in _BIGINT:
        raise OverflowError("outside bigint")
    return int(value)


def _ids(value: Any) -> list[int]:
    if not isinstance(value, list):
        raise TypeError("not a list")
    if not value:
        return value
    if _INT_ONLY.issuperset(map(type, value)) and min(value) in _BIGINT and max(value) in _BIGINT:
        return value  # the usual case, at C speed
    return [_integer(v) for v in value]


def _double(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("not a number")
    return float(value)


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("not a boolean")
    return value


#: the kinds whose values are converted one by one (text columns are checked all at once, JSON
#: columns take any value as it is)
_CONVERTERS: dict[ColumnKind, Any] = {
    "timestamptz": _timestamp,
    "date": _date,
    "text[]": _texts,
    "bigint[]": _ids,
    "bigint": _integer,
    "double": _double,
    "boolean": _boolean,
}
