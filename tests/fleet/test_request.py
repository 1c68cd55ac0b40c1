"""``fleet sync`` without workers: what it queues, and that it never queues a target twice."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from redis.asyncio import Redis

from outreach_async.fleet import FleetApp, parse_config
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
