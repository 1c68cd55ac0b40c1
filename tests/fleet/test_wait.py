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


@pytest.fixture
def statuses(redis_client: Redis, namespace: str) -> StatusStore:
    return StatusStore(redis_client, FleetKeys(namespace))


def every_run_ends_at_sleep(
    clock: FakeClock, statuses: StatusStore, sleeps: int, state: str, started_at: float
) -> None:
    """At the ``sleeps``-th wait on ``clock``, every target's run ends in ``state`` (written as
    a worker would write it)."""

    async def end_every_run(count: int) -> None:
        if count == sleeps:
            for tenant, resource in TARGETS:
                await statuses.update(tenant, resource, state=state, started_at=started_at)

    clock.on_sleep = end_every_run


async def test_at_the_timeout_it_tells_queued_running_retrying_and_ended_apart(
    redis_client: Redis, statuses: StatusStore, fake_clock: FakeClock
) -> None:
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
    redis_client: Redis, statuses: StatusStore, fake_clock: FakeClock
) -> None:
    asked_at = await redis_now(redis_client)
    # after the third look, every run ends
    every_run_ends_at_sleep(fake_clock, statuses, 3, "ok", started_at=asked_at + 1)
    waited = await wait_for_syncs(
        statuses, TARGETS, asked_at, give_up_after=3600, clock=fake_clock, sleep=fake_clock.sleep
    )
    assert waited.done
    assert len(fake_clock.sleeps) == 3
    assert waited.failed() == []
    assert waited.unfinished() == []


async def test_without_a_timeout_it_waits_until_the_end_and_never_sleeps_past_the_deadline(
    redis_client: Redis, statuses: StatusStore, fake_clock: FakeClock
) -> None:
    asked_at = await redis_now(redis_client)
    every_run_ends_at_sleep(fake_clock, statuses, 50, "auth", started_at=asked_at)
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
