"""One worker of the multi-process test: it shares an Outreach user's budget through Redis.

Run in a spawned process (``multiprocessing`` "spawn"), so it imports everything itself. It sends
``requests`` GETs, ``concurrency`` at a time, each through :class:`RedisRateLimiter`, and
repeats a request refused with 429 (as the transport would). The aiohttp client here stands in
for the transport: this module only exercises the limiter.
"""

from __future__ import annotations

import asyncio
import time
from multiprocessing.queues import Queue
from typing import Any

import aiohttp

from outreach_async._ratelimit import parse_rate_limit_headers
from outreach_async._redis_ratelimit import RedisRateLimiter
from outreach_async._retry import parse_retry_after


def run(
    redis_url: str, user: str, url: str, requests: int, concurrency: int, out: Queue[Any]
) -> None:
    """Process entry point: do the work, put ``{"ok": n, "refused": n}`` on ``out``."""
    out.put(asyncio.run(_work(redis_url, user, url, requests, concurrency)))


async def _work(
    redis_url: str, user: str, url: str, requests: int, concurrency: int
) -> dict[str, int]:
    limiter = RedisRateLimiter(redis_url, user)
    counts = {"ok": 0, "refused": 0}
    todo = list(range(requests))
    async with aiohttp.ClientSession(headers={"Authorization": "Bearer fleet"}) as session:

        async def one_request() -> int:
            await limiter.acquire()
            async with session.get(url) as answer:
                await answer.read()
                now = time.time()
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
    await limiter.aclose()
    return counts
