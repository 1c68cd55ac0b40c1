"""Webhook delivery: pure payloads and signatures, then real POSTs to a loopback receiver."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from outreach_async.sandbox.webhooks import (
    WebhookDispatcher,
    build_payload,
    sign_body,
    webhook_matches,
)
from tests.clock import FakeClock
from tests.ports import unused_port

DELIVERED_AT = "2024-01-01T00:00:00.000+00:00"


def _payload(
    action: str,
    resource: Mapping[str, Any],
    before: Mapping[str, Any] | None = None,
    *,
    resource_type: str = "task",
    version: int = 1,
    flatten: bool = False,
) -> dict[str, Any]:
    return build_payload(
        resource_type,
        action,
        resource,
        before,
        payload_version=version,
        delivered_at=DELIVERED_AT,
        job_id="job-1",
        flatten_relationships=flatten,
    )


def _hook(
    id_: int = 1,
    url: str = "http://127.0.0.1:9/hook",
    *,
    resource: str = "*",
    action: str = "*",
    active: bool = True,
    secret: str | None = None,
    version: int = 1,
) -> dict[str, Any]:
    attributes = {
        "url": url,
        "resource": resource,
        "action": action,
        "active": active,
        "secret": secret,
        "payloadVersion": version,
    }
    return {"id": id_, "attributes": attributes}


# -- pure --


def test_signature_is_lowercase_hex_hmac_sha256_of_the_raw_body() -> None:
    body = b"The quick brown fox jumps over the lazy dog"
    assert sign_body(body, "key") == (
        "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    )


@pytest.mark.parametrize(
    ("resource", "action", "active", "matches"),
    [
        ("*", "*", True, True),
        ("task", "*", True, True),
        ("task", "completed", True, True),
        ("task", "updated", True, False),
        ("prospect", "*", True, False),
        ("*", "completed", True, True),
        ("*", "*", False, False),
    ],
)
def test_webhooks_match_on_resource_action_and_active(
    resource: str, action: str, active: bool, matches: bool
) -> None:
    hook = _hook(resource=resource, action=action, active=active)
    assert webhook_matches(hook, "task", "completed") is matches


TASK_BEFORE: dict[str, Any] = {
    "type": "task",
    "id": 7,
    "attributes": {
        "state": "incomplete",
        "completed": False,
        "note": "call back",
        "dueAt": None,
        "updatedAt": "2024-01-01T00:00:00.000Z",
    },
    "relationships": {
        "owner": {"data": {"type": "user", "id": 1}},
        "prospect": {"data": {"type": "prospect", "id": 3}},
        "sequenceStep": {"links": {"related": "https://example.test/x"}},
        "taskDisposition": {"meta": {"count": 0}},
    },
}
TASK_AFTER: dict[str, Any] = {
    **TASK_BEFORE,
    "attributes": {
        **TASK_BEFORE["attributes"],
        "state": "complete",
        "completed": True,
        "updatedAt": "2024-01-01T00:00:05.000Z",
    },
    "relationships": {
        **TASK_BEFORE["relationships"],
        "owner": {"data": {"type": "user", "id": 2}},
    },
}


def test_an_update_carries_only_what_changed_plus_updated_at() -> None:
    payload = _payload("completed", TASK_AFTER, TASK_BEFORE)
    assert payload == {
        "data": {
            "type": "task",
            "id": 7,
            "attributes": {
                "state": "complete",
                "completed": True,
                "updatedAt": "2024-01-01T00:00:05.000Z",
            },
            "relationships": {"owner": {"data": {"type": "user", "id": 2}}},
        },
        "meta": {
            "deliveredAt": "2024-01-01T00:00:00.000+00:00",
            "eventName": "task.completed",
            "jobId": "job-1",
        },
    }


def test_payload_version_2_adds_the_prior_values_of_the_changed_attributes() -> None:
    payload = _payload("updated", TASK_AFTER, TASK_BEFORE, version=2)
    assert payload["beforeUpdate"] == {
        "type": "task",
        "id": 7,
        "attributes": {
            "state": "incomplete",
            "completed": False,
            "updatedAt": "2024-01-01T00:00:00.000Z",
        },
    }
    assert list(payload) == ["data", "beforeUpdate", "meta"]


def test_updated_at_is_sent_even_when_the_update_did_not_move_it() -> None:
    stamp = "2019-08-15T19:52:07.000Z"
    before = {
        "type": "sequence",
        "id": 54,
        "attributes": {"throttleMaxAdds": 50, "updatedAt": stamp},
    }
    after = {**before, "attributes": {"throttleMaxAdds": 70, "updatedAt": stamp}}
    payload = _payload("updated", after, before, resource_type="sequence")
    # The shape of the recorded v1 payload in the facts (§9, BAL test).
    assert payload["data"] == {
        "type": "sequence",
        "id": 54,
        "attributes": {"throttleMaxAdds": 70, "updatedAt": stamp},
        "relationships": {},
    }


def test_created_carries_the_set_attributes_and_destroyed_everything_last_known() -> None:
    created = _payload("created", TASK_BEFORE, version=2)
    destroyed = _payload("destroyed", TASK_AFTER, version=2)
    assert created["data"]["attributes"] == {
        "state": "incomplete",
        "completed": False,
        "note": "call back",
        "updatedAt": "2024-01-01T00:00:00.000Z",
    }
    assert destroyed["data"]["attributes"] == TASK_AFTER["attributes"]
    assert set(destroyed["data"]["relationships"]) == {"owner", "prospect"}
    assert "beforeUpdate" not in created
    assert "beforeUpdate" not in destroyed
    assert destroyed["meta"]["eventName"] == "task.destroyed"


def test_relationships_can_be_flattened_like_the_2025_sample() -> None:
    payload = _payload("created", TASK_BEFORE, flatten=True)
    assert payload["data"]["relationships"]["owner"] == {"type": "user", "id": 1}


# -- delivery over loopback --


class Receiver:
    """A webhook receiver on loopback that records what it gets and answers ``status``."""

    def __init__(self, status: int = 200, delay: float = 0.0) -> None:
        self.status = status
        self.delay = delay
        self.requests: list[tuple[Mapping[str, str], bytes]] = []
        self.redirected = 0

    async def hook(self, request: web.Request) -> web.Response:
        self.requests.append((request.headers.copy(), await request.read()))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.status == 302:
            raise web.HTTPFound("/elsewhere")
        return web.Response(status=self.status)

    async def elsewhere(self, request: web.Request) -> web.Response:
        self.redirected += 1
        return web.Response()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/hook", self.hook)
        app.router.add_route("*", "/elsewhere", self.elsewhere)
        return app


@contextlib.asynccontextmanager
async def _receiving(receiver: Receiver, port: int | None = None) -> AsyncIterator[str]:
    async with TestServer(receiver.app(), host="127.0.0.1", port=port) as server:
        yield str(server.make_url("/hook"))


async def test_a_matching_webhook_gets_a_signed_json_api_post() -> None:
    receiver = Receiver()
    async with _receiving(receiver) as url:
        hooks = [
            _hook(1, url, resource="task", secret="s3cret", version=2),
            _hook(2, url, active=False),
            _hook(3, url, resource="prospect"),
        ]
        dispatcher = WebhookDispatcher(lambda: hooks, clock=lambda: 1_700_000_000.5)
        assert dispatcher.publish("task", "completed", TASK_AFTER, TASK_BEFORE) == 1
        await dispatcher.aclose()
    [(headers, body)] = receiver.requests
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["Outreach-Webhook-Signature"], expected)
    assert headers["Content-Type"] == "application/vnd.api+json"
    uuid.UUID(headers["Outreach-Webhook-ID"])
    payload = orjson.loads(body)
    assert payload["data"]["attributes"]["state"] == "complete"
    assert payload["beforeUpdate"]["attributes"]["state"] == "incomplete"
    assert payload["meta"]["eventName"] == "task.completed"
    assert payload["meta"]["deliveredAt"] == "2023-11-14T22:13:20.500+00:00"
    uuid.UUID(payload["meta"]["jobId"])
    [delivery] = dispatcher.deliveries
    assert (delivery.webhook_id, delivery.status, delivery.attempts) == (1, 200, 1)
    assert delivery.body == body


async def test_no_secret_means_no_signature_header() -> None:
    receiver = Receiver()
    async with _receiving(receiver) as url:
        dispatcher = WebhookDispatcher(lambda: [_hook(1, url)])
        dispatcher.publish("account", "created", {"type": "account", "id": 1, "attributes": {}})
        await dispatcher.aclose()
    [(headers, _)] = receiver.requests
    assert "Outreach-Webhook-Signature" not in headers


async def test_a_500_answer_counts_as_delivered_and_is_not_retried() -> None:
    receiver, sleep = Receiver(status=500), FakeClock()
    async with _receiving(receiver) as url:
        dispatcher = WebhookDispatcher(lambda: [_hook(1, url)], sleep=sleep.sleep)
        dispatcher.publish("task", "updated", TASK_AFTER, TASK_BEFORE)
        await dispatcher.aclose()
    assert len(receiver.requests) == 1
    assert sleep.sleeps == []
    [delivery] = dispatcher.deliveries
    assert (delivery.status, delivery.error, delivery.attempts) == (500, None, 1)


async def test_redirects_are_not_followed() -> None:
    receiver = Receiver(status=302)
    async with _receiving(receiver) as url:
        dispatcher = WebhookDispatcher(lambda: [_hook(1, url)])
        dispatcher.publish("task", "updated", TASK_AFTER, TASK_BEFORE)
        await dispatcher.aclose()
    assert receiver.redirected == 0
    assert dispatcher.deliveries[0].status == 302


async def test_connection_refused_is_retried_three_times_a_second_apart() -> None:
    sleep = FakeClock()
    url = f"http://127.0.0.1:{unused_port()}/hook"
    dispatcher = WebhookDispatcher(lambda: [_hook(1, url)], sleep=sleep.sleep)
    dispatcher.publish("task", "updated", TASK_AFTER, TASK_BEFORE)
    await dispatcher.aclose()
    assert sleep.sleeps == [1.0, 1.0, 1.0]
    [delivery] = dispatcher.deliveries
    assert (delivery.status, delivery.attempts) == (None, 4)
    assert delivery.error is not None


async def test_a_retry_reaches_a_receiver_that_came_back() -> None:
    receiver, sleep = Receiver(), FakeClock()
    port = unused_port()
    async with contextlib.AsyncExitStack() as stack:

        async def start_receiver_on_second_pause(pauses: int) -> None:
            if pauses == 2:
                await stack.enter_async_context(_receiving(receiver, port))

        sleep.on_sleep = start_receiver_on_second_pause
        hooks = [_hook(1, f"http://127.0.0.1:{port}/hook")]
        dispatcher = WebhookDispatcher(lambda: hooks, sleep=sleep.sleep)
        dispatcher.publish("task", "updated", TASK_AFTER, TASK_BEFORE)
        await dispatcher.aclose()
    assert len(receiver.requests) == 1
    assert (dispatcher.deliveries[0].status, dispatcher.deliveries[0].attempts) == (200, 3)


async def test_a_slow_receiver_times_out_without_a_retry() -> None:
    receiver, sleep = Receiver(delay=0.05), FakeClock()
    async with _receiving(receiver) as url:
        dispatcher = WebhookDispatcher(lambda: [_hook(1, url)], sleep=sleep.sleep, timeout=0.01)
        dispatcher.publish("task", "updated", TASK_AFTER, TASK_BEFORE)
        await dispatcher.aclose()
    [delivery] = dispatcher.deliveries
    assert (delivery.status, delivery.error, delivery.attempts) == (None, "timeout", 1)
    assert sleep.sleeps == []


async def test_every_matching_webhook_gets_its_own_delivery() -> None:
    receiver = Receiver()
    async with _receiving(receiver) as url:
        hooks = [_hook(i, url, secret=f"secret-{i}") for i in range(1, 4)]
        dispatcher = WebhookDispatcher(lambda: hooks)
        assert dispatcher.publish("prospect", "destroyed", TASK_AFTER) == 3
        await dispatcher.drain()
        assert len(receiver.requests) == 3
        await dispatcher.aclose()
    by_id = {delivery.webhook_id: delivery for delivery in dispatcher.deliveries}
    for i in range(1, 4):
        headers = by_id[i].headers
        assert headers["Outreach-Webhook-Signature"] == sign_body(by_id[i].body, f"secret-{i}")
    assert len({orjson.loads(d.body)["meta"]["jobId"] for d in dispatcher.deliveries}) == 3
