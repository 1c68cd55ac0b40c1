"""Real worker processes on a real Redis, syncing sandboxes on loopback.

Each test starts ``outreach-async fleet worker`` processes and runs ``fleet sync --wait`` as
a user would, then reads the outputs: every record of every tenant x resource exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yarl
from redis.asyncio import Redis

from outreach_async import OutreachClient, Prospect
from outreach_async._wire import format_datetime
from outreach_async.fleet import FleetKeys, StatusStore
from outreach_async.fleet._tokens import tenant_token_store
from outreach_async.sandbox import Sandbox
from outreach_async.sandbox.faults import FaultConfig
from outreach_async.sandbox.ratelimit import RateLimitConfig
from tests.export.helpers import ids_of, stored_ids
from tests.fleet.conftest import TenantSpec, WriteFleet
from tests.fleet.processes import fleet, run_fleet, wait_for, worker
from tests.sandbox_oauth import oauth_seed, reused_refresh_tokens, token_posts

pytestmark = [pytest.mark.redis, pytest.mark.slow]

#: low, so a killed worker's job is handed over quickly (the default is 60 s)
FAST_HANDOVER = 'heartbeat_timeout = "1s"\nlock_lease = "1s"\nretry_backoff = "100ms"'


def _exactly_once(path: Path, sandbox: Sandbox, type_: str) -> None:
    counts = ids_of(path)
    assert set(counts) == stored_ids(sandbox, type_), path
    assert set(counts.values()) == {1}, path


async def test_two_workers_sync_every_tenant_x_resource_exactly_once(
    write_fleet: WriteFleet, redis_client: Redis, namespace: str, tmp_path: Path
) -> None:
    async with Sandbox(seed=60) as acme, Sandbox(seed=40, random_seed=3) as globex:
        tenants = [("acme", acme.base_url, acme.token), ("globex", globex.base_url, globex.token)]
        config = write_fleet(tenants, worker=FAST_HANDOVER)
        async with (
            worker(config, tmp_path / "w1.log") as one,
            worker(config, tmp_path / "w2.log") as two,
        ):
            status, out, err = await run_fleet("sync", "--config", str(config), "--wait")
            assert status == 0, (out, err)
            assert "queued 4 syncs" in out
            again, out_again, _ = await run_fleet("sync", "--config", str(config), "--wait")
            assert again == 0
            assert "acme prospects: ok (0 records)" in out_again
        assert one.returncode == two.returncode == 0  # SIGTERM stops a worker cleanly
        for sandbox, name in ((acme, "acme"), (globex, "globex")):
            _exactly_once(tmp_path / name / "prospects.jsonl", sandbox, "prospect")
            _exactly_once(tmp_path / name / "accounts.jsonl", sandbox, "account")
        shown, listing, _ = await run_fleet("status", "--config", str(config), "--json")
        assert shown == 0
        rows = {(r["tenant"], r["resource"]): r for r in json.loads(listing)}
        assert rows[("acme", "prospects")]["state"] == "ok"
        assert rows[("acme", "prospects")]["records"] == 60
        assert rows[("globex", "accounts")]["records"] == len(stored_ids(globex, "account"))
        assert all(r["lag"] is not None and r["last_error"] is None for r in rows.values())
        # each tenant spent its own budget: one rate-limit key per rate_limit_user
        for name in ("acme", "globex"):
            assert await redis_client.exists(f"outreach:ratelimit:{namespace}-{name}")


async def test_a_worker_killed_mid_job_loses_nothing_and_another_takes_the_job_up(
    write_fleet: WriteFleet, redis_client: Redis, namespace: str, tmp_path: Path
) -> None:
    slow = FaultConfig(latency=0.1)  # 40 pages of 100 take seconds: the kill lands mid-job
    async with Sandbox(seed=4000, faults=slow) as acme:
        config = write_fleet(
            [("acme", acme.base_url, acme.token)],
            resources=["prospects"],
            worker=FAST_HANDOVER,
            extra="page_size = 100",  # 4 pages of 1000 could finish between two looks, loaded
        )
        statuses = StatusStore(redis_client, FleetKeys(namespace))
        out = tmp_path / "acme" / "prospects.jsonl"
        async with fleet("sync", "--config", str(config), "--wait") as waiting:
            async with worker(config, tmp_path / "w1.log") as first:

                async def mid_job() -> bool:
                    state = (await statuses.read("acme", "prospects")).state
                    return state == "running" and out.exists() and out.stat().st_size > 0

                await wait_for(mid_job)
                first.send_signal(signal.SIGKILL)
                await first.wait()
            assert (await statuses.read("acme", "prospects")).state == "running"
            async with worker(config, tmp_path / "w2.log"):
                await asyncio.wait_for(waiting.wait(), 120)
            assert waiting.returncode == 0
    _exactly_once(out, acme, "prospect")
    assert (await statuses.read("acme", "prospects")).records == 4000


async def test_tenants_whose_api_fails_or_hangs_do_not_stall_the_others(
    write_fleet: WriteFleet, redis_client: Redis, namespace: str, tmp_path: Path
) -> None:
    """One worker, two jobs at once, four tenants: one answers 503 to everything, one hangs
    past the tenants' timeout, one answers 429 to everything (a budget spent elsewhere: no
    request of this user is ever served). The good tenant's sync ends ``ok`` with every record,
    and the 429 storm paused only its own user's budget."""
    broken = FaultConfig(error_rate_503=1.0)
    hanging = FaultConfig(slow_rate=1.0, slow_delay=5.0)  # past the tenants' 1 s timeout
    spent = RateLimitConfig(limit=0, window=1.0)  # every request 429, Retry-After: 1
    async with (
        Sandbox(seed=30) as good,
        Sandbox(seed=30, faults=broken) as bad,
        Sandbox(seed=30, faults=hanging) as stuck,
        Sandbox(seed=30, rate_limit=spent) as storm,
    ):
        tenants = [
            ("bad", bad.base_url, bad.token),
            ("stuck", stuck.base_url, stuck.token),
            ("storm", storm.base_url, storm.token),
            ("good", good.base_url, good.token),
        ]
        config = write_fleet(
            tenants,
            resources=["prospects"],
            worker=FAST_HANDOVER + "\nmax_retries = 1\nthreads = 2",
            extra='timeout = "1s"',
        )
        async with worker(config, tmp_path / "w1.log"):
            status, out, err = await run_fleet("sync", "--config", str(config), "--wait")
    assert status == 3, (out, err)
    assert "good prospects: ok (30 records)" in out
    assert "bad prospects: error (ServerError" in out
    assert "stuck prospects: error (RequestTimeout" in out
    assert "storm prospects: error (RateLimitError" in out
    assert "failed: bad, storm, stuck" in err
    _exactly_once(tmp_path / "good" / "prospects.jsonl", good, "prospect")
    assert storm.rate_limit_state.served == 0
    assert storm.rate_limit_state.rejected >= 2  # tried again, after the pause
    budgets = "outreach:ratelimit"
    assert await redis_client.hget(f"{budgets}:{namespace}-storm", "pause_until") is not None
    for other in ("good", "bad", "stuck"):
        assert await redis_client.hget(f"{budgets}:{namespace}-{other}", "pause_until") is None


