"""Webhooks end to end: the client registers webhooks on the sandbox, the sandbox POSTs signed
events over loopback, and ``webhook_app`` hands typed events to the handler."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from outreach_async import UNSET, Account, OutreachClient, Prospect, Ref, Task, ToOne, Webhook
from outreach_async.sandbox import Sandbox
from outreach_async.sandbox.webhooks import Delivery, WebhookDispatcher
from outreach_async.webhooks import WEBHOOK_STATS, WebhookEvent, WebhookStats, webhook_app

pytestmark = pytest.mark.outreach_sandbox(seed=None)

SECRET = "s3cret"


class Receiver:
    """``webhook_app`` on 127.0.0.1, recording what its handler got."""

    def __init__(self, server: TestServer, app: web.Application, events: list[WebhookEvent]):
        self.server = server
        self.app = app
        self.events = events

    @property
    def url(self) -> str:
        return str(self.server.make_url("/outreach"))

    @property
    def stats(self) -> WebhookStats:
        return self.app[WEBHOOK_STATS]

    def names(self) -> list[str]:
        return [event.name for event in self.events]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    events: list[WebhookEvent] = []

    async def handler(event: WebhookEvent) -> None:
        events.append(event)

    app = webhook_app(handler, secret=SECRET, path="/outreach")
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield Receiver(server, app, events)
    finally:
        await server.close()


async def until(condition: Callable[[], bool]) -> None:
    """Wait until ``condition`` holds; a broken receiver fails after 5 s instead of hanging."""
    async with asyncio.timeout(5):
        # Polling: the counters have no event to wait on, and thread-run handlers need real time.
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.001)


async def delivered(sandbox: Sandbox, receiver: Receiver, handled: int) -> None:
    """Wait for the sandbox's deliveries, then for the receiver's workers."""
    await asyncio.wait_for(sandbox.on_own_loop(sandbox.dispatcher.drain()), 5)
    await until(lambda: receiver.stats.handled >= handled)


async def test_creates_updates_deletes_and_actions_arrive_as_typed_events(
    outreach: OutreachClient, outreach_sandbox: Sandbox, receiver: Receiver
) -> None:
    await outreach.webhooks.create(
        Webhook(url=receiver.url, secret=SECRET, resource="prospect", action="*")
    )
    await outreach.webhooks.create(
        Webhook(
            url=receiver.url, secret=SECRET, resource="task", action="completed", payload_version=2
        )
    )

    sally = await outreach.prospects.create(Prospect(first_name="Sally", title="VP"))
    assert sally.id is not None
    await delivered(outreach_sandbox, receiver, 1)
    await outreach.prospects.update(sally.id, title="CEO")
    await delivered(outreach_sandbox, receiver, 2)
    task = await outreach.tasks.create(Task(action="call", owner=Ref("user", 1), subject=sally))
    assert task.id is not None
    await outreach.tasks.mark_complete(task.id)  # task.created is not subscribed: only this
    await delivered(outreach_sandbox, receiver, 3)
    await outreach.prospects.delete(sally.id)
    await delivered(outreach_sandbox, receiver, 4)

    assert receiver.names() == [
        "prospect.created",
        "prospect.updated",
        "task.completed",
        "prospect.destroyed",
    ]
    created, updated, completed, destroyed = receiver.events
    for event in receiver.events:
        assert event.delivery_id is not None
        assert event.id == event.delivery_id
        assert event.job_id is not None
        assert isinstance(event.delivered_at, dt.datetime)
        assert event.delivered_at.tzinfo is not None

    assert isinstance(created.resource, Prospect)
    assert (created.resource.id, created.resource.first_name) == (sally.id, "Sally")
    assert created.resource.title == "VP"
    assert created.before is None

    assert isinstance(updated.resource, Prospect)
    assert set(updated.changed) == {"title", "updated_at"}  # only what changed, plus updatedAt
    assert updated.resource.title == "CEO"
    assert updated.resource.first_name is UNSET  # not carried by an update
    assert isinstance(updated.resource.updated_at, dt.datetime)

    assert (completed.resource_type, completed.action) == ("task", "completed")
    assert isinstance(completed.resource, Task)
    assert completed.resource.id == task.id
    assert completed.resource.completed is True
    assert isinstance(completed.before, Task)  # payload version 2: the prior values
    assert completed.before.completed is False
    assert completed.before.state == "incomplete"
    assert completed.resource.state != completed.before.state

    assert isinstance(destroyed.resource, Prospect)
    assert destroyed.resource.first_name == "Sally"  # last known values
    assert destroyed.resource.title == "CEO"

    assert all(d.status == 200 for d in outreach_sandbox.dispatcher.deliveries)
    stats = receiver.stats
    assert (stats.received, stats.handled, stats.rejected, stats.failed) == (4, 4, 0, 0)


async def test_a_wrong_secret_or_no_secret_is_rejected_with_401(
    outreach: OutreachClient, outreach_sandbox: Sandbox, receiver: Receiver
) -> None:
    await outreach.webhooks.create(
        Webhook(url=receiver.url, secret="not the receiver's", resource="prospect")
    )
    await outreach.webhooks.create(Webhook(url=receiver.url, resource="prospect"))  # unsigned
    await outreach.prospects.create(Prospect(first_name="Mallory"))
    await asyncio.wait_for(outreach_sandbox.on_own_loop(outreach_sandbox.dispatcher.drain()), 5)

    statuses = sorted(d.status or 0 for d in outreach_sandbox.dispatcher.deliveries)
    assert statuses == [401, 401]
    assert receiver.stats.rejected == 2
    assert receiver.events == []


async def test_a_replayed_delivery_is_dropped_and_a_tampered_one_rejected(
    outreach: OutreachClient, outreach_sandbox: Sandbox, receiver: Receiver
) -> None:
    await outreach.webhooks.create(Webhook(url=receiver.url, secret=SECRET, resource="prospect"))
    await outreach.prospects.create(Prospect(first_name="Sally", title="VP"))
    await delivered(outreach_sandbox, receiver, 1)
    [original] = outreach_sandbox.dispatcher.deliveries

    async with TestClient(receiver.server) as client:
        assert await replay(client, original, original.body) == 200
        tampered = original.body.replace(b'"VP"', b'"CEO"')
        assert tampered != original.body
        assert await replay(client, original, tampered) == 401

    assert receiver.stats.duplicates == 1
    assert receiver.stats.rejected == 1
    assert len(receiver.events) == 1
    assert isinstance(receiver.events[0].resource, Prospect)
    assert receiver.events[0].resource.title == "VP"


async def replay(
    client: TestClient[web.Request, web.Application], delivery: Delivery, body: bytes
) -> int:
    async with client.post("/outreach", data=body, headers=dict(delivery.headers)) as answer:
        return answer.status


async def test_flattened_relationships_from_the_dispatcher_become_handles(
    receiver: Receiver,
) -> None:
    # The 2025 sample's shape (facts §9): relationships not wrapped in "data".
    hooks: list[dict[str, Any]] = [
        {"id": 1, "attributes": {"url": receiver.url, "secret": SECRET, "payloadVersion": 1}}
    ]
    dispatcher = WebhookDispatcher(lambda: hooks, flatten_relationships=True)
    resource = {
        "type": "account",
        "id": 77,
        "attributes": {"name": "Acme", "updatedAt": "2025-11-04T09:40:36.000Z"},
        "relationships": {"owner": {"data": {"type": "user", "id": 2}}},
    }
    try:
        assert dispatcher.publish("account", "created", resource) == 1
        await asyncio.wait_for(dispatcher.drain(), 5)
    finally:
        await dispatcher.aclose()
    await until(lambda: receiver.stats.handled == 1)

    [event] = receiver.events
    assert orjson.loads(dispatcher.deliveries[0].body)["data"]["relationships"] == {
        "owner": {"type": "user", "id": 2}
    }
    assert event.name == "account.created"
    assert isinstance(event.resource, Account)
    assert event.resource.id == 77
    assert event.resource.owner == ToOne("user", 2)
