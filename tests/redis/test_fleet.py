"""Four workers share one Outreach user's budget through Redis, on virtual time.

A tiny aiohttp.web server on loopback enforces the budget with the sandbox's own rate-limit
middleware (60 requests per 2-second window, Outreach's headers, the two-value ``Remaining``),
and answers 429 beyond it. Four workers (each with its own limiter, Redis connection and HTTP
session, as four processes would have), 8 requests in flight each, do a fixed amount of work
through :class:`RedisRateLimiter`: after the first window nobody is refused, and the windows in
between are used to at least 95% (the safety margin keeps 1 of 60). Server and workers share
one :class:`VirtualClock`, so windows of seconds pass without waiting; real processes in real
time are ``benchmarks/bench_ratelimit.py``'s business.
"""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from outreach_async.sandbox.ratelimit import (
    RateLimitConfig,
    RateLimitState,
    rate_limit_middleware,
)
from tests.integration.virtual_time import WALL_EPOCH, VirtualClock
from tests.redis import fleet

pytestmark = pytest.mark.redis

LIMIT, WINDOW = 60, 2.0
WORKERS, REQUESTS_EACH, CONCURRENCY = 4, 40, 8


async def _ping(request: web.Request) -> web.Response:
    return web.json_response({"data": []})


async def test_four_workers_share_one_budget_without_429s(redis_url: str, user: str) -> None:
    clock = VirtualClock()
    config = RateLimitConfig(limit=LIMIT, window=WINDOW, two_value_remaining=True)
    state = RateLimitState()
    app = web.Application(middlewares=[rate_limit_middleware(config, clock.time, state=state)])
    app.router.add_get("/api/v2/ping", _ping)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    url = f"http://{host}:{port}/api/v2/ping"
    try:
        async with clock.running():
            counts = await asyncio.gather(
                *(
                    fleet.work(clock, redis_url, user, url, REQUESTS_EACH, CONCURRENCY, seed)
                    for seed in range(WORKERS)
                )
            )
    finally:
        await runner.cleanup()

    assert sum(c["ok"] for c in counts) == WORKERS * REQUESTS_EACH
    windows = sorted(state.windows.values(), key=lambda w: w.start)
    report = [(w.start - WALL_EPOCH, w.served, w.rejected) for w in windows]
    assert sum(w.rejected for w in windows[1:]) == 0, report
    assert sum(c["refused"] for c in counts) == sum(w.rejected for w in windows)
    middle = windows[1:-1]
    assert middle, f"the run should span more than two windows: {report}"
    assert all(w.served >= 0.95 * LIMIT for w in middle), report
    # the work needs about three windows; paced within them, not spread over many
    assert clock.elapsed <= (WORKERS * REQUESTS_EACH / LIMIT + 1) * WINDOW, report