async def test_a_revoked_token_fails_with_auth_and_a_new_one_resumes(
    write_fleet: WriteFleet, tmp_path: Path
) -> None:
    async with Sandbox(seed=20) as acme:
        config = write_fleet(
            [("acme", acme.base_url, "revoked-token")],
            resources=["prospects"],
            worker=FAST_HANDOVER,
        )
        async with worker(config, tmp_path / "w1.log"):
            status, out, _ = await run_fleet("sync", "--config", str(config), "--wait")
            assert status == 3
            assert "acme prospects: auth (AuthenticationError" in out
            requests = len(acme.requests)
            status, out, _ = await run_fleet("sync", "--config", str(config), "--wait")
            assert status == 3
            assert len(acme.requests) == requests  # held back: no request sent
            config.write_text(config.read_text().replace("revoked-token", acme.token))
            status, out, _ = await run_fleet("sync", "--config", str(config), "--wait")
            assert status == 0, out
            assert "acme prospects: ok (20 records)" in out


async def test_oauth_tenants_on_two_workers_a_refused_one_shows_auth_and_a_new_token_resumes(
    write_fleet: WriteFleet, tmp_path: Path
) -> None:
    async with Sandbox(seed=40) as good, Sandbox(seed=30, random_seed=2) as refused:
        for org in (good, refused):
            org.authority.strict_rotation = True  # a refresh token works once
        spent = oauth_seed(refused)
        refused.authority.expire(spent.refresh_token)  # revoked before the fleet starts
        config = write_fleet(
            [("good", good.base_url, oauth_seed(good)), ("refused", refused.base_url, spent)],
            worker=FAST_HANDOVER,
        )
        async with worker(config, tmp_path / "w1.log"), worker(config, tmp_path / "w2.log"):
            status, out, err = await run_fleet("sync", "--config", str(config), "--wait")
            assert status == 3, (out, err)
            assert "good prospects: ok (40 records)" in out
            assert "refused accounts: auth (AuthenticationError: POST " in out
            assert "token refresh failed (invalid_grant" in out
            assert err.strip().endswith("failed: refused")
            shown, listing, _ = await run_fleet("status", "--config", str(config), "--json")
            assert shown == 0
            rows = {(r["tenant"], r["resource"]): r for r in json.loads(listing)}
            assert rows[("good", "accounts")]["state"] == "ok"
            assert rows[("good", "prospects")]["records"] == 40
            assert rows[("refused", "prospects")]["state"] == "auth"
            assert "invalid_grant" in rows[("refused", "prospects")]["last_error"]

            seen = len(refused.requests)
            status, _, _ = await run_fleet("sync", "--config", str(config), "--wait")
            assert status == 3
            assert len(refused.requests) == seen  # held back: not even the token endpoint
            # a new login's refresh token in the config: the tenant resumes
            fresh = refused.authority.issue_refresh_token()
            config.write_text(config.read_text().replace(spent.refresh_token, fresh))
            status, out, err = await run_fleet("sync", "--config", str(config), "--wait")
            assert status == 0, (out, err)
            assert "refused prospects: ok (30 records)" in out
    for org, name in ((good, "good"), (refused, "refused")):
        _exactly_once(tmp_path / name / "prospects.jsonl", org, "prospect")
        _exactly_once(tmp_path / name / "accounts.jsonl", org, "account")
    assert token_posts(good) == good.authority.mint_count == 1  # two workers, one refresh
    assert reused_refresh_tokens(good) == []
    # the revoked token was refused once per resource (each is held back on its own, as with
    # a static token); the new one was spent once, by one of the two resources' syncs
    assert reused_refresh_tokens(refused) == [spent.refresh_token]
    assert token_posts(refused) == 3
    assert refused.authority.mint_count == 1


