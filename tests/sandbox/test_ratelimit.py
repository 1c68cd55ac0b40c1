"""The sandbox's rate limiter: pure counting and headers, then the middleware on loopback."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import orjson
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiohttp.typedefs import Handler
from hypothesis import given
from hypothesis import strategies as st

from outreach_async.sandbox.faults import FaultConfig, fault_middleware
from outreach_async.sandbox.oauth import TokenAuthority, auth_middleware
from outreach_async.sandbox.ratelimit import (
    USER_ID_KEY,
    RateLimitConfig,
    RateLimitState,
    rate_limit_headers,
    rate_limit_middleware,
)
from tests.clock import FakeClock

# -- pure counting --


def test_budget_counts_down_then_refuses_until_the_window_ends() -> None:
    config = RateLimitConfig(limit=2, window=60.0)
    state = RateLimitState()
    first = state.take("u", 120.5, config)
    second = state.take("u", 130.0, config)
    third = state.take("u", 179.2, config)
    assert (first.allowed, first.remaining) == (True, 1)
    assert (second.allowed, second.remaining) == (True, 0)
    assert (third.allowed, third.remaining) == (False, 0)
    assert third.reset_at == 180.0
    assert third.retry_after == 1  # 0.8 s left, rounded up, never 0
    assert state.take("u", 180.0, config).allowed  # a new fixed window
    assert (state.served, state.rejected) == (3, 1)
    assert state.windows[120.0].served == 2
    assert state.windows[120.0].rejected == 1
    assert state.windows[180.0].served == 1


def test_each_user_has_its_own_budget() -> None:
    config = RateLimitConfig(limit=1, window=10.0)
    state = RateLimitState()
    assert state.take("a", 0.0, config).allowed
    assert state.take("b", 0.0, config).allowed
    assert not state.take("a", 1.0, config).allowed
    assert state.remaining("a", 1.0, config) == 0
    assert state.remaining("c", 1.0, config) == 1


@given(
    limit=st.integers(min_value=1, max_value=5),
    window=st.sampled_from([1.0, 2.5, 60.0]),
    calls=st.lists(
        st.tuples(st.sampled_from("xyz"), st.floats(min_value=0, max_value=20)), max_size=60
    ),
)
def test_no_user_is_served_more_than_the_limit_in_any_window(
    limit: int, window: float, calls: list[tuple[str, float]]
) -> None:
    config = RateLimitConfig(limit=limit, window=window)
    state = RateLimitState()
    served: dict[tuple[str, float], int] = {}
    for key, now in sorted(calls, key=lambda call: call[1]):
        decision = state.take(key, now, config)
        assert decision.reset_at - window <= now < decision.reset_at
        if decision.allowed:
            slot = (key, decision.reset_at)
            served[slot] = served.get(slot, 0) + 1
            assert decision.remaining == limit - served[slot]
    assert all(count <= limit for count in served.values())
    assert state.served + state.rejected == len(calls)


def test_headers_carry_limit_remaining_and_reset_as_epoch_seconds() -> None:
    config = RateLimitConfig(limit=10_000, window=3600.0)
    decision = RateLimitState().take("u", 1_700_000_000.0, config)
    assert rate_limit_headers(decision, config) == {
        "X-RateLimit-Limit": "10000",
        "X-RateLimit-Remaining": "9999",
        "X-RateLimit-Reset": "1700002800",
    }


def test_two_value_remaining_puts_the_hourly_budget_first() -> None:
    config = RateLimitConfig(limit=10_000, two_value_remaining=True)
    state = RateLimitState()
    for _ in range(12):
        decision = state.take("u", 0.0, config)
    remaining = rate_limit_headers(decision, config)["X-RateLimit-Remaining"]
    assert remaining == "9988, 19988"
    assert int(remaining.split(",")[0]) == decision.remaining


def test_refusal_headers_add_retry_after_in_whole_seconds() -> None:
    config = RateLimitConfig(limit=1, window=3600.0)
    state = RateLimitState()
    state.take("u", 100.0, config)
    headers = rate_limit_headers(state.take("u", 100.0, config), config)
    assert headers["Retry-After"] == "3500"
    assert headers["X-RateLimit-Remaining"] == "0"


# -- the middleware on loopback --


async def _ok(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def _missing(request: web.Request) -> web.Response:
    raise web.HTTPNotFound(text="nope")


def _app(config: RateLimitConfig, clock: FakeClock, state: RateLimitState) -> web.Application:
    app = web.Application(middlewares=[rate_limit_middleware(config, clock, state=state)])
    app.router.add_get("/api/v2/prospects", _ok)
    app.router.add_get("/api/v2/missing", _missing)
    app.router.add_post("/oauth/token", _ok)
    return app


@contextlib.asynccontextmanager
async def _served(app: web.Application) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


async def test_middleware_counts_down_and_answers_429_with_the_documented_error() -> None:
    clock = FakeClock(7200.0)
    state = RateLimitState()
    config = RateLimitConfig(limit=3, window=60.0)
    async with _served(_app(config, clock, state)) as client:
        remaining = []
        for _ in range(3):
            response = await client.get("/api/v2/prospects")
            assert response.status == 200
            assert response.headers["X-RateLimit-Limit"] == "3"
            assert response.headers["X-RateLimit-Reset"] == "7260"
            remaining.append(response.headers["X-RateLimit-Remaining"])
        clock.now = 7250.5
        refused = await client.get("/api/v2/prospects")
        body = orjson.loads(await refused.read())
    assert remaining == ["2", "1", "0"]
    assert refused.status == 429
    assert refused.headers["Retry-After"] == "10"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert refused.content_type == "application/vnd.api+json"
    [error] = body["errors"]
    assert error["id"] == "rateLimitExceeded"
    assert error["title"] == "Rate Limit Exceeded"
    assert error["detail"] == (
        "You have exceeded your permitted rate limit of 3; please try again at 1970-01-01T02:01:00."
    )
    assert (state.served, state.rejected) == (3, 1)


async def test_errors_count_and_carry_headers_but_other_paths_do_not() -> None:
    clock = FakeClock(0.0)
    state = RateLimitState()
    async with _served(_app(RateLimitConfig(limit=5, window=60.0), clock, state)) as client:
        missing = await client.get("/api/v2/missing")
        token = await client.post("/oauth/token")
    assert missing.status == 404
    assert missing.headers["X-RateLimit-Remaining"] == "4"
    assert token.status == 200
    assert "X-RateLimit-Remaining" not in token.headers
    assert state.served == 1


async def test_a_new_window_restores_the_budget() -> None:
    clock = FakeClock(0.0)
    state = RateLimitState()
    async with _served(_app(RateLimitConfig(limit=1, window=2.0), clock, state)) as client:
        assert (await client.get("/api/v2/prospects")).status == 200
        assert (await client.get("/api/v2/prospects")).status == 429
        clock.now = 2.0
        again = await client.get("/api/v2/prospects")
    assert again.status == 200
    assert again.headers["X-RateLimit-Reset"] == "4"


async def test_budget_is_per_token_without_auth_and_per_user_with_it() -> None:
    clock = FakeClock(0.0)
    config = RateLimitConfig(limit=1, window=60.0)
    async with _served(_app(config, clock, RateLimitState())) as client:
        a = await client.get("/api/v2/prospects", headers={"Authorization": "Bearer a"})
        b = await client.get("/api/v2/prospects", headers={"Authorization": "Bearer b"})
    assert (a.status, b.status) == (200, 200)

    @web.middleware
    async def same_user(request: web.Request, handler: Handler) -> web.StreamResponse:
        request[USER_ID_KEY] = 7
        return await handler(request)

    app = _app(config, clock, RateLimitState())
    app.middlewares.insert(0, same_user)
    async with _served(app) as client:
        a = await client.get("/api/v2/prospects", headers={"Authorization": "Bearer a"})
        b = await client.get("/api/v2/prospects", headers={"Authorization": "Bearer b"})
    assert (a.status, b.status) == (200, 429)


async def test_disabled_limiter_neither_counts_nor_stamps() -> None:
    state = RateLimitState()
    config = RateLimitConfig(limit=1, enabled=False)
    async with _served(_app(config, FakeClock(0.0), state)) as client:
        responses = [await client.get("/api/v2/prospects") for _ in range(3)]
    assert [response.status for response in responses] == [200, 200, 200]
    assert "X-RateLimit-Limit" not in responses[0].headers
    assert state.served == 0


async def test_in_the_sandbox_order_only_authenticated_unfaulted_requests_count() -> None:
    # The order the sandbox app uses: faults outermost, then auth, then the limiter.
    clock = FakeClock(0.0)
    authority = TokenAuthority(clock=clock)
    token = authority.issue_static_token()
    state = RateLimitState()
    faults = FaultConfig(maintenance=[(100.0, 200.0)])
    app = web.Application(
        middlewares=[
            fault_middleware(faults, clock=clock),
            auth_middleware(authority),
            rate_limit_middleware(RateLimitConfig(limit=5, window=3600.0), clock, state=state),
        ]
    )
    app.router.add_get("/api/v2/prospects", _ok)
    headers = {"Authorization": f"Bearer {token}"}
    async with _served(app) as client:
        anonymous = await client.get("/api/v2/prospects")
        served = await client.get("/api/v2/prospects", headers=headers)
        clock.now = 150.0
        maintenance = await client.get("/api/v2/prospects", headers=headers)
    assert anonymous.status == 401
    assert "X-RateLimit-Remaining" not in anonymous.headers
    assert served.headers["X-RateLimit-Remaining"] == "4"
    assert maintenance.status == 503
    assert "X-RateLimit-Remaining" not in maintenance.headers
    assert state.served == 1
    assert state.remaining("user:1", 150.0, RateLimitConfig(limit=5)) == 4
