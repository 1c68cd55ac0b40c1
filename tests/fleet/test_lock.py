"""The lease lock against a real Redis: only its holder renews or releases it, a lost lease
cancels the work, and a live holder is told apart from a dead one."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio import Redis

from outreach_async.fleet._lock import LOST, LeaseLock

pytestmark = pytest.mark.redis


def _key() -> str:
    return f"test-lock-{uuid.uuid4().hex}"


async def test_only_the_holder_renews_or_releases(redis_client: Redis) -> None:
    key = _key()
    mine, theirs = LeaseLock(redis_client, key, lease=5), LeaseLock(redis_client, key, lease=5)
    assert await mine.try_acquire()
    assert not await theirs.try_acquire()
    assert not await theirs.renew()
    assert not await theirs.release()
    assert await redis_client.get(key) == mine.token.encode()
    assert await mine.release()
    assert await theirs.try_acquire()


async def test_the_work_is_renewed_while_it_runs_and_released_after(redis_client: Redis) -> None:
    """Redis expires the key on its own clock, so this one test runs in real time; the lease is
    long enough (renewed every 0.67 s, a 2 s lease) that a loaded machine does not lose it."""
    key = _key()
    lock = LeaseLock(redis_client, key, lease=2.0)
    assert await lock.try_acquire()
    ttls: list[int] = []

    async def work() -> str:
        for _ in range(6):  # twice the lease: only renewals keep it
            await asyncio.sleep(0.7)
            ttls.append(int(await redis_client.pttl(key)))
        return "done"

    assert await lock.run(work) == "done"
    assert all(ttl > 0 for ttl in ttls), ttls
    assert await redis_client.exists(key) == 0


async def test_a_lost_lease_cancels_the_work(redis_client: Redis) -> None:
    key = _key()
    lock = LeaseLock(redis_client, key, lease=0.3)
    assert await lock.try_acquire()
    cancelled = asyncio.Event()

    async def work() -> None:
        await redis_client.set(key, "someone-else")  # the lease lapsed and was taken
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    assert await asyncio.wait_for(lock.run(work), timeout=10) is LOST
    assert cancelled.is_set()
    assert await redis_client.get(key) == b"someone-else"  # not released: not ours


async def test_acquire_unless_alive_gives_way_to_a_live_holder(redis_client: Redis) -> None:
    key = _key()
    holder, waiter = (
        LeaseLock(redis_client, key, lease=0.3),
        LeaseLock(redis_client, key, lease=0.3),
    )
    assert await holder.try_acquire()
    stop = asyncio.Event()
    holding = asyncio.ensure_future(holder.run(stop.wait))
    assert not await asyncio.wait_for(waiter.acquire_unless_alive(), timeout=10)
    stop.set()
    await holding
