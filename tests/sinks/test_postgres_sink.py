"""PostgreSQL sink against a real server and the sandbox on loopback."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
import yarl

from outreach_async import OutreachClient, Prospect
from outreach_async.export import export_resource
from outreach_async.sandbox import Sandbox
from outreach_async.sinks import (
    PostgresSink,
    SinkConnectError,
    SinkLayoutError,
    SinkPermissionError,
    open_sink,
)

from .conftest import asyncpg

pytestmark = pytest.mark.outreach_sandbox(seed=300)


async def fetch(url: str, sql: str, *args: Any) -> list[Any]:
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


def sandbox_versions(sandbox: Sandbox, type_: str = "prospect") -> dict[int, str]:
    """id -> updatedAt text, as the sandbox holds them now."""
    return {
        id_: record["attributes"]["updatedAt"]
        for id_, record in sandbox.store.table(type_).records.items()
    }


def stamp(value: dt.datetime) -> str:
    return f"{value.astimezone(dt.UTC):%Y-%m-%dT%H:%M:%S}.{value.microsecond // 1000:03d}Z"


async def table_versions(url: str, table: str = "prospects") -> dict[int, str]:
    rows = await fetch(url, f"SELECT id, updated_at FROM {table}")
    return {row["id"]: stamp(row["updated_at"]) for row in rows}


async def export(sandbox: Sandbox, url: str, resource: str = "prospects", **options: Any) -> Any:
    async with (
        OutreachClient(sandbox.token, base_url=sandbox.base_url) as client,
        open_sink(url, resource) as sink,
    ):
        return await export_resource(client, resource, sink, page_size=50, **options)


async def test_an_export_lands_every_record_once_with_typed_columns(
    outreach_sandbox: Sandbox, database: str
) -> None:
    result = await export(outreach_sandbox, database)
    assert result.records == 300
    assert await table_versions(database) == sandbox_versions(outreach_sandbox)
    some = outreach_sandbox.store.table("prospect").records[7]
    [row] = await fetch(database, "SELECT * FROM prospects WHERE id = 7")
    assert row["first_name"] == some["attributes"].get("firstName")
    assert row["account_id"] == some["relationships"].get("account")
    assert isinstance(row["created_at"], dt.datetime)
    assert row["deleted_at"] is None


async def test_the_checkpoint_lives_in_the_same_database_and_a_rerun_reads_only_changes(
    outreach_sandbox: Sandbox, database: str
) -> None:
    await export(outreach_sandbox, database)
    [checkpoint] = await fetch(database, "SELECT key, value FROM outreach_checkpoints")
    assert checkpoint["key"].startswith("prospect:")
    for id_ in (3, 5, 8):
        outreach_sandbox.store.update("prospect", id_, {"title": f"Changed {id_}"})
    again = await export(outreach_sandbox, database)
    assert again.records == 3  # only what changed since the watermark
    assert await table_versions(database) == sandbox_versions(outreach_sandbox)
    rows = await fetch(database, "SELECT id, title FROM prospects WHERE id = ANY($1)", [3, 5, 8])
    assert {r["id"]: r["title"] for r in rows} == {i: f"Changed {i}" for i in (3, 5, 8)}


async def test_an_older_version_never_overwrites_a_newer_one(
    outreach_sandbox: Sandbox, database: str
) -> None:
    await export(outreach_sandbox, database)
    [row] = await fetch(database, "SELECT updated_at, title FROM prospects WHERE id = 4")
    older = {
        "type": "prospect",
        "id": 4,
        "title": "Stale",
        "updatedAt": stamp(row["updated_at"] - dt.timedelta(days=1)),
    }
    newer = {
        **older,
        "title": "Fresh",
        "updatedAt": stamp(row["updated_at"] + dt.timedelta(days=1)),
    }
    async with open_sink(database, "prospects") as sink:
        await sink.upsert([older])
        [kept] = await fetch(database, "SELECT title FROM prospects WHERE id = 4")
        assert kept["title"] == row["title"]
        await sink.upsert([newer, older])  # both in one batch: the newer wins
    [now] = await fetch(database, "SELECT title FROM prospects WHERE id = 4")
    assert now["title"] == "Fresh"


async def test_a_record_read_twice_in_one_batch_lands_once_as_its_newest_version(
    database: str,
) -> None:
    first = {"type": "prospect", "id": 9, "title": "A", "updatedAt": "2024-01-01T00:00:00.000Z"}
    second = {**first, "title": "B"}  # same version, read later: the later read wins the tie
    async with open_sink(database, "prospects") as sink:
        await sink.upsert([first, second])
    assert [tuple(r) for r in await fetch(database, "SELECT id, title FROM prospects")] == [
        (9, "B")
    ]


async def test_a_newer_version_adds_columns_but_a_differently_typed_table_is_refused(
    database: str,
) -> None:
    await fetch(database, "CREATE TABLE prospects (id bigint PRIMARY KEY, first_name text)")
    async with open_sink(database, "prospects") as sink:
        await sink.upsert([{"type": "prospect", "id": 1, "firstName": "Ann", "title": "CEO"}])
    [row] = await fetch(database, "SELECT first_name, title FROM prospects")
    assert tuple(row) == ("Ann", "CEO")

    await fetch(database, "CREATE TABLE accounts (id text PRIMARY KEY, name integer)")
    with pytest.raises(
        SinkLayoutError, match="accounts exists with an incompatible layout: id is text"
    ):
        async with open_sink(database, "accounts"):
            pass
    await fetch(database, "CREATE TABLE calls (id bigint, note text)")
    with pytest.raises(SinkLayoutError, match="without a primary key on id"):
        async with open_sink(database, "calls"):
            pass


async def test_unreachable_database_and_wrong_password_are_connect_errors(database: str) -> None:
    closed = yarl.URL(database).with_port(1)
    with pytest.raises(
        SinkConnectError, match=r"cannot reach postgresql://postgres@127\.0\.0\.1:1/"
    ):
        async with PostgresSink(str(closed), Prospect.__resource_spec__):
            pass
    writer = "writer_" + yarl.URL(database).path.lstrip("/")  # roles are cluster-wide
    await fetch(database, f"CREATE ROLE {writer} LOGIN PASSWORD 'right'")
    wrong = yarl.URL(database).with_user(writer).with_password("wrong")
    refused = r"cannot log in to postgresql://writer_t_\w+@.*password authentication failed"
    with pytest.raises(SinkConnectError, match=refused) as caught:
        async with open_sink(str(wrong), "prospects"):
            pass
    assert "wrong" not in str(caught.value)  # a password never appears in a message


async def test_a_read_only_role_is_refused_before_anything_is_written(
    outreach_sandbox: Sandbox, database: str
) -> None:
    await export(outreach_sandbox, database)  # the table exists, with 300 rows
    name = yarl.URL(database).path.lstrip("/")
    reader_role = f"reader_{name}"  # roles are cluster-wide
    await fetch(database, f"CREATE ROLE {reader_role} LOGIN PASSWORD 'pw'")
    await fetch(database, f'GRANT CONNECT ON DATABASE "{name}" TO {reader_role}')
    await fetch(database, f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {reader_role}")
    reader = yarl.URL(database).with_user(reader_role).with_password("pw")
    with pytest.raises(SinkPermissionError, match="may not insert into and update prospects"):
        await export(outreach_sandbox, str(reader))
    [count] = await fetch(database, "SELECT count(*) FROM prospects")
    assert count[0] == 300


async def test_exports_of_several_resources_prepare_one_new_database_at_once(
    database: str,
) -> None:
    """A fleet tenant's resources start their first syncs into its database together: each sink
    creates the shared checkpoint table if missing, and none of them fails for the others."""
    resources = ["prospects", "accounts", "users", "sequences", "mailboxes", "tasks"]

    async def prepare(resource: str) -> None:
        async with open_sink(database, resource):
            pass

    await asyncio.gather(*(prepare(resource) for resource in resources))
    rows = await fetch(database, "SELECT count(*) FROM outreach_checkpoints")
    assert rows[0][0] == 0