async def test_proof_three_workers_eight_tenants_one_killed_every_record_once_no_429(
    write_fleet: WriteFleet, redis_client: Redis, namespace: str, tmp_path: Path
) -> None:
    """The issue's proof: Redis, 3 worker processes, 8 tenants (each a sandbox org with its own
    token and budget; 3 of them OAuth tenants whose refresh tokens rotate and work once);
    ``fleet sync --wait``; one worker SIGKILLed mid-run and another started. Every tenant's
    outputs hold each record exactly once; no 429 after a budget's first window; no token
    reused: each OAuth org's server saw one refresh, however many workers synced it.
    """
    budget = RateLimitConfig(limit=10, window=1.0)
    async with contextlib.AsyncExitStack() as stack:
        orgs = [
            await stack.enter_async_context(
                Sandbox(
                    seed=300, random_seed=i, rate_limit=budget, faults=FaultConfig(latency=0.02)
                )
            )
            for i in range(8)
        ]
        names = [f"org{i}" for i in range(8)]
        oauth_orgs = orgs[::3]  # org0, org3, org6
        for org in oauth_orgs:
            org.authority.strict_rotation = True
        tenants: list[TenantSpec] = [
            (n, o.base_url, oauth_seed(o) if o in oauth_orgs else o.token)
            for n, o in zip(names, orgs, strict=True)
        ]
        config = write_fleet(
            tenants,
            worker=FAST_HANDOVER + "\nthreads = 3",
            extra="page_size = 20",
        )
        statuses = StatusStore(redis_client, FleetKeys(namespace))
        async with (
            worker(config, tmp_path / "w1.log") as doomed,
            worker(config, tmp_path / "w2.log"),
            worker(config, tmp_path / "w3.log"),
            fleet("sync", "--config", str(config), "--wait") as waiting,
        ):

            async def oauth_settled() -> bool:
                """Every OAuth org has rotated once and the fleet saved the new token: no
                refresh in flight. (Under strict rotation a worker killed between the server's
                rotation and the save loses the new token, which no client can avoid: see the
                README. This proof kills a worker mid-sync, not mid-refresh.)"""
                for name, org in zip(names, orgs, strict=True):
                    if org in oauth_orgs:
                        saved = await tenant_token_store(redis_client, namespace, name).load()
                        rotated = org.authority.mint_count >= 1
                        if not rotated or saved is None:
                            return False
                        if saved.refresh_token not in org.authority.refresh_tokens:
                            return False
                return True

            async def mid_run() -> bool:  # the doomed worker runs a job
                current = await statuses.read_all(_targets(names))
                return await oauth_settled() and any(
                    s.state == "running" and s.worker == f"{socket.gethostname()}:{doomed.pid}"
                    for s in current
                )

            await wait_for(mid_run)
            doomed.send_signal(signal.SIGKILL)
            await doomed.wait()
            async with worker(config, tmp_path / "w4.log"):
                await asyncio.wait_for(waiting.wait(), 120)
            assert waiting.returncode == 0
        for name, org in zip(names, orgs, strict=True):
            _exactly_once(tmp_path / name / "prospects.jsonl", org, "prospect")
            _exactly_once(tmp_path / name / "accounts.jsonl", org, "account")
            windows = sorted(org.rate_limit_state.windows.values(), key=lambda w: w.start)
            assert len(windows) > 1, name  # more work than one window's budget
            assert sum(w.rejected for w in windows[1:]) == 0, (name, windows)
        for org in oauth_orgs:
            assert token_posts(org) == org.authority.mint_count == 1  # no invalid_grant, no 429
            assert reused_refresh_tokens(org) == []


