"""Rate-limit benchmarks (issue 4): budget utilisation and 429s, alone and as a fleet; faults.

Everything runs in real time against the sandbox on loopback, with Outreach's headers (the
two-value ``X-RateLimit-Remaining`` included) and a small window: 100 requests per 2 s.

- **Utilisation** is requests served / budget available, over the windows that lay wholly
  inside the run (the first one starts before the run and the last one ends after the work
  ran out, so neither offered its whole budget to it). Targets: >= 97% alone, >= 95% for four
  processes sharing the budget through Redis.
- **429s** are counted by the sandbox's rate limiter (per window) and by the clients' hooks.
  Target: none after the first window.
- **Faults**: 20,000 prospects listed through 5% 503, 3% HTML 502, 3% resets and 1% answers
  past the client's timeout; the record count must be exact, with no duplicates.

The four-process run starts a throwaway ``redis-server`` (``tests/redis_server.py``; or uses
``REDIS_URL``) and is skipped, with the reason, when there is none.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
import uuid
from collections import Counter
from multiprocessing.queues import Queue
from typing import Any

from outreach_async import Hooks, OutreachClient, RedisRateLimiter, ResponseEvent, RetryEvent
from outreach_async.sandbox import FaultConfig, RateLimitConfig, Sandbox
from outreach_async.sandbox.ratelimit import RateLimitState

LIMIT, WINDOW = 100, 2.0
#: Requests each run sends at once (the transport's max_concurrency)
CONCURRENCY = 16
PROCESSES = 4
#: Prospects the requests read (``GET /prospects/{id}``, cycling)
PROSPECTS = 100
FAULT_RECORDS = 20_000
#: the client's timeout in the fault run; slow answers take longer
FAULT_TIMEOUT, SLOW_DELAY = 2.0, 2.5
FAULTS = FaultConfig(
    seed=12,
    error_rate_503=0.05,
    error_rate_502_html=0.03,
    reset_rate=0.03,
    slow_rate=0.01,
    slow_delay=SLOW_DELAY,
)


def rate_limited_sandbox() -> Sandbox:
    """A sandbox allowing LIMIT requests per WINDOW seconds, as Outreach reports them."""
    config = RateLimitConfig(limit=LIMIT, window=WINDOW, two_value_remaining=True)
    return Sandbox(seed=PROSPECTS, rate_limit=config, record_requests=False)


def window_figures(state: RateLimitState) -> dict[str, Any]:
    """Utilisation of the windows wholly inside the run, and 429s per window."""
    windows = sorted(state.windows.values(), key=lambda window: window.start)
    inside = windows[1:-1]
    served_inside = sum(window.served for window in inside)
    return {
        "windows": len(windows),
        "served_per_window": [window.served for window in windows],
        "utilisation": served_inside / (LIMIT * len(inside)) if inside else None,
        "429s_first_window": windows[0].rejected if windows else 0,
        "429s_after_first_window": sum(window.rejected for window in windows[1:]),
    }


def status_counter() -> tuple[Counter[int], Hooks]:
    """Hooks that count the statuses of every answer a client gets, and the count."""
    statuses: Counter[int] = Counter()

    def count(event: ResponseEvent) -> None:
        statuses[event.status] += 1

    return statuses, Hooks(on_response=count)


async def spend(outreach: OutreachClient, requests: int) -> None:
    """Send ``requests`` GETs at once through the client (it paces them)."""
    await asyncio.gather(
        *(outreach.prospects.get(1 + index % PROSPECTS) for index in range(requests))
    )


async def bench_alone(requests: int) -> dict[str, Any]:
    """One process, the default in-process limiter."""
    statuses, hooks = status_counter()
    async with (
        rate_limited_sandbox() as sandbox,
        OutreachClient(
            sandbox.token, base_url=sandbox.base_url, max_concurrency=CONCURRENCY, hooks=hooks
        ) as outreach,
    ):
        started = time.perf_counter()
        await spend(outreach, requests)
        elapsed = time.perf_counter() - started
    return {
        "requests": requests,
        "elapsed_s": round(elapsed, 2),
        **window_figures(sandbox.rate_limit_state),
        "429s_seen_by_client": statuses[429],
    }


def fleet_worker(
    redis_url: str, user: str, base_url: str, token: str, requests: int, out: Queue[Any]
) -> None:
    """One process of the fleet (spawned): its share of the work through RedisRateLimiter."""
    out.put(asyncio.run(_fleet_work(redis_url, user, base_url, token, requests)))


async def _fleet_work(
    redis_url: str, user: str, base_url: str, token: str, requests: int
) -> dict[str, int]:
    limiter = RedisRateLimiter(redis_url, user)
    statuses, hooks = status_counter()
    try:
        async with OutreachClient(
            token,
            base_url=base_url,
            max_concurrency=CONCURRENCY,
            rate_limiter=limiter,
            hooks=hooks,
        ) as outreach:
            await spend(outreach, requests)
    finally:
        await limiter.aclose()
    return {"ok": statuses[200], "429s": statuses[429]}


async def bench_fleet(redis_url: str, requests: int) -> dict[str, Any]:
    """PROCESSES processes sharing one user's budget through Redis, ``requests`` in all."""
    context = multiprocessing.get_context("spawn")
    results: Queue[Any] = context.Queue()
    user = f"bench-{uuid.uuid4().hex}"
    async with rate_limited_sandbox() as sandbox:
        share = requests // PROCESSES
        args = (redis_url, user, sandbox.base_url, sandbox.token, share, results)
        processes = [context.Process(target=fleet_worker, args=args) for _ in range(PROCESSES)]
        started = time.perf_counter()
        try:
            for process in processes:
                process.start()
            counts = [await asyncio.to_thread(results.get, True, 300) for _ in processes]
            for process in processes:
                await asyncio.to_thread(process.join, 30)
        finally:
            for process in processes:
                if process.is_alive():
                    process.kill()
        elapsed = time.perf_counter() - started
    return {
        "processes": PROCESSES,
        "requests": share * PROCESSES,
        "served_ok": sum(count["ok"] for count in counts),
        "elapsed_s": round(elapsed, 2),
        **window_figures(sandbox.rate_limit_state),
        "429s_seen_by_clients": sum(count["429s"] for count in counts),
    }


