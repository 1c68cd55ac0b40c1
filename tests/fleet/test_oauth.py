"""OAuth tenants in the job, in one process: the fleet's shared token set in a real Redis,
against the sandbox's OAuth server with strict rotation (a spent refresh token is
``invalid_grant``).

Token time is a :class:`~tests.clock.FakeClock` shared by the sandbox and the jobs'
``JobClocks(tokens=...)``: a token expires when the test moves it, never by waiting.
"""

from __future__ import annotations

import asyncio
import time
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import attrs
import pytest
from redis.asyncio import Redis

from outreach_async.fleet import (
    FleetConfig,
    JobClocks,
    OAuthConfig,
    SyncOutcome,
    parse_config,
    sync_tenant_resource,
)
from outreach_async.fleet._status import FleetKeys, StatusStore
from outreach_async.fleet._tokens import tenant_token_store
from outreach_async.sandbox import Sandbox
from outreach_async.sandbox.faults import FaultConfig
from tests.clock import FakeClock
from tests.export.helpers import ids_of, stored_ids
from tests.fleet.conftest import fleet_toml
from tests.sandbox_oauth import (
    oauth_seed,
    presented_refresh_tokens,
    reused_refresh_tokens,
    token_posts,
)

pytestmark = pytest.mark.redis

#: past the sandbox's 60 s mint throttle and the tokens' two hours
PAST_EXPIRY = 7200 + 61


@attrs.frozen
class Acme:
    """The tenant ``acme`` of these tests: its sandbox org and the fake clock they share, the
    fleet's Redis and namespace, and the directory its outputs go to."""

    clock: FakeClock
    sandbox: Sandbox
    redis: Redis
    redis_url: str
    namespace: str
    out_dir: Path

    def config(self, oauth: OAuthConfig, page_size: int = 100) -> FleetConfig:
        """A fleet.toml with acme signing in with ``oauth``."""
        text = fleet_toml(
            self.redis_url,
            self.namespace,
            self.out_dir,
            [("acme", self.sandbox.base_url, oauth)],
            worker="lock_lease = 1.5",
            extra=f"page_size = {page_size}",
        )
        return parse_config(tomllib.loads(text), "fleet.toml")

    async def sync(
        self, config: FleetConfig, resource: str, *, will_retry: bool = False
    ) -> SyncOutcome:
        """One sync of acme's ``resource`` with its tokens on the test's clock."""
        return await sync_tenant_resource(
            config,
            "acme",
            resource,
            self.redis,
            clocks=JobClocks(tokens=self.clock),
            will_retry=will_retry,
        )


@pytest.fixture
async def acme(
    redis_url: str, redis_client: Redis, namespace: str, tmp_path: Path
) -> AsyncIterator[Acme]:
    clock = FakeClock(time.time())  # near real time: the store's lock has a Redis TTL too
    # each API request "waits" 1 ms on the fake clock: its on_sleep acts between requests
    latency = FaultConfig(latency=0.001)
    async with Sandbox(clock=clock, sleep=clock.sleep, seed=200, faults=latency) as sandbox:
        sandbox.authority.strict_rotation = True
        yield Acme(clock, sandbox, redis_client, redis_url, namespace, tmp_path)


def _api_reads_of(sandbox: Sandbox, resource: str, since: int) -> int:
    return sum(r.path.endswith(f"/{resource}") for r in sandbox.requests[since:])


async def test_two_resources_share_one_token_set_and_an_expiry_mid_run_is_one_refresh(
    acme: Acme,
) -> None:
    # 2 records a page: 100 pages of prospects, 5 of accounts
    config = acme.config(oauth_seed(acme.sandbox), page_size=2)
    outputs = [acme.out_dir / "acme" / "prospects.jsonl", acme.out_dir / "acme" / "accounts.jsonl"]
    expired_at: list[int] = []
    prospects_started = asyncio.Event()

    async def expire_mid_run(_sleeps: int) -> None:
        """Each API request passes here as it arrives: accounts' second page waits for the
        prospects sync to start, then the token both use expires, with both syncs mid-run."""
        arriving = acme.sandbox.requests[-1].path  # logged just before, with no await between
        if arriving.endswith("/prospects") and not expired_at:
            expired_at.append(len(acme.sandbox.requests) - 1)
            acme.clock.now += PAST_EXPIRY  # this request and the waiting one: 401
            prospects_started.set()
        elif arriving.endswith("/accounts") and _api_reads_of(acme.sandbox, "accounts", 0) == 2:
            await prospects_started.wait()

    acme.clock.on_sleep = expire_mid_run
    outcomes = await asyncio.gather(
        *(acme.sync(config, resource) for resource in ("prospects", "accounts"))
    )

    assert [o.state for o in outcomes] == ["ok", "ok"], outcomes
    for path, type_ in zip(outputs, ("prospect", "account"), strict=True):
        assert set(ids_of(path)) == stored_ids(acme.sandbox, type_)
        assert set(ids_of(path).values()) == {1}
    # both syncs read on after the expiry (the first read of each refused), with one new token
    assert _api_reads_of(acme.sandbox, "prospects", expired_at[0]) > 0
    assert _api_reads_of(acme.sandbox, "accounts", expired_at[0]) > 0
    # the first, one rotation
    assert token_posts(acme.sandbox) == acme.sandbox.authority.mint_count == 2
    assert reused_refresh_tokens(acme.sandbox) == []
    assert acme.sandbox.authority.throttled_count == 0
    saved = await tenant_token_store(acme.redis, acme.namespace, "acme").load()
    assert saved is not None
    assert saved.refresh_token in acme.sandbox.authority.refresh_tokens  # rotated, and saved
    # where the README says the fleet keeps them
    key = f"outreach:tokens:{acme.namespace}:acme"
    assert await acme.redis.exists(key, f"{key}:seeds") == 2


