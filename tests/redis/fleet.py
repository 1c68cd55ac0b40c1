"""One worker of the fleet test: it shares an Outreach user's budget through Redis.

Each worker has what a process of its own would have: its :class:`RedisRateLimiter`, its Redis
connection and its HTTP session. It sends ``requests`` GETs, ``concurrency`` at a time, each
through the limiter, and repeats a request refused with 429 (as the transport would). The aiohttp
client here stands in for the transport: this module only exercises the limiter. Everything runs
on a :class:`VirtualClock`: HTTP requests and Redis commands count as on the wire, so time moves
only while every worker is waiting.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import aiohttp
from redis.asyncio import ConnectionPool, Redis

from outreach_async._ratelimit import parse_rate_limit_headers
from outreach_async._redis_ratelimit import RedisRateLimiter
from outreach_async._retry import parse_retry_after
from tests.integration.virtual_time import VirtualClock

__all__ = ["work"]


class VirtualRedis(Redis):
    """A Redis client whose commands hold the virtual clock still until Redis answers."""

    def __init__(self, url: str, clock: VirtualClock) -> None:
        super().__init__(connection_pool=ConnectionPool.from_url(url))
        self.auto_close_connection_pool = True
        self.clock = clock

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        async with self.clock.on_the_wire():
            return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]


async def work(
    clock: VirtualClock,
    redis_url: str,
    user: str,
    url: str,
    requests: int,
    concurrency: int,
    seed: int,
) -> dict[str, int]:
    """Do the work; ``{"ok": n, "refused": n}``."""
    redis = VirtualRedis(redis_url, clock)
    limiter = RedisRateLimiter(
        redis, user, wall_clock=clock.time, sleep=clock.sleep, rng=random.Random(seed)
    )
    counts = {"ok": 0, "refused": 0}
    todo = list(range(requests))
    async with aiohttp.ClientSession(
        headers={"Authorization": "Bearer fleet"}, trace_configs=[clock.trace_config()]
    ) as session:

        async def one_request() -> int:
            await limiter.acquire()
            async with session.get(url) as answer:
                await answer.read()
                now = clock.time()
                await limiter.observe(
                    parse_rate_limit_headers(answer.headers, now),
                    status=answer.status,
                    retry_after=parse_retry_after(answer.headers.get("Retry-After"), now),
                )
                return answer.status

        async def worker() -> None:
            while todo:
                todo.pop()
                while await one_request() == 429:
                    counts["refused"] += 1
                counts["ok"] += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    await redis.aclose()
    return counts
