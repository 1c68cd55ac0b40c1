"""Deletions: webhooks applied to database sinks, with an incremental sync beside them.

The sandbox delivers signed ``prospect.*`` webhooks over loopback to ``webhook_app`` running a
``SinkEventHandler``; an export into the same table runs afterwards."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

import pytest
from aiohttp.test_utils import TestServer

from outreach_async import OutreachClient, Prospect, Webhook
from outreach_async.export import export_resource
from outreach_async.sandbox import Sandbox
from outreach_async.sinks import DatabaseSink
from outreach_async.webhooks import WEBHOOK_STATS, SinkEventHandler, webhook_app

from .test_postgres_sink import fetch

pytestmark = pytest.mark.outreach_sandbox(seed=50)

SECRET = "s3cret"


async def until(condition: Callable[[], bool]) -> None:
    """Wait for the receiver's workers; a broken receiver fails after 5 s instead of hanging."""
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110 - counters with no event to wait on
            await asyncio.sleep(0.001)


async def rows(sink: DatabaseSink) -> dict[int, tuple[object, ...]]:
    """id -> (first_name, title, deleted_at is set) as stored."""
    sql = "SELECT id, first_name, title, deleted_at IS NOT NULL FROM prospects"
    if sink.dialect == "postgres":
        found = await fetch(str(sink.url), sql)  # type: ignore[attr-defined]
        return {r[0]: (r[1], r[2], r[3]) for r in found}
    return {r[0]: tuple(r[1:]) for r in sink._db.execute(sql).fetchall()}  # type: ignore[attr-defined]


async def test_created_updated_destroyed_then_a_sync_ends_in_the_right_rows(
    outreach_sandbox: Sandbox, sink: DatabaseSink
) -> None:
    app = webhook_app(SinkEventHandler({"prospect": sink}), secret=SECRET, path="/hook")
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with OutreachClient(outreach_sandbox.token, base_url=outreach_sandbox.base_url) as o:
            await export_resource(o, "prospects", sink)  # the first full sync: 50 rows
            hook = Webhook(url=str(server.make_url("/hook")), secret=SECRET, resource="prospect")
            await o.webhooks.create(hook)
            sally = await o.prospects.create(Prospect(first_name="Sally", title="VP"))
            bob = await o.prospects.create(Prospect(first_name="Bob", title="CTO"))
            assert sally.id is not None
            assert bob.id is not None
            await o.prospects.update(sally.id, title="CEO")
            await o.prospects.delete(bob.id)
            await o.prospects.delete(3)  # one the sync had already stored
            await asyncio.wait_for(
                outreach_sandbox.on_own_loop(outreach_sandbox.dispatcher.drain()), 5
            )
            await until(lambda: app[WEBHOOK_STATS].handled >= 5)

            after_hooks = await rows(sink)
            assert after_hooks[sally.id] == ("Sally", "CEO", False)  # created, then updated
            assert after_hooks[bob.id] == ("Bob", "CTO", True)  # created, then destroyed
            assert after_hooks[3][2] is True  # the deletion a listing never shows

            await o.prospects.update(4, title="Changed while no webhook listened")
            outreach_sandbox.store.update("prospect", sally.id, {"lastName": "Smith"})
            await export_resource(o, "prospects", sink)  # the periodic sync, afterwards
    finally:
        await server.close()

    final = await rows(sink)
    assert set(final) == set(range(1, 51)) | {sally.id, bob.id}
    assert final[4][1] == "Changed while no webhook listened"
    assert final[3][2] is True  # the sync never clears a deletion
    assert final[bob.id][2] is True
    assert final[sally.id] == ("Sally", "CEO", False)
    deleted = [i for i, (_, _, gone) in final.items() if gone]
    assert sorted(deleted) == sorted([3, bob.id])


async def test_a_late_created_fills_what_an_earlier_arrived_update_did_not_carry(
    sink: DatabaseSink,
) -> None:
    updated = {"type": "prospect", "id": 6, "title": "CEO", "updatedAt": "2025-01-02T00:00:00.000Z"}
    created = {
        "type": "prospect",
        "id": 6,
        "firstName": "Sally",
        "title": "VP",
        "updatedAt": "2025-01-01T00:00:00.000Z",
    }
    await sink.apply_partial(updated)  # deliveries come in any order
    await sink.apply_partial(created)
    assert (await rows(sink))[6] == ("Sally", "CEO", False)


async def test_a_late_update_never_undoes_a_newer_row(sink: DatabaseSink) -> None:
    new = {"type": "prospect", "id": 5, "title": "New", "updatedAt": "2025-01-02T00:00:00.000Z"}
    await sink.upsert([new])
    late = {"type": "prospect", "id": 5, "title": "Old", "updatedAt": "2025-01-01T00:00:00.000Z"}
    await sink.apply_partial(late)
    assert (await rows(sink))[5] == (None, "New", False)
    await sink.mark_deleted([5], dt.datetime(2025, 2, 1, tzinfo=dt.UTC))
    await sink.mark_deleted([5], dt.datetime(2025, 3, 1, tzinfo=dt.UTC))  # a repeated delivery
    assert (await rows(sink))[5] == (None, "New", True)
