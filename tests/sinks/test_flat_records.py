"""An export hands a database sink its flat records, not JSON lines to parse again: the rows it
stores are those of the JSON Lines the same export writes, value for value, for records whose
values need care (nulls, JSON columns, datetimes, unicode, relationship ids, misfits, unknown
attributes)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import orjson
import pytest

from outreach_async import OutreachClient, Prospect
from outreach_async.export import export_resource
from outreach_async.sandbox import Sandbox
from outreach_async.sinks import DatabaseSink
from outreach_async.sinks._layout import SYNCED_AT, table_layout

from .conftest import asyncpg

pytestmark = pytest.mark.outreach_sandbox(seed=60)

LAYOUT = table_layout(Prospect.__resource_spec__)
COLUMNS = [c for c in LAYOUT.row_columns if c != SYNCED_AT]
JSON_COLUMNS = {c.name for c in LAYOUT.columns if c.kind == "json"}

#: attributes set on some prospects, each a value that needs care on its way to a column
CAREFUL: list[dict[str, Any]] = [
    {
        "firstName": 'Zoë "the" ☃ 𝄞\n\ttab',  # unicode (astral too), quotes, control characters
        "lastName": None,
        "title": "日本語",
        "contactHistogram": [[1, 2], {"nested": {"deep": [None, 1.5, "é", True]}}],  # JSON
        "tags": ["\u03b1", "back\\slash", ""],  # alpha
        "emails": [],
        "engagedScore": 0.1,
        "dateOfBirth": "1990-02-03",
        "addedAt": "2024-07-26T06:27:17.123Z",
        "occupation": 7,  # a number in a text column: its JSON text
        "futureField": {"x": ["ü", None], "n": 2**62},  # not in the spec: kept in extra
    },
    {
        "score": "high",  # text in a number column: kept in extra, the column NULL
        "optedOut": "no",  # not a boolean: in extra
        "tags": ["ok", 5],  # a list of text with a number in it
        "workPhones": None,
        "addedAt": None,
        "contactHistogram": None,
        "id": "shadow",  # an attribute named like the id: the resource's id wins
    },
]


def careful_sandbox(sandbox: Sandbox) -> list[int]:
    """Give the first prospects the careful values, and relationship ids: one to-one unset,
    to-manys empty and full. Returns their ids."""
    records = sandbox.store.table("prospect").records
    ids = sorted(records)[: len(CAREFUL)]
    for id_, attributes in zip(ids, CAREFUL, strict=True):
        records[id_]["attributes"].update(attributes)
    records[ids[0]]["relationships"]["account"] = None
    return ids


async def stored(sink: DatabaseSink) -> dict[int, dict[str, Any]]:
    """Each row as stored, read back by the database's driver (JSON columns as values)."""
    listed = ", ".join(f'"{c}"' for c in COLUMNS)
    sql = f"SELECT {listed} FROM prospects"
    if sink.dialect == "postgres":
        conn = await asyncpg.connect(str(sink.url))  # type: ignore[attr-defined]
        try:
            await conn.set_type_codec(
                "jsonb",
                schema="pg_catalog",
                encoder=orjson.dumps,
                decoder=lambda data: orjson.loads(data[1:]),
                format="binary",
            )
            found = [tuple(r) for r in await conn.fetch(sql)]
        finally:
            await conn.close()
    else:
        found = sink._db.execute(sql).fetchall()  # type: ignore[attr-defined]
    rows = {}
    for values in found:
        row = dict(zip(COLUMNS, values, strict=True))
        for name in JSON_COLUMNS:  # DuckDB reads JSON as its text
            if isinstance(row[name], str):
                row[name] = orjson.loads(row[name])
        rows[row["id"]] = row
    return rows


def rows_of_lines(path: Path) -> dict[int, dict[str, Any]]:
    """The rows the sink's layout makes of a JSON Lines export's records."""
    synced = dt.datetime.now(dt.UTC)
    rows = {}
    for line in path.read_bytes().splitlines():
        row = dict(zip(LAYOUT.row_columns, LAYOUT.row(orjson.loads(line), synced), strict=True))
        del row[SYNCED_AT]
        rows[row["id"]] = row
    return rows


@pytest.mark.parametrize("fields", [None, ("firstName", "tags", "score", "account")])
async def test_the_rows_are_those_of_the_json_lines_of_the_same_records(
    outreach_sandbox: Sandbox, sink: DatabaseSink, tmp_path: Path, fields: Any
) -> None:
    """Every field (simdjson's path) and a fieldset (orjson's) alike."""
    careful = careful_sandbox(outreach_sandbox)
    out = tmp_path / "prospects.jsonl"
    async with OutreachClient(outreach_sandbox.token, base_url=outreach_sandbox.base_url) as c:
        await export_resource(c, "prospects", out, page_size=50, fields=fields)
        result = await export_resource(c, "prospects", sink, page_size=50, fields=fields)
    expected = rows_of_lines(out)
    assert result.records == len(expected) == len(outreach_sandbox.store.table("prospect").records)
    assert await stored(sink) == expected
    first = expected[careful[0]]  # the careful values did reach the rows
    if fields is None:
        assert first["first_name"] == CAREFUL[0]["firstName"]
        assert first["contact_histogram"] == CAREFUL[0]["contactHistogram"]
        assert first["added_at"] == dt.datetime(2024, 7, 26, 6, 27, 17, 123000, tzinfo=dt.UTC)
        assert first["occupation"] == "7"
        assert first["account_id"] is None
        assert first["extra"] == {"futureField": CAREFUL[0]["futureField"]}
        assert expected[careful[1]]["extra"] == {"score": "high", "optedOut": "no"}
    else:
        assert first["first_name"] == CAREFUL[0]["firstName"]
        assert (first["extra"], first["title"]) == (None, None)  # not asked for
        assert expected[careful[1]]["extra"] == {"score": "high"}


async def test_json_lines_written_to_a_sink_by_hand_land_as_the_same_rows(
    sink: DatabaseSink,
) -> None:
    """``write`` still takes JSON Lines (the export hands a sink records): the lines' rows reach
    the table with the next checkpoint, as the records' would."""
    records = [
        {"type": "prospect", "id": 1, "firstName": "Zoë", "tags": ["a"], "account": 3},
        {"type": "prospect", "id": 2, "addedAt": "2024-07-26T06:27:17.123Z", "futureField": 1},
    ]
    sink.write(b"".join(orjson.dumps(r) + b"\n" for r in records))
    assert await stored(sink) == {}  # kept until its checkpoint
    assert sink.checkpoints is not None
    await sink.checkpoints.save("k", {"version": 1})
    synced = dt.datetime.now(dt.UTC)
    expected = {}
    for record in records:
        row = dict(zip(LAYOUT.row_columns, LAYOUT.row(record, synced), strict=True))
        del row[SYNCED_AT]
        expected[row["id"]] = row
    assert await stored(sink) == expected