def run_fleet(requests: int) -> dict[str, Any]:
    """The fleet benchmark on a throwaway redis-server (or REDIS_URL); skipped without one."""
    # Imported here: the helper lives with the tests (not installed with the package) and says
    # "no Redis" with pytest's skip exception.
    import pytest

    from tests.redis_server import redis_server_url

    try:
        with redis_server_url() as redis_url:
            return asyncio.run(bench_fleet(redis_url, requests))
    except pytest.skip.Exception as skipped:
        return {"skipped": str(skipped)}


async def bench_faults(page_size: int) -> dict[str, Any]:
    """List FAULT_RECORDS prospects through injected faults: is every record there once?"""
    retried: Counter[str] = Counter()

    def count(event: RetryEvent) -> None:
        retried[str(event.status or event.error)] += 1

    async with Sandbox(seed=FAULT_RECORDS, faults=FAULTS, record_requests=False) as sandbox:
        async with OutreachClient(
            sandbox.token,
            base_url=sandbox.base_url,
            timeout=FAULT_TIMEOUT,
            max_retries=8,
            hooks=Hooks(on_retry=count),
        ) as outreach:
            started = time.perf_counter()
            ids = [prospect.id async for prospect in outreach.prospects.list(page_size=page_size)]
            elapsed = time.perf_counter() - started
        expected = Counter(sandbox.store.table("prospect").records.keys())
    return {
        "page_size": page_size,
        "records": len(ids),
        "expected": len(expected),
        "duplicates": len(ids) - len(set(ids)),
        "exact": Counter(ids) == expected,
        "elapsed_s": round(elapsed, 2),
        "requests": sandbox.fault_state.requests,
        "faults_injected": dict(sandbox.fault_state.injected),
        "retries_by_cause": dict(retried),
    }


def run_all(quick: bool = False) -> dict[str, Any]:
    """Every figure of this suite; ``quick`` spans fewer windows and lists one page size."""
    requests = (3 if quick else 6) * LIMIT
    page_sizes = (1000,) if quick else (1000, 100)
    return {
        "budget": {"limit": LIMIT, "window_s": WINDOW, "concurrency": CONCURRENCY},
        "one_process": asyncio.run(bench_alone(requests)),
        "four_processes_redis": run_fleet(requests),
        "faults": [asyncio.run(bench_faults(page_size)) for page_size in page_sizes],
    }
