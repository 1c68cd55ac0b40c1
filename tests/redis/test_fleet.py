"""Four processes share one Outreach user's budget through Redis, in real time.

A tiny aiohttp.web server on loopback enforces the budget with the sandbox's own rate-limit
middleware (60 requests per 2-second window, Outreach's headers, the two-value ``Remaining``),
and answers 429 beyond it. Four spawned processes, 8 requests in flight each, do a fixed amount
of work through :class:`RedisRateLimiter`: after the first window nobody is refused, and the
windows in between are used to at least 95% (the safety margin keeps 1 of 60).
"""

from __future__ import annotations

import asyncio
import multiprocessing
from typing import Any

import pytest
from aiohttp import web

from outreach_async.sandbox.ratelimit import (
    RateLimitConfig,
    RateLimitState,
    rate_limit_middleware,
)
from tests.redis import fleet

pytestmark = [pytest.mark.redis, pytest.mark.slow]

LIMIT, WINDOW = 60, 2.0
PROCESSES, REQUESTS_EACH, CONCURRENCY = 4, 40, 8


async def _ping(request: web.Request) -> web.Response:
    return web.json_response({"data": []})


async def test_four_processes_share_one_budget_without_429s(redis_url: str, user: str) -> None:
    config = RateLimitConfig(limit=LIMIT, window=WINDOW, two_value_remaining=True)
    state = RateLimitState()
    app = web.Application(middlewares=[rate_limit_middleware(config, state=state)])
    app.router.add_get("/api/v2/ping", _ping)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    url = f"http://{host}:{port}/api/v2/ping"
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.queues.Queue[Any] = context.Queue()
    args = (redis_url, user, url, REQUESTS_EACH, CONCURRENCY, results)
    processes = [context.Process(target=fleet.run, args=args) for _ in range(PROCESSES)]
    try:
        for process in processes:
            process.start()
        counts = [await asyncio.to_thread(results.get, True, 60) for _ in processes]
        for process in processes:
            await asyncio.to_thread(process.join, 10)
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
        await runner.cleanup()

    assert sum(c["ok"] for c in counts) == PROCESSES * REQUESTS_EACH
    windows = sorted(state.windows.values(), key=lambda w: w.start)
    report = [(w.served, w.rejected) for w in windows]
    assert sum(w.rejected for w in windows[1:]) == 0, report
    assert sum(c["refused"] for c in counts) == sum(w.rejected for w in windows)
    middle = windows[1:-1]
    assert middle, f"the run should span more than two windows: {report}"
    assert all(w.served >= 0.95 * LIMIT for w in middle), report