def _targets(names: list[str]) -> list[tuple[str, str]]:
    return [(n, r) for n in names for r in ("prospects", "accounts")]


async def test_a_finished_sync_schedules_its_next_run_after_every(
    write_fleet: WriteFleet, redis_client: Redis, namespace: str, tmp_path: Path
) -> None:
    async with Sandbox(seed=10) as acme:
        config = write_fleet(
            [("acme", acme.base_url, acme.token)],
            resources=["prospects"],
            worker=FAST_HANDOVER,
            every="1s",
        )
        statuses = StatusStore(redis_client, FleetKeys(namespace))
        async with worker(config, tmp_path / "w1.log"):
            status, out, _ = await run_fleet("sync", "--config", str(config), "--wait")
            assert status == 0, out
            async with OutreachClient(acme.token, base_url=acme.base_url) as outreach:
                await outreach.prospects.create(Prospect(first_name="Later"))

            async def picked_up() -> bool:  # by a scheduled run: nobody asked again
                return (await statuses.read("acme", "prospects")).records == 11

            await wait_for(picked_up)
    _exactly_once(tmp_path / "acme" / "prospects.jsonl", acme, "prospect")


async def test_sigterm_lets_a_running_sync_finish_then_the_worker_exits_0(
    write_fleet: WriteFleet, redis_client: Redis, namespace: str, tmp_path: Path
) -> None:
    async with Sandbox(seed=1500, faults=FaultConfig(latency=0.1)) as acme:
        config = write_fleet(
            [("acme", acme.base_url, acme.token)],
            resources=["prospects"],
            worker=FAST_HANDOVER,
            extra="page_size = 100",
        )
        statuses = StatusStore(redis_client, FleetKeys(namespace))
        async with (
            worker(config, tmp_path / "w1.log") as stopping,
            fleet("sync", "--config", str(config), "--wait") as waiting,
        ):

            async def running() -> bool:
                return (await statuses.read("acme", "prospects")).state == "running"

            await wait_for(running)
            stopping.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(stopping.wait(), 120) == 0
            assert (await statuses.read("acme", "prospects")).state == "ok"
            assert await asyncio.wait_for(waiting.wait(), 120) == 0
    _exactly_once(tmp_path / "acme" / "prospects.jsonl", acme, "prospect")


