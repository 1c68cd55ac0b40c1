"""RedisTokenStore: one org's OAuth tokens shared by worker processes, against a real
redis-server and the sandbox's OAuth server with strict rotation (a spent refresh token is
``invalid_grant``), issue 14.

The sandbox's clock is moved by hand between rounds (past the 60 s mint throttle); the lock's
lease is judged by the store's injected clock, so no test waits for it to run out.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from outreach_async import OAuth2Refresh, OutreachClient, RedisTokenStore, TokenSet, TokenStoreError
from outreach_async.sandbox import Sandbox
from tests.clock import FakeClock
from tests.ports import unused_port
from tests.sandbox_oauth import CLIENT_ID, CLIENT_SECRET, token_posts

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def rotating_sandbox() -> AsyncIterator[tuple[Sandbox, FakeClock]]:
    # near the real time: the workers' clocks are real until a round sets them
    clock = FakeClock(time.time())
    async with Sandbox(clock=clock, seed=4) as sandbox:
        sandbox.authority.strict_rotation = True  # a refresh token works once
        yield sandbox, clock


async def logged_in(sandbox: Sandbox, store: RedisTokenStore) -> TokenSet:
    """Save a login's token set in the store, as ``auth login`` would have."""
    answer: dict[str, Any] = sandbox.authority.grant(
        {
            "grant_type": "refresh_token",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "refresh_token": sandbox.authority.issue_refresh_token(),
        }
    )
    tokens = TokenSet(
        answer["access_token"], answer["refresh_token"], sandbox.authority.clock() + 7200
    )
    await store.save(tokens)
    return tokens


