"""The Dramatiq adapter without worker processes: what ``fleet sync`` queues (never a target
twice), and the schedule that keeps one chain of runs per target."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from redis.asyncio import Redis

from outreach_async.fleet import FleetApp, FleetKeys, StatusStore, parse_config
from outreach_async.sandbox import Sandbox
from tests.fleet.conftest import fleet_toml

pytestmark = pytest.mark.redis


async def test_sync_queues_each_target_once_until_a_run_starts(
    redis_url: str, redis_client: Redis, namespace: str, tmp_path: Path
) -> None:
    tenants = [("acme", "http://127.0.0.1:9/api/v2", "t"), ("globex", "http://127.0.0.1:9", "u")]
    config = parse_config(tomllib.loads(fleet_toml(redis_url, namespace, tmp_path, tenants)))
    app = FleetApp(config)
    queue = f"{namespace}:dramatiq:{config.worker.queue}"
    try:
        only_acme = await app.request(redis_client, "acme")
        assert only_acme.sent == {("acme", "prospects"): True, ("acme", "accounts"): True}
        everyone = await app.request(redis_client)
        assert everyone.sent == {
            ("acme", "prospects"): False,  # queued already
            ("acme", "accounts"): False,
            ("globex", "prospects"): True,
            ("globex", "accounts"): True,
        }
        assert await redis_client.llen(queue) == 4
        assert everyone.asked_at >= only_acme.asked_at
    finally:
        app.broker.close()


async def test_one_schedule_chain_a_superseded_scheduled_run_does_nothing(
    redis_url: str, redis_client: Redis, namespace: str, tmp_path: Path
) -> None:
    async with Sandbox(seed=5) as acme:
        tenants = [("acme", acme.base_url, acme.token)]
        text = fleet_toml(redis_url, namespace, tmp_path, tenants, resources=["prospects"])
        config = parse_config(tomllib.loads(text))
        app = FleetApp(config)
        keys = FleetKeys(namespace)
        delayed = f"{namespace}:dramatiq:{config.worker.queue}.DQ"
        try:
            await redis_client.set(keys.schedule("acme", "prospects"), "live")
            await app._perform("acme", "prospects", schedule="stale")
            assert acme.requests == []  # superseded: not run, nothing scheduled
            assert await redis_client.llen(delayed) == 0
            await app._perform("acme", "prospects", schedule="live")
            status = await StatusStore(redis_client, keys).read("acme", "prospects")
            assert status.state == "ok"
            following = await redis_client.get(keys.schedule("acme", "prospects"))
            assert following not in (None, b"live")  # the next run is the one live chain
            assert await redis_client.llen(delayed) == 1  # enqueued with delay=every
            await app._perform("acme", "prospects", schedule="live")  # now stale too
            assert await redis_client.llen(delayed) == 1
        finally:
            app.broker.close()
            await app.close()
