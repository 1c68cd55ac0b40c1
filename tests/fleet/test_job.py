"""The engine-agnostic job against a real Redis and sandboxes on loopback, in one process."""

from __future__ import annotations

import asyncio
import tomllib
from pathlib import Path

import pytest
from redis.asyncio import Redis

from outreach_async.fleet import FleetConfig, FleetConfigError, parse_config, sync_tenant_resource
from outreach_async.fleet._lock import LeaseLock
from outreach_async.fleet._status import FleetKeys, StatusStore
from outreach_async.sandbox import Sandbox
from outreach_async.sandbox.faults import FaultConfig
from tests.export.helpers import ids_of, stored_ids
from tests.fleet.conftest import fleet_toml

pytestmark = pytest.mark.redis


def _config(
    redis_url: str, namespace: str, tmp_path: Path, *tenants: tuple[str, str, str]
) -> FleetConfig:
    text = fleet_toml(redis_url, namespace, tmp_path, tenants, worker="lock_lease = 1.5")
    return parse_config(tomllib.loads(text), "fleet.toml")


async def test_a_sync_writes_every_record_once_and_a_rerun_only_what_changed(
    redis_url: str, redis_client: Redis, namespace: str, tmp_path: Path
) -> None:
    async with Sandbox(seed=120) as sandbox:
        config = _config(redis_url, namespace, tmp_path, ("acme", sandbox.base_url, sandbox.token))
        first = await sync_tenant_resource(config, "acme", "prospects", redis_client)
        again = await sync_tenant_resource(config, "acme", "prospects", redis_client)
        out = tmp_path / "acme" / "prospects.jsonl"
        assert first.state == "ok"
        assert first.records == len(stored_ids(sandbox)) == 120
        assert again.state == "ok"
        assert again.records == 0
        assert set(ids_of(out).values()) == {1}
        assert set(ids_of(out)) == stored_ids(sandbox)
    status = await StatusStore(redis_client, FleetKeys(namespace)).read("acme", "prospects")
    assert status.state == "ok"
    assert status.records == 120
    assert status.last_run_records == 0
    assert status.watermark is not None
    assert status.last_success is not None
    assert status.lag(status.last_success) is not None


async def test_two_tenants_keep_separate_checkpoints_and_outputs(
    redis_url: str, redis_client: Redis, namespace: str, tmp_path: Path
) -> None:
    async with Sandbox(seed=30) as one, Sandbox(seed=50, random_seed=7) as two:
        config = _config(
            redis_url,
            namespace,
            tmp_path,
            ("one", one.base_url, one.token),
            ("two", two.base_url, two.token),
        )
        results = await asyncio.gather(
            sync_tenant_resource(config, "one", "prospects", redis_client),
            sync_tenant_resource(config, "two", "prospects", redis_client),
        )
        assert [r.records for r in results] == [30, 50]
        assert set(ids_of(tmp_path / "one" / "prospects.jsonl")) == stored_ids(one)
        assert set(ids_of(tmp_path / "two" / "prospects.jsonl")) == stored_ids(two)


async def test_a_run_that_finds_another_alive_is_busy_and_does_nothing(
    redis_url: str, redis_client: Redis, namespace: str, tmp_path: Path
) -> None:
    async with Sandbox(seed=10) as sandbox:
        config = _config(redis_url, namespace, tmp_path, ("acme", sandbox.base_url, sandbox.token))
        holder = LeaseLock(redis_client, FleetKeys(namespace).lock("acme", "prospects"), lease=1.5)
        assert await holder.try_acquire()
        release = asyncio.Event()

        async def hold() -> None:
            await release.wait()

        holding = asyncio.ensure_future(holder.run(hold))
        outcome = await sync_tenant_resource(config, "acme", "prospects", redis_client)
        release.set()
        await holding
        assert outcome.state == "busy"
        assert not (tmp_path / "acme" / "prospects.jsonl").exists()
        assert len(sandbox.requests) == 0


