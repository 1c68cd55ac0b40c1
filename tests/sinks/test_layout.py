"""The table layout of database sinks: names, types and rows from flat export records. Pure."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outreach_async import Mailbox, Prospect, SequenceState
from outreach_async.sinks import table_layout

PROSPECT = table_layout(Prospect.__resource_spec__)
SYNCED = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def kinds(layout: Any) -> dict[str, str]:
    return {c.name: c.sql_type("postgres") for c in layout.columns}


def test_the_table_is_named_by_path_with_typed_snake_case_columns() -> None:
    columns = kinds(PROSPECT)
    assert PROSPECT.table == "prospects"
    assert columns["id"] == "bigint"
    assert columns["first_name"] == "text"
    assert columns["updated_at"] == "timestamp with time zone"
    assert columns["click_count"] == "bigint"
    assert columns["tags"] == "text[]"
    assert columns["account_id"] == "bigint"
    assert columns["extra"] == "jsonb"
    assert columns["deleted_at"] == "timestamp with time zone"
    assert PROSPECT.version_column == "updated_at"
    assert kinds(table_layout(SequenceState.__resource_spec__))["sequence_id"] == "bigint"


def test_a_relationship_whose_column_name_an_attribute_has_gets_ref() -> None:
    columns = kinds(table_layout(Mailbox.__resource_spec__))
    assert columns["user_id"] == "bigint"  # the attribute
    assert "user_ref_id" in columns  # the relationship


def test_a_row_converts_timestamps_arrays_and_keeps_unknown_keys_in_extra() -> None:
    record = {
        "type": "prospect",
        "id": 7,
        "firstName": "Sally",
        "updatedAt": "2024-07-26T06:27:17.123Z",
        "tags": ["vip", "ceo"],
        "account": 3,
        "brandNewAttribute": {"x": 1},
    }
    row = dict(zip(PROSPECT.row_columns, PROSPECT.row(record, SYNCED), strict=True))
    assert row["id"] == 7
    assert row["first_name"] == "Sally"
    assert row["updated_at"] == dt.datetime(2024, 7, 26, 6, 27, 17, 123000, tzinfo=dt.UTC)
    assert row["tags"] == ["vip", "ceo"]
    assert row["account_id"] == 3
    assert row["last_name"] is None
    assert row["extra"] == {"brandNewAttribute": {"x": 1}}
    assert row["synced_at"] == SYNCED


def test_a_value_that_does_not_fit_its_column_is_kept_in_extra() -> None:
    record = {"id": 7, "clickCount": "many", "updatedAt": "yesterday", "account": "x"}
    row = dict(zip(PROSPECT.row_columns, PROSPECT.row(record, SYNCED), strict=True))
    assert row["click_count"] is None
    assert row["updated_at"] is None
    assert row["account_id"] is None
    assert row["extra"] == {"clickCount": "many", "updatedAt": "yesterday", "account": "x"}


def test_the_upsert_keeps_the_newest_version_and_never_goes_back() -> None:
    sql = PROSPECT.upsert_sql("stage")
    assert "SELECT DISTINCT ON (id)" in sql
    assert 'ORDER BY id, "updated_at" DESC NULLS LAST, _ord DESC' in sql
    assert 'EXCLUDED."updated_at" >= "prospects"."updated_at"' in sql


scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


KEYS = [str(c.source) for c in PROSPECT.columns if c.source] + ["unknownKey"]


@given(st.dictionaries(st.sampled_from(KEYS), json_values))
def test_any_record_gives_a_full_row_and_loses_no_value(record: dict[str, Any]) -> None:
    row = dict(zip(PROSPECT.row_columns, PROSPECT.row(record, SYNCED), strict=True))
    extra = row["extra"] or {}
    for column in PROSPECT.columns:
        if column.source in record and record[column.source] is not None:
            assert row[column.name] is not None or column.source in extra


def test_database_urls_are_read_as_sqlalchemy_spells_them(tmp_path: Any) -> None:
    from pathlib import Path

    from outreach_async.sinks import DuckDBSink, PostgresSink, SinkError, open_sink

    relative = open_sink("duckdb:///outreach.duckdb", "prospects")
    assert isinstance(relative, DuckDBSink)
    assert relative.path == str(Path("outreach.duckdb").resolve())
    absolute = open_sink(f"duckdb:///{tmp_path}/o.duckdb", "accounts")
    assert isinstance(absolute, DuckDBSink)
    assert absolute.path == f"{tmp_path}/o.duckdb"
    assert absolute.name == f"duckdb:///{tmp_path}/o.duckdb#accounts"
    assert isinstance(open_sink("duckdb:///:memory:", "prospects"), DuckDBSink)
    postgres = open_sink("postgresql://me:secret@db/crm", "sequence_states")
    assert isinstance(postgres, PostgresSink)
    assert postgres.name == "postgresql://me@db/crm#sequence_states"  # no password
    with pytest.raises(SinkError, match="not a database URL: 'mysql://x'"):
        open_sink("mysql://x", "prospects")
