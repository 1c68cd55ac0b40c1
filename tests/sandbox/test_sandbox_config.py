"""The Sandbox face: its configuration reaches the rate limit, the faults, OAuth and paging."""

from __future__ import annotations

import aiohttp
import pytest

from outreach_async.sandbox import FaultConfig, RateLimitConfig, Sandbox, SandboxConfig
from tests.clock import FakeClock

from .conftest import Api


async def _get(sandbox: Sandbox, path: str, token: str | None = None) -> aiohttp.ClientResponse:
    headers = {"Authorization": f"Bearer {token or sandbox.token}"}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.get(sandbox.base_url + path) as response,
    ):
        await response.read()
        return response


async def test_keywords_and_a_config_are_the_same_thing() -> None:
    assert Sandbox(seed=5, random_seed=2).config == SandboxConfig(seed=5, random_seed=2)
    config = SandboxConfig(seed=1)
    assert Sandbox(config).config is config
    with pytest.raises(TypeError):
        Sandbox(config, seed=2)
    with pytest.raises(RuntimeError):
        _ = Sandbox().base_url  # not started


async def test_rate_limit_config_reaches_the_server() -> None:
    clock = FakeClock()
    limit = RateLimitConfig(limit=2, window=60.0)
    async with Sandbox(rate_limit=limit, clock=clock) as sandbox:
        statuses = [(await _get(sandbox, "/users")).status for _ in range(3)]
        refused = await _get(sandbox, "/users")
        clock.now += 60
        again = await _get(sandbox, "/users")
    assert statuses == [200, 200, 429]
    assert refused.headers["Retry-After"].isdigit()
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert again.status == 200


async def test_fault_config_reaches_the_server() -> None:
    faults = FaultConfig(heavy_page_limits={"mailing": 100})
    async with Sandbox(seed=40, faults=faults) as sandbox:
        heavy = await _get(sandbox, "/mailings?page[size]=500")
        light = await _get(sandbox, "/mailings?page[size]=100")
    assert (heavy.status, light.status) == (502, 200)


async def test_token_lifetime_reaches_oauth_and_expired_tokens_get_401() -> None:
    clock = FakeClock()
    async with Sandbox(token_lifetime=60.0, clock=clock, unauthorized_body="gateway") as sandbox:
        refresh = sandbox.authority.issue_refresh_token()
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "client_id": sandbox.authority.client_id,
            "client_secret": sandbox.authority.client_secret,
        }
        async with (
            aiohttp.ClientSession() as session,
            session.post(sandbox.token_url, data=form) as response,
        ):
            granted = await response.json()
        assert granted["expires_in"] == 60
        assert (await _get(sandbox, "/users", granted["access_token"])).status == 200
        clock.now += 61
        expired = await _get(sandbox, "/users", granted["access_token"])
        assert expired.status == 401
        assert expired.content_type == "application/json"  # the gateway's body, not JSON:API


@pytest.mark.outreach_sandbox(seed=3000, default_page_size=10)
async def test_hundreds_of_pages_visit_every_record_once(api: Api) -> None:
    reply = await api.get("/prospects", {"sort": "-updatedAt"})
    ids: list[int] = []
    pages = 0
    while True:
        pages += 1
        ids += [r["id"] for r in reply.data]
        following = reply.body["links"].get("next")
        if following is None:
            break
        reply = await api.get(following)
    assert pages == 300
    assert sorted(ids) == list(range(1, 3001))