async def test_a_dead_holders_lock_is_waited_out_and_taken(
    redis_url: str, redis_client: Redis, namespace: str, tmp_path: Path
) -> None:
    async with Sandbox(seed=10) as sandbox:
        config = _config(redis_url, namespace, tmp_path, ("acme", sandbox.base_url, sandbox.token))
        dead = LeaseLock(redis_client, FleetKeys(namespace).lock("acme", "prospects"), lease=1.5)
        assert await dead.try_acquire()  # and never renewed: its holder "died"
        outcome = await sync_tenant_resource(config, "acme", "prospects", redis_client)
        assert outcome.state == "ok"
        assert outcome.records == 10


async def test_a_revoked_token_shows_auth_and_is_held_back_until_it_changes(
    redis_url: str, redis_client: Redis, namespace: str, tmp_path: Path
) -> None:
    async with Sandbox(seed=10) as sandbox:
        revoked = _config(redis_url, namespace, tmp_path, ("acme", sandbox.base_url, "revoked"))
        first = await sync_tenant_resource(revoked, "acme", "prospects", redis_client)
        requests_after_first = len(sandbox.requests)
        second = await sync_tenant_resource(revoked, "acme", "prospects", redis_client)
        assert first.state == second.state == "auth"
        assert len(sandbox.requests) == requests_after_first  # held back: no request
        status = await StatusStore(redis_client, FleetKeys(namespace)).read("acme", "prospects")
        assert status.state == "auth"
        assert status.last_error is not None
        assert "AuthenticationError" in status.last_error
        fixed = _config(redis_url, namespace, tmp_path, ("acme", sandbox.base_url, sandbox.token))
        third = await sync_tenant_resource(fixed, "acme", "prospects", redis_client)
        assert third.state == "ok"
        assert third.records == 10


async def test_a_failing_api_is_recorded_as_retrying_or_error(
    redis_url: str, redis_client: Redis, namespace: str, tmp_path: Path
) -> None:
    async with Sandbox(seed=10, faults=FaultConfig(error_rate_503=1.0)) as sandbox:
        config = _config(redis_url, namespace, tmp_path, ("acme", sandbox.base_url, sandbox.token))
        retrying = await sync_tenant_resource(
            config, "acme", "prospects", redis_client, will_retry=True
        )
        final = await sync_tenant_resource(config, "acme", "prospects", redis_client)
    assert retrying.state == "retrying"
    assert final.state == "error"
    assert final.error is not None
    assert "503" in final.error
    status = await StatusStore(redis_client, FleetKeys(namespace)).read("acme", "prospects")
    assert status.state == "error"
    assert await redis_client.exists(FleetKeys(namespace).lock("acme", "prospects")) == 0


async def test_an_unknown_tenant_is_a_config_error(
    redis_url: str, redis_client: Redis, namespace: str, tmp_path: Path
) -> None:
    config = _config(redis_url, namespace, tmp_path, ("acme", "http://127.0.0.1:9", "t"))
    with pytest.raises(FleetConfigError, match="no tenant 'nope'"):
        await sync_tenant_resource(config, "nope", "prospects", redis_client)


async def test_a_database_output_gets_one_database_per_tenant_every_record_once(
    redis_url: str, redis_client: Redis, namespace: str, tmp_path: Path
) -> None:
    duckdb = pytest.importorskip("duckdb")
    async with Sandbox(seed=40) as one, Sandbox(seed=25, random_seed=5) as two:
        text = fleet_toml(
            redis_url,
            namespace,
            tmp_path,
            [("one", one.base_url, one.token), ("two", two.base_url, two.token)],
            out=f"duckdb:///{tmp_path}/{{tenant}}.db",
        )
        config = parse_config(tomllib.loads(text))
        for _ in range(2):  # the second run finds everything written already
            for tenant in ("one", "two"):
                for resource in ("prospects", "accounts"):
                    outcome = await sync_tenant_resource(config, tenant, resource, redis_client)
                    assert outcome.state == "ok", outcome
        for tenant, sandbox in (("one", one), ("two", two)):
            with duckdb.connect(str(tmp_path / f"{tenant}.db")) as db:
                for table, type_ in (("prospects", "prospect"), ("accounts", "account")):
                    ids = [row[0] for row in db.execute(f"SELECT id FROM {table}").fetchall()]
                    assert sorted(ids) == sorted(stored_ids(sandbox, type_)), (tenant, table)