async def start_worker(*arguments: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.redis.token_worker",
        *arguments,
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def read_line(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 60)  # a guard against a hang
    if not line:
        assert process.stderr is not None
        raise AssertionError((await process.stderr.read()).decode())
    return line.decode().strip()


async def test_four_workers_hit_401_at_once_and_the_server_sees_one_refresh_per_rotation(
    rotating_sandbox: tuple[Sandbox, FakeClock], redis_url: str
) -> None:
    sandbox, clock = rotating_sandbox
    tenant = f"acme-{uuid.uuid4().hex}"
    store = RedisTokenStore(redis_url, tenant)
    current = await logged_in(sandbox, store)
    workers = [
        await start_worker("serve", redis_url, tenant, sandbox.base_url, sandbox.token_url)
        for _ in range(4)
    ]
    try:
        assert [await read_line(w) for w in workers] == ["ready"] * 4
        for _rotation in range(3):
            clock.now += 61  # past the mint throttle
            sandbox.authority.expire(current.access_token)  # every worker's next request: 401
            posts = token_posts(sandbox)
            for worker in workers:
                assert worker.stdin is not None
                worker.stdin.write(f"go {clock.now!r}\n".encode())
            for worker in workers:
                assert worker.stdin is not None
                await worker.stdin.drain()

            assert [await read_line(w) for w in workers] == ["4"] * 4
            assert token_posts(sandbox) == posts + 1  # one refresh, so no invalid_grant
            saved = await store.load()
            assert saved is not None
            assert saved.refresh_token != current.refresh_token  # rotated, and saved
            assert saved.refresh_token in sandbox.authority.refresh_tokens
            assert sandbox.authority.is_valid(saved.access_token)
            current = saved
    finally:
        for worker in workers:
            if worker.stdin is not None:
                worker.stdin.close()
        for worker in workers:
            try:
                await asyncio.wait_for(worker.wait(), 30)
            except TimeoutError:
                worker.kill()
                await worker.wait()
    assert [w.returncode for w in workers] == [0] * 4
    assert sandbox.authority.throttled_count == 0


async def test_a_worker_killed_holding_the_lock_does_not_lock_the_tenant_out(
    rotating_sandbox: tuple[Sandbox, FakeClock], redis_url: str
) -> None:
    sandbox, clock = rotating_sandbox
    tenant = f"acme-{uuid.uuid4().hex}"
    seeded = await logged_in(sandbox, RedisTokenStore(redis_url, tenant))
    stuck = await start_worker("hold", redis_url, tenant)
    assert await read_line(stuck) == "held"
    os.kill(stuck.pid, signal.SIGKILL)
    await stuck.wait()

    now_store = RedisTokenStore(redis_url, tenant)
    async with now_store.renewal(wait=False) as held:
        assert not held  # the dead worker's lease still runs
    later = RedisTokenStore(redis_url, tenant, clock=lambda: time.time() + now_store.lease + 1)
    clock.now += 61
    sandbox.authority.expire(seeded.access_token)

    provider = await OAuth2Refresh.from_store(
        later, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, token_url=sandbox.token_url
    )
    async with OutreachClient(provider, base_url=sandbox.base_url) as outreach:
        prospects = await asyncio.wait_for(outreach.prospects.list().collect(), 60)

    assert len(prospects) == 4
    assert token_posts(sandbox) == 1
    saved = await later.load()
    assert saved is not None
    assert saved.refresh_token in sandbox.authority.refresh_tokens
    async with now_store.renewal(wait=False) as held:
        assert held  # released after the refresh


async def test_an_early_refresh_adopts_what_another_worker_saved_and_never_waits_for_the_lock(
    rotating_sandbox: tuple[Sandbox, FakeClock], redis_url: str
) -> None:
    sandbox, clock = rotating_sandbox
    tenant = f"acme-{uuid.uuid4().hex}"
    store = RedisTokenStore(redis_url, tenant, clock=clock)
    seeded = await logged_in(sandbox, store)
    provider = await OAuth2Refresh.from_store(
        store,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        token_url=sandbox.token_url,
        clock=clock,
    )
    async with OutreachClient(provider, base_url=sandbox.base_url) as outreach:
        clock.now += 7200 - 100  # inside the refresh margin: an early refresh is due
        async with store.renewal():  # another worker is renewing right now
            assert len(await outreach.prospects.list().collect()) == 4
            await provider.settle()  # the early attempt saw the lock taken and gave up at once
        assert token_posts(sandbox) == 0
        assert await provider.token() == seeded.access_token

        clock.now += 61
        other = await logged_in(sandbox, store)  # that worker's refresh, saved in the store
        assert len(await outreach.prospects.list().collect()) == 4
        await provider.settle()
        assert await provider.token() == other.access_token  # adopted, not refreshed again
    assert token_posts(sandbox) == 0


async def test_a_live_holder_extends_its_lease_and_only_its_own_lock_is_released(
    redis_url: str, redis_client: Redis
) -> None:
    now = [time.time()]
    extensions: list[float] = []

    async def sleep(seconds: float) -> None:
        if extensions:  # one extension is enough to see: later ones wait to be cancelled
            await asyncio.Event().wait()
        extensions.append(seconds)
        now[0] += seconds

    tenant = f"acme-{uuid.uuid4().hex}"
    holder = RedisTokenStore(redis_url, tenant, lease=30, clock=lambda: now[0], sleep=sleep)
    other = RedisTokenStore(redis_url, tenant, lease=30, clock=lambda: now[0])
    started = now[0]
    async with holder.renewal() as held:
        assert held
        for _ in range(1000):  # until the keeper's extension has reached Redis
            await asyncio.sleep(0)
            value = await redis_client.get(holder.lock_key)
            text = value.decode() if isinstance(value, bytes) else str(value)
            if value is not None and float(text.split("|")[1]) > started + 30:
                break
        assert extensions == [10.0]  # a third of the lease
        now[0] = started + 35  # past the first lease, inside the extended one
        async with other.renewal(wait=False) as taken:
            assert not taken
    async with other.renewal(wait=False) as taken:
        assert taken  # released by its holder


async def test_a_seed_is_stored_once_never_over_rotated_tokens_and_a_new_one_replaces_them(
    redis_client: Redis,
) -> None:
    tenant = f"acme-{uuid.uuid4().hex}"
    stores = [RedisTokenStore(redis_client, tenant) for _ in range(8)]  # 8 workers at once
    configured = TokenSet("", "configured-refresh-token")
    seeded = await asyncio.gather(*(s.seed(configured, "fp-1") for s in stores))
    assert sorted(seeded) == [False] * 7 + [True]
    assert await stores[0].load() == configured

    rotated = TokenSet("access", "rotated-refresh-token", 123.0)
    await stores[1].save(rotated)  # a refresh spent the configured token
    assert not await stores[2].seed(configured, "fp-1")  # the unchanged config
    assert await stores[0].load() == rotated

    edited = TokenSet("", "new-refresh-token")  # after a revocation, a new login
    replaced = await asyncio.gather(*(s.seed(edited, "fp-2") for s in stores))
    assert sorted(replaced) == [False] * 7 + [True]
    assert not await stores[3].seed(configured, "fp-1")  # an older config never comes back
    assert await stores[0].load() == edited
    assert await redis_client.smembers(stores[0].seeds_key) == {b"fp-1", b"fp-2"}


async def test_an_unreachable_redis_is_a_token_store_error_naming_the_store() -> None:
    store = RedisTokenStore(f"redis://127.0.0.1:{unused_port()}/0", "acme")
    tokens = TokenSet("access", "refresh", 0.0)
    attempts: dict[str, Callable[[], Awaitable[object]]] = {
        "reading the token set": store.load,
        "saving the token set": lambda: store.save(tokens),
        "seeding the token set": lambda: store.seed(tokens, "digest"),
    }
    for doing, attempt in attempts.items():
        with pytest.raises(TokenStoreError, match=f"acme.*{doing} failed") as caught:
            await attempt()
        assert type(caught.value.__cause__).__module__.startswith("redis")
    with pytest.raises(TokenStoreError, match="taking the renewal lock failed"):
        async with store.renewal():
            pass
    # a client built on it fails typed, before any API request
    with pytest.raises(TokenStoreError, match="reading the token set failed"):
        await OAuth2Refresh.from_store(store, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