async def test_an_unchanged_config_keeps_the_rotated_tokens_and_an_old_one_never_reseeds(
    acme: Acme,
) -> None:
    first_seed = oauth_seed(acme.sandbox)
    config = acme.config(first_seed)
    store = tenant_token_store(acme.redis, acme.namespace, "acme")
    for _ in range(3):  # each sync after an expiry: a refresh with the last rotated token
        outcome = await acme.sync(config, "prospects")
        assert outcome.state == "ok"
        acme.clock.now += PAST_EXPIRY
    assert token_posts(acme.sandbox) == 3
    assert reused_refresh_tokens(acme.sandbox) == []  # the configured token was spent once

    # a new refresh token in the config replaces the stored set, once
    second_seed = oauth_seed(acme.sandbox)
    edited = acme.config(second_seed)
    assert (await acme.sync(edited, "accounts")).state == "ok"
    assert presented_refresh_tokens(acme.sandbox)[-1] == second_seed.refresh_token
    # a worker still holding the older config does not put the spent token back
    outcome = await acme.sync(config, "prospects")
    assert outcome.state == "ok"
    assert reused_refresh_tokens(acme.sandbox) == []
    assert token_posts(acme.sandbox) == 4
    saved = await store.load()
    assert saved is not None
    assert saved.refresh_token not in (first_seed.refresh_token, second_seed.refresh_token)
    assert saved.refresh_token in acme.sandbox.authority.refresh_tokens


async def test_a_refused_refresh_shows_auth_sends_nothing_more_and_a_new_token_resumes(
    acme: Acme,
) -> None:
    revoked = OAuthConfig("sandbox-client", "sandbox-secret", "revoked", acme.sandbox.token_url)
    config = acme.config(revoked)
    first = await acme.sync(config, "prospects")
    assert first.state == "auth"
    assert first.error is not None
    assert "invalid_grant" in first.error
    assert token_posts(acme.sandbox) == 1
    seen = len(acme.sandbox.requests)
    again = await acme.sync(config, "prospects", will_retry=True)
    assert again.state == "auth"
    assert len(acme.sandbox.requests) == seen  # held back: not even the token endpoint
    status = await StatusStore(acme.redis, FleetKeys(acme.namespace)).read("acme", "prospects")
    assert status.state == "auth"
    # the request the refused refresh stopped gave its rate-limit ticket back
    budget = await acme.redis.hgetall(f"outreach:ratelimit:{acme.namespace}-acme")
    assert not [field for field in budget if cast(bytes, field).startswith(b"t:")]

    fixed = acme.config(oauth_seed(acme.sandbox))
    resumed = await acme.sync(fixed, "prospects")
    assert resumed.state == "ok"
    assert resumed.records == len(stored_ids(acme.sandbox, "prospect"))
    assert reused_refresh_tokens(acme.sandbox) == []


async def test_a_wrong_client_secret_shows_auth_and_fixing_only_the_secret_resumes(
    acme: Acme,
) -> None:
    right = oauth_seed(acme.sandbox)
    wrong = OAuthConfig(right.client_id, "not-the-secret", right.refresh_token, right.token_url)
    config = acme.config(wrong)
    refused = await acme.sync(config, "prospects")
    assert refused.state == "auth"
    assert refused.error is not None
    assert "invalid_client" in refused.error
    held = await acme.sync(config, "prospects")
    assert held.state == "auth"
    assert token_posts(acme.sandbox) == 1  # held back

    fixed = acme.config(right)  # the same refresh token
    resumed = await acme.sync(fixed, "prospects")
    assert resumed.state == "ok"
    # refused, then spent
    assert presented_refresh_tokens(acme.sandbox) == [right.refresh_token] * 2
