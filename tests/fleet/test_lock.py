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
    """The lock's waits between renewals go through an injected sleep that the test opens one at
    a time; each renewal must set the lease back to full after the test shortened it. The
    lease is a minute, so Redis's own clock never decides anything here."""
    key = _key()
    gate: asyncio.Queue[None] = asyncio.Queue()
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await gate.get()

    lock = LeaseLock(redis_client, key, lease=60.0, sleep=sleep)
    assert await lock.try_acquire()
    renewed_ttls: list[int] = []

    async def work() -> str:
        for _ in range(3):
            await redis_client.pexpire(key, 1_000)  # as if most of the lease had gone by
            gate.put_nowait(None)  # the keeper wakes and renews
            async with asyncio.timeout(10):  # a hang guard, not a timing
                while (ttl := int(await redis_client.pttl(key))) <= 1_000:  # noqa: ASYNC110
                    await asyncio.sleep(0)
            renewed_ttls.append(ttl)
        return "done"

    assert await lock.run(work) == "done"
    assert all(ttl > 50_000 for ttl in renewed_ttls), renewed_ttls
    assert waits[:3] == [20.0, 20.0, 20.0]  # every third of the lease
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
