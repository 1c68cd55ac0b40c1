"""Budgets: each tenant spends its ``rate_limit_user``'s budget, and only that, on virtual time.

The fleet's job (:func:`sync_tenant_resource`) syncs tenants with more work than one window's
budget from sandboxes that enforce a small per-user limit (``RateLimitConfig``: 40 requests per
10-second window, Outreach's headers, 429 beyond). The sandboxes, the job's client and its
:class:`~outreach_async.RedisRateLimiter` share one :class:`VirtualClock` (Redis commands hold
it still, like requests on the wire), so windows pass without waiting. What each sandbox served
per window is read from its counters: after the first window no 429, and every full window
(between the first and the last) used to at least 95% (the limiter's safety margin keeps 1 of
40 back).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import tomllib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from redis.asyncio import Redis

from outreach_async.fleet import JobClocks, SyncOutcome, parse_config, sync_tenant_resource
from outreach_async.sandbox import Sandbox
from outreach_async.sandbox.ratelimit import RateLimitConfig, WindowCounts
from tests.export.helpers import ids_of, stored_ids
from tests.fleet.conftest import fleet_toml
from tests.integration.virtual_time import WALL_EPOCH, VirtualClock
from tests.redis.fleet import VirtualRedis

pytestmark = pytest.mark.redis

LIMIT, WINDOW = 40, 10.0
#: 1 request per 10 records: 1,200 records are 120+ requests, three windows' budget and more
RECORDS, PAGE_SIZE = 1200, 10
#: the Redis hashes of the budgets, one per Outreach user (RedisRateLimiter's namespace)
BUDGETS = "outreach:ratelimit"


@contextlib.asynccontextmanager
async def _budgeted_sandbox(clock: VirtualClock, random_seed: int) -> AsyncIterator[Sandbox]:
    async with Sandbox(
        seed=RECORDS,
        random_seed=random_seed,
        rate_limit=RateLimitConfig(limit=LIMIT, window=WINDOW),
        clock=clock.time,
        sleep=clock.server_sleep,
    ) as sandbox:
        yield sandbox


async def _sync(
    clock: VirtualClock,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
    tenants: Sequence[tuple[str, Sandbox]],
    *,
    shared_user: str | None = None,
) -> list[SyncOutcome]:
    """Sync the prospects of every tenant at once with the fleet's job, on ``clock``."""
    text = fleet_toml(
        redis_url,
        namespace,
        tmp_path,
        [(name, sandbox.base_url, sandbox.token) for name, sandbox in tenants],
        resources=["prospects"],
        extra=f"page_size = {PAGE_SIZE}",
    )
    if shared_user is not None:  # every tenant spends the budget of one Outreach user
        for name, _ in tenants:
            text = text.replace(f'"{namespace}-{name}"', f'"{shared_user}"')
    config = parse_config(tomllib.loads(text))
    clocks = JobClocks(
        wall_clock=clock.time,
        monotonic=clock.time,
        sleep=clock.sleep,
        timer=clock.timeout,
        rng=random.Random(0),
    )
    redis = VirtualRedis(redis_url, clock)
    try:
        async with clock.running():
            return await asyncio.gather(
                *(
                    sync_tenant_resource(config, name, "prospects", redis, clocks=clocks)
                    for name, _ in tenants
                )
            )
    finally:
        await redis.aclose()


def _windows(sandbox: Sandbox) -> list[WindowCounts]:
    return sorted(sandbox.rate_limit_state.windows.values(), key=lambda w: w.start)


def _assert_budget_spent_well(sandbox: Sandbox) -> None:
    """No 429 after the first window; each full window used to at least 95%."""
    windows = _windows(sandbox)
    report = [(w.start - WALL_EPOCH, w.served, w.rejected) for w in windows]
    assert sum(w.rejected for w in windows[1:]) == 0, report
    full = windows[1:-1]
    assert len(full) >= 2, f"more work than budget spans several windows: {report}"
    assert all(w.served >= 0.95 * LIMIT for w in full), report


async def test_a_tenant_with_more_work_than_budget_uses_it_to_95_percent_without_429(
    redis_url: str, namespace: str, tmp_path: Path
) -> None:
    clock = VirtualClock()
    async with _budgeted_sandbox(clock, 1) as acme:
        [outcome] = await _sync(clock, redis_url, namespace, tmp_path, [("acme", acme)])
    assert outcome.state == "ok", outcome
    assert outcome.records == RECORDS
    counts = ids_of(tmp_path / "acme" / "prospects.jsonl")
    assert set(counts) == stored_ids(acme)
    assert set(counts.values()) == {1}
    _assert_budget_spent_well(acme)


async def test_tenants_of_one_rate_limit_user_share_its_one_budget(
    redis_url: str, redis_client: Redis, namespace: str, tmp_path: Path
) -> None:
    """Two tenants acting for the same Outreach user (one sandbox, one token) sync at once:
    together they stay inside the user's one budget and use it, through one shared limiter."""
    clock = VirtualClock()
    user = f"{namespace}-sync-user"
    async with _budgeted_sandbox(clock, 2) as org:
        outcomes = await _sync(
            clock,
            redis_url,
            namespace,
            tmp_path,
            [("east", org), ("west", org)],
            shared_user=user,
        )
    assert [o.state for o in outcomes] == ["ok", "ok"], outcomes
    for name in ("east", "west"):
        assert set(ids_of(tmp_path / name / "prospects.jsonl")) == stored_ids(org)
        assert not await redis_client.exists(f"{BUDGETS}:{namespace}-{name}")
    assert await redis_client.exists(f"{BUDGETS}:{user}")
    _assert_budget_spent_well(org)


async def test_tenants_of_different_users_each_spend_a_whole_budget_of_their_own(
    redis_url: str, redis_client: Redis, namespace: str, tmp_path: Path
) -> None:
    """Two tenants with their own users, at once: each org serves its full budget per window
    (a shared budget would give each about half)."""
    clock = VirtualClock()
    async with _budgeted_sandbox(clock, 3) as one, _budgeted_sandbox(clock, 4) as two:
        outcomes = await _sync(clock, redis_url, namespace, tmp_path, [("one", one), ("two", two)])
    assert [o.state for o in outcomes] == ["ok", "ok"], outcomes
    assert [o.records for o in outcomes] == [RECORDS, RECORDS]
    for sandbox in (one, two):
        _assert_budget_spent_well(sandbox)
    for name in ("one", "two"):
        assert await redis_client.exists(f"{BUDGETS}:{namespace}-{name}")
