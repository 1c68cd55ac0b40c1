"""``wait_for_syncs``: the wait of ``fleet sync --wait [--timeout]``, on a fake clock and real
Redis; the statuses are written here as workers would write them."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from outreach_async.fleet import FleetKeys, StatusStore, redis_now, wait_for_syncs
from tests.clock import FakeClock

pytestmark = pytest.mark.redis

TARGETS = [
    ("acme", "prospects"),
    ("acme", "accounts"),
    ("globex", "prospects"),
    ("globex", "accounts"),
]


async def test_at_the_timeout_it_tells_queued_running_retrying_and_ended_apart(
    redis_client: Redis, namespace: str, fake_clock: FakeClock
) -> None:
    statuses = StatusStore(redis_client, FleetKeys(namespace))
    before = await redis_now(redis_client)
    # the previous run of acme accounts ended before this sync was asked for: not this one's
    await statuses.update("acme", "accounts", state="ok", started_at=before - 60)
    asked_at = before + 1
    await statuses.update("acme", "prospects", state="running", started_at=asked_at, worker="w:1")
    await statuses.update("globex", "prospects", state="error", started_at=asked_at)
    await statuses.update("globex", "accounts", state="retrying", started_at=asked_at + 2)

    waited = await wait_for_syncs(
        statuses, TARGETS, asked_at, give_up_after=30, clock=fake_clock, sleep=fake_clock.sleep
    )

    assert not waited.done
    assert fake_clock.elapsed == 30  # it waited the whole timeout, no longer
    assert [(s.tenant, s.resource, now) for s, now in waited.phases()] == [
        ("acme", "prospects", "running"),
        ("acme", "accounts", "queued"),
        ("globex", "prospects", "error"),
        ("globex", "accounts", "retrying"),
    ]
    assert [s.tenant for s in waited.failed()] == ["globex"]
    assert [now for _, now in waited.unfinished()] == ["running", "queued", "retrying"]


async def test_it_returns_as_soon_as_every_sync_has_ended(
    redis_client: Redis, namespace: str, fake_clock: FakeClock
) -> None:
    statuses = StatusStore(redis_client, FleetKeys(namespace))
    asked_at = await redis_now(redis_client)

    async def workers_finish(sleeps: int) -> None:
        if sleeps == 3:  # after the third look, every run ends
            for tenant, resource in TARGETS:
                await statuses.update(tenant, resource, state="ok", started_at=asked_at + 1)

    fake_clock.on_sleep = workers_finish
    waited = await wait_for_syncs(
        statuses, TARGETS, asked_at, give_up_after=3600, clock=fake_clock, sleep=fake_clock.sleep
    )
    assert waited.done
    assert len(fake_clock.sleeps) == 3
    assert waited.failed() == []
    assert waited.unfinished() == []


async def test_without_a_timeout_it_waits_until_the_end_and_never_sleeps_past_the_deadline(
    redis_client: Redis, namespace: str, fake_clock: FakeClock
) -> None:
    statuses = StatusStore(redis_client, FleetKeys(namespace))
    asked_at = await redis_now(redis_client)

    async def finish_late(sleeps: int) -> None:
        if sleeps == 50:
            for tenant, resource in TARGETS:
                await statuses.update(tenant, resource, state="auth", started_at=asked_at)

    fake_clock.on_sleep = finish_late
    waited = await wait_for_syncs(
        statuses, TARGETS, asked_at, poll=0.2, clock=fake_clock, sleep=fake_clock.sleep
    )
    assert waited.done
    assert len(waited.failed()) == 4
    # a timeout that is not a multiple of the poll interval: the last sleep is cut to fit
    fake_clock.sleeps.clear()
    fake_clock.on_sleep = None
    await statuses.update("acme", "prospects", state="running", started_at=asked_at + 10)
    again = await wait_for_syncs(
        statuses, TARGETS, asked_at + 5, give_up_after=0.5, clock=fake_clock, sleep=fake_clock.sleep
    )
    assert not again.done
    assert fake_clock.sleeps == pytest.approx([0.2, 0.2, 0.1])