async def test_postgresql_output_two_workers_one_killed_every_row_once_and_current(
    write_fleet: WriteFleet,
    redis_client: Redis,
    namespace: str,
    tmp_path: Path,
    postgres_server: str,
) -> None:
    """``out = "postgresql://.../<prefix>_{tenant}"``: one database per tenant, each resource a
    table with its checkpoint beside it. Two worker processes, three tenants x two resources;
    the worker running a job once rows land is SIGKILLed, and the other finishes its work.
    Every table holds each of the sandbox's records once, as the sandbox holds it now."""
    asyncpg = pytest.importorskip("asyncpg", reason="the postgres extra is not installed")
    names = ["north", "south", "west"]
    async with contextlib.AsyncExitStack() as stack:
        server = postgres_server
        prefix = f"f_{namespace[-12:]}"
        await stack.enter_async_context(
            _databases(asyncpg, server, [f"{prefix}_{n}" for n in names])
        )
        orgs = [
            await stack.enter_async_context(
                Sandbox(seed=2000, random_seed=i, faults=FaultConfig(latency=0.02))
            )
            for i in range(len(names))
        ]
        databases = str(yarl.URL(server).with_path("/")) + f"{prefix}_{{tenant}}"
        config = write_fleet(
            [(n, o.base_url, o.token) for n, o in zip(names, orgs, strict=True)],
            worker=FAST_HANDOVER + "\nthreads = 2",
            extra="page_size = 50",  # 40 pages per resource: the kill lands mid-run
            out=databases,
        )
        url = {n: databases.replace("{tenant}", n) for n in names}
        statuses = StatusStore(redis_client, FleetKeys(namespace))
        async with (
            worker(config, tmp_path / "w1.log") as doomed,
            worker(config, tmp_path / "w2.log"),
            fleet("sync", "--config", str(config), "--wait") as waiting,
        ):

            async def mid_run_with_rows() -> bool:  # the doomed worker has written some rows
                for s in await statuses.read_all(_targets(names)):
                    by_doomed = s.worker == f"{socket.gethostname()}:{doomed.pid}"
                    running = s.state == "running" and by_doomed
                    if running and await _rows(asyncpg, url[s.tenant], s.resource) > 0:
                        return True
                return False

            await wait_for(mid_run_with_rows)
            doomed.send_signal(signal.SIGKILL)
            await doomed.wait()
            assert await asyncio.wait_for(waiting.wait(), 120) == 0
        # no job failed on the way (two resources of a tenant prepare its database at once)
        for log in ("w1.log", "w2.log"):
            assert "Failed to process message" not in (tmp_path / log).read_text(), log
        for name, org in zip(names, orgs, strict=True):
            for table, type_, column in _TABLES:
                stored = {
                    id_: (record["attributes"]["updatedAt"], record["attributes"].get(column[1]))
                    for id_, record in org.store.table(type_).records.items()
                }
                rows = await _fetch(
                    asyncpg, url[name], f"SELECT id, updated_at, {column[0]} FROM {table}"
                )
                assert len(rows) == len(stored), (name, table)
                assert {r[0]: (format_datetime(r[1]), r[2]) for r in rows} == stored, (name, table)


#: (table, sandbox type, (column, attribute)) of the PostgreSQL test
_TABLES = [
    ("prospects", "prospect", ("first_name", "firstName")),
    ("accounts", "account", ("name", "name")),
]


@contextlib.asynccontextmanager
async def _databases(asyncpg: Any, server: str, names: list[str]) -> AsyncIterator[None]:
    """Empty databases, one per tenant (the fleet writes into databases that exist)."""
    admin = await asyncpg.connect(server)
    try:
        for name in names:
            await admin.execute(f'CREATE DATABASE "{name}"')
        yield
        for name in names:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def _fetch(asyncpg: Any, url: str, sql: str) -> list[Any]:
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


async def _rows(asyncpg: Any, url: str, table: str) -> int:
    try:
        [row] = await _fetch(asyncpg, url, f"SELECT count(*) FROM {table}")
    except asyncpg.UndefinedTableError:  # the job has not created it yet
        return 0
    return int(row[0])
