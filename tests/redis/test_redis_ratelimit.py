"""RedisRateLimiter against a real redis-server: one budget shared by several limiters.

The limiters run on the fake clock (Redis only stores the times it is given), so nothing waits
for real; ``test_fleet.py`` runs four workers against a rate-limited server on virtual time.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from typing import Any

import pytest
from redis.asyncio import Redis

from outreach_async._ratelimit import AdaptiveRateLimiter, RateLimiter, RateLimitInfo
from outreach_async._redis_ratelimit import RedisRateLimiter
from tests.clock import FakeClock
from tests.ports import unused_port

pytestmark = pytest.mark.redis


def limiter(client: Redis, user: str, clock: FakeClock, **kwargs: Any) -> RedisRateLimiter:
    return RedisRateLimiter(
        client, user, wall_clock=clock.time, sleep=clock.sleep, rng=random.Random(5), **kwargs
    )


async def answer(
    lim: RateLimiter,
    remaining: int | None,
    *,
    clock: FakeClock,
    reset_in: float = 3000.0,
    status: int = 200,
    retry_after: float | None = None,
) -> None:
    reset = None if remaining is None else clock.now + reset_in
    info = RateLimitInfo(None if remaining is None else 10_000, remaining, reset)
    await lim.observe(info, status=status, retry_after=retry_after)


async def requests_started(limiters: list[RedisRateLimiter], clock: FakeClock) -> int:
    """Start requests through ``limiters`` (each stays in flight: no answer comes) on a
    :func:`frozen` clock; how many got through once nothing more can move?

    A limiter lets one task at a time ask Redis; a task told to wait sleeps on the frozen clock
    holding that turn for good. So all is settled when each limiter has either parked a sleeper
    or let every one of its requests through.
    """
    started: list[RedisRateLimiter] = []
    parked = 0
    settled = asyncio.Event()
    distinct = list({id(lim): lim for lim in limiters}.values())

    def check() -> None:
        through = [lim for lim in distinct if started.count(lim) == limiters.count(lim)]
        if parked + len(through) == len(distinct):
            settled.set()

    async def park(sleeps: int) -> None:
        nonlocal parked
        parked += 1
        check()

    async def request(lim: RedisRateLimiter) -> None:
        await lim.acquire()
        started.append(lim)
        check()
        await asyncio.Event().wait()

    clock.on_sleep = park
    tasks = [asyncio.ensure_future(request(lim)) for lim in limiters]
    await settled.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return len(started)


def frozen(clock: FakeClock) -> FakeClock:
    """The same clock, but sleeping never returns: a waiter stays a waiter."""

    async def never(seconds: float) -> None:
        clock.sleeps.append(seconds)
        if clock.on_sleep is not None:
            await clock.on_sleep(len(clock.sleeps))
        await asyncio.Event().wait()

    clock.sleep = never  # type: ignore[method-assign]
    return clock


async def test_the_first_answer_teaches_every_worker(
    redis_client: Redis, user: str, fake_clock: FakeClock
) -> None:
    a = limiter(redis_client, user, fake_clock)
    # b polls (an answer elsewhere in the fleet does not wake it otherwise), on its own clock
    polls = FakeClock()
    b = limiter(redis_client, user, polls, poll_interval=0.005)
    looked_twice = asyncio.Event()

    async def on_poll(count: int) -> None:
        if count == 2:
            looked_twice.set()
        assert count < 100, "b kept waiting after the answer"

    polls.on_sleep = on_poll
    await a.acquire()  # the one probe the fleet may send while nothing is known
    waiting = asyncio.ensure_future(b.acquire())
    await looked_twice.wait()  # b looked at the shared state twice and went on waiting
    assert not waiting.done()
    assert await b.remaining_estimate() is None
    await answer(a, 9_000, clock=fake_clock)
    await waiting
    assert await b.remaining_estimate() == 9_000 - 1


async def test_two_limiters_never_exceed_the_shared_budget(
    redis_client: Redis, user: str, fake_clock: FakeClock
) -> None:
    clock = frozen(fake_clock)
    a = limiter(redis_client, user, clock, burst_ratio=1.0, safety_margin=2)
    b = limiter(redis_client, user, clock, burst_ratio=1.0, safety_margin=2)
    await a.acquire()
    await answer(a, 12, clock=clock)  # 12 left, 2 of them kept: room for 10
    assert await requests_started([a, b] * 10, clock) == 10
    assert await a.remaining_estimate() == 2


async def test_answers_from_either_limiter_correct_the_shared_estimate(
    redis_client: Redis, user: str, fake_clock: FakeClock
) -> None:
    a = limiter(redis_client, user, fake_clock, burst_ratio=1.0)
    b = limiter(redis_client, user, fake_clock, burst_ratio=1.0)
    await a.acquire()
    await answer(a, 500, clock=fake_clock)

    async def one_request(lim: RedisRateLimiter, remaining: int) -> None:
        await lim.acquire()
        await asyncio.sleep(0)
        await answer(lim, remaining, clock=fake_clock)

    # another app of the same user spends 100 meanwhile: the next answer says so
    await one_request(b, 398)
    assert await a.remaining_estimate() == 398
    await one_request(a, 397)
    assert await b.remaining_estimate() == 397


async def test_the_fleet_paces_the_budget_over_the_window(
    redis_client: Redis, user: str, fake_clock: FakeClock
) -> None:
    """1000 left for 100 s: a burst of 5% at full speed, then about 10 a second, shared."""
    a = limiter(redis_client, user, fake_clock)
    b = limiter(redis_client, user, fake_clock)
    reset = fake_clock.now + 100.0
    starts: list[float] = []
    for n in range(200):
        lim = (a, b)[n % 2]
        await lim.acquire()
        starts.append(fake_clock.elapsed)
        info = RateLimitInfo(1000, 1000 - n - 1, reset)
        await lim.observe(info, status=200, retry_after=None)
    # the probe, then the burst: the first 50 requests at once
    assert starts[50] == 0.0
    assert starts[52] > 0.0
    # the next 149 at the pace that spreads the rest (about 948 over 100 s) evenly
    assert starts[-1] == pytest.approx(149 / 9.5, rel=0.1)
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts[60:])]
    assert max(gaps) < 0.2


async def test_a_429_pauses_every_limiter_of_the_user(
    redis_client: Redis, user: str, fake_clock: FakeClock
) -> None:
    a = limiter(redis_client, user, fake_clock)
    other_clock = FakeClock()
    b = limiter(redis_client, user, other_clock)
    await a.acquire()
    await answer(a, 9_000, clock=fake_clock)
    await a.acquire()
    await answer(a, 0, clock=fake_clock, status=429, retry_after=5.0)
    await b.acquire()
    # b waited out the Retry-After (with at most 10% positive jitter) and then probed
    assert 5.0 <= other_clock.elapsed <= 5.5 + 0.01
    assert await b.remaining_estimate() is None


async def test_a_maintenance_503_pauses_the_fleet(
    redis_client: Redis, user: str, fake_clock: FakeClock
) -> None:
    a = limiter(redis_client, user, fake_clock)
    other_clock = FakeClock()
    b = limiter(redis_client, user, other_clock)
    await a.acquire()
    await answer(a, 9_000, clock=fake_clock)
    await a.acquire()
    await a.observe(RateLimitInfo(), status=503, retry_after=120.0)
    await b.acquire()
    assert 120.0 <= other_clock.elapsed <= 121.01


async def die_with_requests_in_flight(lim: RedisRateLimiter, count: int) -> None:
    """A worker starts ``count`` requests and dies before any answer: it never runs again."""
    started = asyncio.Semaphore(0)

    async def request() -> None:
        await lim.acquire()
        started.release()
        await asyncio.Event().wait()

    tasks = [asyncio.ensure_future(request()) for _ in range(count)]
    for _ in range(count):
        await started.acquire()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_dead_workers_tickets_expire(
    redis_client: Redis, user: str, fake_clock: FakeClock
) -> None:
    """The budget a dead worker reserved comes back after ticket_ttl."""
    settings: dict[str, Any] = {"burst_ratio": 1.0, "safety_margin": 2, "ticket_ttl": 30.0}
    dead = limiter(redis_client, user, fake_clock, **settings)
    await dead.acquire()
    await answer(dead, 12, clock=fake_clock)
    await die_with_requests_in_flight(dead, 10)
    survivor = limiter(redis_client, user, fake_clock, poll_interval=1.0, **settings)
    assert await survivor.remaining_estimate() == 2
    await survivor.acquire()
    assert 30.0 <= fake_clock.elapsed <= 31.0
    assert await survivor.remaining_estimate() == 11


async def test_a_dead_workers_tickets_are_dropped_by_a_newer_answer(
    redis_client: Redis, user: str, fake_clock: FakeClock
) -> None:
    settings: dict[str, Any] = {"burst_ratio": 1.0, "safety_margin": 2}
    dead = limiter(redis_client, user, fake_clock, **settings)
    survivor = limiter(redis_client, user, fake_clock, **settings)
    await dead.acquire()
    await answer(dead, 100, clock=fake_clock)
    await die_with_requests_in_flight(dead, 5)
    assert await survivor.remaining_estimate() == 95
    await survivor.acquire()
    # The server counted only what reached it: the dead worker's requests never did.
    await answer(survivor, 99, clock=fake_clock)
    assert await survivor.remaining_estimate() == 99


async def test_a_dead_probe_holds_the_fleet_only_for_probe_ttl(
    redis_client: Redis, user: str, fake_clock: FakeClock
) -> None:
    dead = limiter(redis_client, user, fake_clock, probe_ttl=4.0)
    await asyncio.ensure_future(dead.acquire())  # the probe, never answered
    survivor = limiter(redis_client, user, fake_clock, poll_interval=0.5)
    await survivor.acquire()
    assert 4.0 <= fake_clock.elapsed <= 4.5


async def test_a_cancelled_request_gives_its_ticket_back_at_once(
    redis_client: Redis, user: str, fake_clock: FakeClock
) -> None:
    lim = limiter(redis_client, user, fake_clock)
    acquired = asyncio.Event()

    async def cancelled_request() -> None:
        await lim.acquire()
        acquired.set()
        await asyncio.Event().wait()

    task = asyncio.ensure_future(cancelled_request())
    await acquired.wait()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await lim.acquire()
    assert fake_clock.elapsed == 0.0


async def test_the_window_rolls_over_for_everyone(
    redis_client: Redis, user: str, fake_clock: FakeClock
) -> None:
    a = limiter(redis_client, user, fake_clock, safety_margin=2)
    await a.acquire()
    await answer(a, 2, clock=fake_clock, reset_in=20.0)  # only the margin left
    await a.acquire()
    assert fake_clock.elapsed == pytest.approx(20.5, abs=0.01)  # Reset plus the grace
    assert await a.remaining_estimate() is None  # probing the new window


async def test_no_headers_means_no_limit(
    redis_client: Redis, user: str, fake_clock: FakeClock
) -> None:
    lim = limiter(redis_client, user, frozen(fake_clock))
    await lim.acquire()
    await answer(lim, None, clock=fake_clock)
    assert await requests_started([lim] * 50, fake_clock) == 50


async def test_from_a_url_and_closing(redis_url: str, user: str) -> None:
    lim = RedisRateLimiter(redis_url, user)
    await lim.acquire()
    await lim.observe(RateLimitInfo(100, 99, time.time() + 60), status=200, retry_after=None)
    assert await lim.remaining_estimate() == 99
    await lim.reset()
    assert await lim.remaining_estimate() is None
    await lim.aclose()
    assert isinstance(lim, RateLimiter)


async def test_without_redis_each_process_falls_back_to_its_own_limiter(
    caplog: pytest.LogCaptureFixture,
) -> None:
    waits: list[float] = []

    async def record_wait(seconds: float) -> None:
        waits.append(seconds)

    fallback = AdaptiveRateLimiter(sleep=record_wait)
    lim = RedisRateLimiter(
        f"redis://127.0.0.1:{unused_port()}/0", "nobody", fallback=fallback, sleep=record_wait
    )
    await lim.acquire()  # the fallback's probe
    await lim.observe(RateLimitInfo(100, 50, time.time() + 60), status=200, retry_after=None)
    for _ in range(5):
        await lim.acquire()
        await lim.observe(RateLimitInfo(100, 40, time.time() + 60), status=200, retry_after=None)
    assert all(wait < 1.0 for wait in waits), waits  # nobody waits on the unreachable Redis
    assert fallback.remaining_estimate == 40  # it learned from the answers
    warnings = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
    assert len(warnings) == 1
    await lim.aclose()


async def test_fail_open_false_lets_the_redis_error_through() -> None:
    from redis.exceptions import ConnectionError as RedisConnectionError

    lim = RedisRateLimiter(f"redis://127.0.0.1:{unused_port()}/0", "nobody", fail_open=False)
    with pytest.raises(RedisConnectionError):
        await lim.acquire()
    await lim.aclose()
