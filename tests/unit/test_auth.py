"""Auth providers: static tokens, and OAuth refresh that never races, storms or loses a token.

The first half drives :class:`OAuth2Refresh` through a fake token endpoint (a ``FormPoster``),
the second half runs it behind a real :class:`Transport` against a small Outreach stand-in on
127.0.0.1 (a token endpoint that rotates refresh tokens, and an API that checks bearer tokens).
All waits go through a fake clock.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson
import pytest
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from outreach_async import OutreachClient
from outreach_async._exceptions import (
    AuthenticationError,
    QueryError,
    RateLimitError,
    ResponseFormatError,
)
from outreach_async._http import Request, Response
from outreach_async._ratelimit import RateLimitInfo
from outreach_async._retry import RetryPolicy
from outreach_async._transport import Transport
from outreach_async.auth import (
    DEFAULT_TOKEN_URL,
    OAuth2Refresh,
    StaticToken,
    TokenProvider,
    TokenSet,
)
from outreach_async.auth._oauth import MINT_INTERVAL
from outreach_async.auth._provider import is_production
from tests.clock import FakeClock
from tests.unit.conftest import Serve

TOKEN_URL = URL("https://api.outreach.test/oauth/token")
SECRET = "client-secret-do-not-print"
REFRESH = "refresh-0-do-not-print"


def token_answer(
    access: str, refresh: str | None = None, expires_in: float | None = 7200, status: int = 200
) -> Response:
    body: dict[str, Any] = {"access_token": access, "token_type": "bearer"}
    if refresh is not None:
        body["refresh_token"] = refresh
    if expires_in is not None:
        body["expires_in"] = expires_in
    return Response(
        status=status, headers=CIMultiDict(), body=orjson.dumps(body), url=TOKEN_URL, method="POST"
    )


def answer(status: int, body: bytes = b"", retry_after: str | None = None) -> Response:
    headers = CIMultiDict({"Retry-After": retry_after} if retry_after is not None else {})
    return Response(status=status, headers=headers, body=body, url=TOKEN_URL, method="POST")


class FakeTokenEndpoint:
    """Stands in for the transport's ``post_form``: mints access-N / refresh-N, or replays
    the queued answers first."""

    def __init__(self, *queued: Response) -> None:
        self.queued = list(queued)
        self.forms: list[dict[str, str]] = []

    async def __call__(self, url: URL, data: Mapping[str, str]) -> Response:
        assert url == TOKEN_URL
        self.forms.append(dict(data))
        for _ in range(3):  # yield a few times, so waiting requests pile up meanwhile
            await asyncio.sleep(0)
        if self.queued:
            return self.queued.pop(0)
        n = len(self.forms)
        return token_answer(f"access-{n}", f"refresh-{n}")


def make_provider(
    clock: FakeClock, endpoint: FakeTokenEndpoint | None = None, **overrides: Any
) -> OAuth2Refresh:
    options: dict[str, Any] = {
        "client_id": "client-id",
        "client_secret": SECRET,
        "refresh_token": REFRESH,
        "token_url": TOKEN_URL,
        "clock": clock.time,
        "sleep": clock.sleep,
        "rng": random.Random(3),
    }
    options.update(overrides)
    provider = OAuth2Refresh(**options)
    if endpoint is not None:
        provider.bind(endpoint)
    return provider


# -- StaticToken ---------------------------------------------------------------------------------


async def test_static_token_gives_its_token_and_never_refreshes() -> None:
    auth = StaticToken("tok-123456")

    assert await auth.token() == "tok-123456"
    assert await auth.refresh("tok-123456") is False
    assert isinstance(auth, TokenProvider)
    assert "tok-123456" not in repr(auth)
    assert "tok-123456" not in str(auth)


def test_static_token_needs_a_token() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        StaticToken("")


# -- OAuth2Refresh against a fake endpoint -------------------------------------------------------


def test_reprs_hide_every_secret() -> None:
    provider = make_provider(FakeClock(), access_token="access-secret-xyz")
    token_set = TokenSet("access-secret-xyz", "refresh-secret-xyz", 1.0)

    for text in (repr(provider), str(provider), repr(token_set), str(token_set)):
        for secret in (SECRET, REFRESH, "access-secret-xyz", "refresh-secret-xyz"):
            assert secret not in text
    assert "client-id" in repr(provider)
    assert isinstance(provider, TokenProvider)


async def test_an_unbound_provider_says_what_to_do() -> None:
    with pytest.raises(RuntimeError, match="OutreachClient"):
        await make_provider(FakeClock()).token()


async def test_first_use_mints_with_the_refresh_grant(fake_clock: FakeClock) -> None:
    endpoint = FakeTokenEndpoint()
    provider = make_provider(fake_clock, endpoint)

    assert await provider.token() == "access-1"
    assert await provider.token() == "access-1"  # cached, not minted per request

    assert endpoint.forms == [
        {
            "grant_type": "refresh_token",
            "client_id": "client-id",
            "client_secret": SECRET,
            "refresh_token": REFRESH,
        }
    ]
    assert provider.expires_at == fake_clock.time() + 7200


async def test_fifty_concurrent_callers_of_an_expired_token_wait_for_one_mint(
    fake_clock: FakeClock,
) -> None:
    endpoint = FakeTokenEndpoint()
    provider = make_provider(
        fake_clock, endpoint, access_token="access-0", expires_at=fake_clock.time() - 1.0
    )

    tokens = await asyncio.gather(*(provider.token() for _ in range(50)))

    assert len(endpoint.forms) == 1
    assert set(tokens) == {"access-1"}


async def test_fifty_callers_inside_the_margin_keep_the_valid_token_while_one_mint_runs(
    fake_clock: FakeClock,
) -> None:
    endpoint = FakeTokenEndpoint()
    provider = make_provider(
        fake_clock, endpoint, access_token="access-0", expires_at=fake_clock.time() + 100.0
    )

    tokens = await asyncio.gather(*(provider.token() for _ in range(50)))

    assert set(tokens) == {"access-0"}  # nobody waited for the early refresh
    await provider.settle()
    assert len(endpoint.forms) == 1
    assert await provider.token() == "access-1"


async def test_fifty_concurrent_401s_cause_one_mint(fake_clock: FakeClock) -> None:
    endpoint = FakeTokenEndpoint()
    provider = make_provider(fake_clock, endpoint, access_token="access-0")

    answers = await asyncio.gather(*(provider.refresh("access-0") for _ in range(50)))

    assert answers == [True] * 50
    assert len(endpoint.forms) == 1
    assert await provider.token() == "access-1"


async def test_a_failed_mint_is_shared_by_its_waiters_not_replayed_per_waiter(
    fake_clock: FakeClock,
) -> None:
    refused = answer(400, b'{"error": "invalid_grant", "error_description": "revoked"}')
    endpoint = FakeTokenEndpoint(refused)
    provider = make_provider(fake_clock, endpoint, access_token="access-0")

    outcomes = await asyncio.gather(
        *(provider.refresh("access-0") for _ in range(50)), return_exceptions=True
    )

    assert len(endpoint.forms) == 1
    assert all(isinstance(o, AuthenticationError) for o in outcomes)
    assert fake_clock.sleeps == []


async def test_a_cancelled_caller_does_not_abandon_the_mint(fake_clock: FakeClock) -> None:
    persisted: list[TokenSet] = []
    endpoint = FakeTokenEndpoint()
    provider = make_provider(fake_clock, endpoint, on_refresh=persisted.append)

    impatient = asyncio.create_task(provider.token())
    await asyncio.sleep(0)
    impatient.cancel()
    assert await provider.token() == "access-1"  # the mint went on and was kept

    assert len(endpoint.forms) == 1
    assert [s.refresh_token for s in persisted] == ["refresh-1"]
    with pytest.raises(asyncio.CancelledError):
        await impatient


async def test_rotated_refresh_token_reaches_on_refresh_before_the_access_token_is_used(
    fake_clock: FakeClock,
) -> None:
    persisted: list[TokenSet] = []
    gate = asyncio.Event()

    async def on_refresh(token_set: TokenSet) -> None:
        persisted.append(token_set)
        await gate.wait()  # a slow store: nobody may use the new token until it is saved

    endpoint = FakeTokenEndpoint()
    provider = make_provider(fake_clock, endpoint, on_refresh=on_refresh)

    waiting = asyncio.create_task(provider.token())
    for _ in range(10):
        await asyncio.sleep(0)
    assert persisted == [TokenSet("access-1", "refresh-1", fake_clock.time() + 7200)]
    late = asyncio.create_task(provider.token())  # arrives while the store is still saving
    for _ in range(10):
        await asyncio.sleep(0)
    assert not waiting.done()
    assert not late.done()

    gate.set()
    assert await waiting == "access-1"
    assert await late == "access-1"
    fake_clock.advance(MINT_INTERVAL)
    assert await provider.refresh("access-1")
    assert endpoint.forms[1]["refresh_token"] == "refresh-1"  # the rotated one is spent next
    assert [s.refresh_token for s in persisted] == ["refresh-1", "refresh-2"]


async def test_a_sync_on_refresh_works_too(fake_clock: FakeClock) -> None:
    persisted: list[TokenSet] = []
    provider = make_provider(fake_clock, FakeTokenEndpoint(), on_refresh=persisted.append)

    await provider.token()

    assert [s.access_token for s in persisted] == ["access-1"]


async def test_a_failing_on_refresh_is_raised_but_the_new_tokens_are_kept(
    fake_clock: FakeClock,
) -> None:
    def broken_store(token_set: TokenSet) -> None:
        raise OSError("disk full")

    endpoint = FakeTokenEndpoint()
    provider = make_provider(fake_clock, endpoint, on_refresh=broken_store)

    with pytest.raises(OSError, match="disk full"):
        await provider.token()

    # The old refresh token may already be spent: keep the new set rather than mint again.
    assert await provider.token() == "access-1"
    assert len(endpoint.forms) == 1


async def test_a_throttled_mint_is_waited_out_not_stormed(fake_clock: FakeClock) -> None:
    endpoint = FakeTokenEndpoint(answer(429, b'{"error": "rate_limited"}', retry_after="30"))
    provider = make_provider(fake_clock, endpoint)

    assert await provider.token() == "access-2"

    assert len(endpoint.forms) == 2
    [wait] = fake_clock.sleeps
    assert 30.0 <= wait <= MINT_INTERVAL + 1.0  # at least Retry-After, at most the mint throttle


async def test_a_second_mint_within_sixty_seconds_waits_for_the_throttle(
    fake_clock: FakeClock,
) -> None:
    endpoint = FakeTokenEndpoint()
    provider = make_provider(fake_clock, endpoint)
    await provider.token()
    fake_clock.advance(10.0)

    assert await provider.refresh("access-1")

    assert fake_clock.sleeps == [pytest.approx(MINT_INTERVAL - 10.0)]
    assert len(endpoint.forms) == 2


async def test_endless_throttling_gives_up_with_a_rate_limit_error(fake_clock: FakeClock) -> None:
    throttled = [answer(429, retry_after="60") for _ in range(10)]
    endpoint = FakeTokenEndpoint(*throttled)
    provider = make_provider(fake_clock, endpoint)

    with pytest.raises(RateLimitError, match="kept throttling"):
        await provider.token()

    assert len(endpoint.forms) == 5
    assert all(wait >= 60.0 for wait in fake_clock.sleeps)


async def test_a_failed_refresh_ahead_of_expiry_keeps_the_valid_token(
    fake_clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    refused = answer(400, b'{"error": "invalid_grant", "error_description": "revoked"}')
    endpoint = FakeTokenEndpoint(refused)
    provider = make_provider(
        fake_clock, endpoint, access_token="access-0", expires_at=fake_clock.time() + 100
    )

    with caplog.at_level(logging.DEBUG, logger="outreach_async"):
        assert await provider.token() == "access-0"
        await provider.settle()
        assert await provider.token() == "access-0"  # no second try inside the mint throttle
        await provider.settle()

    assert len(endpoint.forms) == 1
    assert fake_clock.sleeps == []
    assert "invalid_grant" in caplog.text
    assert SECRET not in caplog.text
    assert REFRESH not in caplog.text


async def test_a_throttled_refresh_ahead_never_waits_and_the_expiry_then_does(
    fake_clock: FakeClock,
) -> None:
    # Another process minted a moment ago: the early refresh gets 429 and must not wait it out.
    endpoint = FakeTokenEndpoint(answer(429, retry_after="60"))
    provider = make_provider(
        fake_clock, endpoint, access_token="access-0", expires_at=fake_clock.time() + 200
    )

    assert await provider.token() == "access-0"
    await provider.settle()
    assert fake_clock.sleeps == []
    fake_clock.advance(30)
    assert await provider.token() == "access-0"  # still throttled: not even asked again
    await provider.settle()
    assert len(endpoint.forms) == 1

    fake_clock.advance(35)  # past Retry-After and its jitter: the next early attempt works
    assert await provider.token() == "access-0"
    await provider.settle()
    assert await provider.token() == "access-2"
    assert fake_clock.sleeps == []


async def test_an_expired_token_joins_a_throttled_early_refresh_then_waits_the_throttle_out(
    fake_clock: FakeClock,
) -> None:
    endpoint = FakeTokenEndpoint(answer(429, retry_after="60"))
    provider = make_provider(
        fake_clock, endpoint, access_token="access-0", expires_at=fake_clock.time() + 10
    )
    assert await provider.token() == "access-0"  # starts the early attempt
    fake_clock.advance(11)  # the token expires while that attempt is on the wire

    assert await provider.token() == "access-2"

    assert len(endpoint.forms) == 2
    [wait] = fake_clock.sleeps
    assert wait >= 60.0 - 11.0


async def test_a_refused_grant_on_an_expired_token_raises_without_secrets(
    fake_clock: FakeClock,
) -> None:
    refused = answer(400, b'{"error": "invalid_grant", "error_description": "expired"}')
    provider = make_provider(fake_clock, FakeTokenEndpoint(refused))

    with pytest.raises(AuthenticationError) as caught:
        await provider.token()

    message = str(caught.value)
    assert "invalid_grant" in message
    assert "expired" in message
    assert SECRET not in message
    assert REFRESH not in message
    assert caught.value.status == 400


async def test_the_refresh_token_is_kept_when_not_rotated(fake_clock: FakeClock) -> None:
    endpoint = FakeTokenEndpoint(token_answer("access-1", refresh=None, expires_in=None))
    provider = make_provider(fake_clock, endpoint)

    await provider.token()
    fake_clock.advance(MINT_INTERVAL)
    await provider.refresh("access-1")

    assert endpoint.forms[1]["refresh_token"] == REFRESH
    assert provider.expires_at == pytest.approx(fake_clock.time() + 7200)


async def test_an_answer_without_access_token_is_a_format_error(fake_clock: FakeClock) -> None:
    provider = make_provider(fake_clock, FakeTokenEndpoint(answer(200, b"<html>hi</html>")))

    with pytest.raises(ResponseFormatError, match="access_token"):
        await provider.token()


async def test_closing_the_transport_lets_an_early_refresh_in_flight_land(
    fake_clock: FakeClock,
) -> None:
    persisted: list[TokenSet] = []
    gate = asyncio.Event()

    async def on_refresh(token_set: TokenSet) -> None:
        await gate.wait()  # a slow store: the refresh is still in flight when the client closes
        persisted.append(token_set)

    provider = make_provider(
        fake_clock,
        None,
        access_token="access-0",
        expires_at=fake_clock.time() + 100,
        on_refresh=on_refresh,
    )
    transport = Transport(base_url=URL("http://127.0.0.1:9/api/v2"), auth=provider)
    provider.bind(FakeTokenEndpoint())  # the stand-in endpoint instead of the transport's
    assert await provider.token() == "access-0"  # starts the early refresh
    closing = asyncio.create_task(transport.aclose())
    for _ in range(20):
        await asyncio.sleep(0)
    assert not closing.done()  # waiting for the refresh, not cutting it off

    gate.set()
    await closing
    assert [s.refresh_token for s in persisted] == ["refresh-1"]
    assert await provider.token() == "access-1"


# -- end to end: Transport + OAuth2Refresh + a loopback Outreach stand-in ------------------------


class NoLimit:
    async def acquire(self) -> None:
        return None

    async def observe(self, info: RateLimitInfo, *, status: int, retry_after: float | None) -> None:
        return None


class FakeOutreach:
    """A token endpoint that rotates refresh tokens and an API that checks bearer tokens.

    ``log`` records, in order, every API use of a token and every mint.
    """

    def __init__(self) -> None:
        self.refresh_token = REFRESH
        self.valid: set[str] = {"access-0"}
        self.mints = 0
        self.log: list[tuple[str, str]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/oauth/token", self.token)
        app.router.add_get("/api/v2/prospects", self.prospects)
        return app

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        assert "Authorization" not in request.headers
        if form.get("refresh_token") != self.refresh_token or form["client_secret"] != SECRET:
            return web.json_response({"error": "invalid_grant"}, status=400)
        self.mints += 1
        access, self.refresh_token = f"access-{self.mints}", f"refresh-{self.mints}"
        self.valid = {access}  # earlier access tokens stop working
        self.log.append(("minted", access))
        body = {"access_token": access, "refresh_token": self.refresh_token, "expires_in": 7200}
        return web.json_response(body)

    async def prospects(self, request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.valid:
            return web.Response(status=401, text="Invalid access token")
        self.log.append(("used", token))
        return web.Response(body=b'{"data": []}', content_type="application/vnd.api+json")


async def start_outreach(
    serve: Serve, clock: FakeClock, outreach: FakeOutreach | None = None, **provider_options: Any
) -> tuple[FakeOutreach, OAuth2Refresh, Transport, URL]:
    outreach = outreach or FakeOutreach()
    root = await serve(outreach.app())
    provider = OAuth2Refresh(
        client_id="client-id",
        client_secret=SECRET,
        refresh_token=REFRESH,
        token_url=root / "oauth/token",
        clock=clock.time,
        sleep=clock.sleep,
        **provider_options,
    )
    transport = Transport(
        base_url=root / "api/v2",
        auth=provider,
        retry=RetryPolicy(max_retries=0),
        rate_limiter=NoLimit(),
        sleep=clock.sleep,
        clock=clock.monotonic,
        wall_clock=clock.time,
    )
    _OPEN.append(transport)
    return outreach, provider, transport, root / "api/v2/prospects"


_OPEN: list[Transport] = []


@pytest.fixture(autouse=True)
async def _close_transports() -> AsyncIterator[None]:
    """Close every transport a test made, even when the test failed half-way."""
    yield
    while _OPEN:
        await _OPEN.pop().aclose()


async def test_fifty_requests_around_an_expiry_refresh_once(
    fake_clock: FakeClock, serve: Serve
) -> None:
    outreach, _, transport, url = await start_outreach(
        serve, fake_clock, access_token="access-0", expires_at=fake_clock.time() - 1
    )

    responses = await asyncio.gather(*(transport.send(Request.get(url)) for _ in range(50)))

    assert [r.status for r in responses] == [200] * 50
    assert outreach.mints == 1
    assert outreach.log.count(("used", "access-1")) == 50


async def test_concurrent_401s_refresh_once_and_every_request_is_retried_once(
    fake_clock: FakeClock, serve: Serve
) -> None:
    outreach, _, transport, url = await start_outreach(serve, fake_clock, access_token="stale")

    responses = await asyncio.gather(*(transport.send(Request.get(url)) for _ in range(20)))

    assert [r.status for r in responses] == [200] * 20
    assert outreach.mints == 1


async def test_rotated_tokens_are_persisted_before_use_end_to_end(
    fake_clock: FakeClock, serve: Serve
) -> None:
    persisted: list[TokenSet] = []
    outreach = FakeOutreach()

    async def note_persisted(token_set: TokenSet) -> None:
        persisted.append(token_set)
        outreach.log.append(("persisted", token_set.access_token))

    _, _, transport, url = await start_outreach(
        serve, fake_clock, outreach, on_refresh=note_persisted
    )
    await transport.send(Request.get(url))
    outreach.valid = set()  # the server revokes access-1: the next request gets a 401
    await transport.send(Request.get(url))

    assert outreach.log == [
        ("minted", "access-1"),
        ("persisted", "access-1"),
        ("used", "access-1"),
        ("minted", "access-2"),
        ("persisted", "access-2"),
        ("used", "access-2"),
    ]
    # The second mint spent the rotated refresh token (the server accepts only the latest),
    # and waited out the 60 s mint throttle instead of getting a 429.
    assert [s.refresh_token for s in persisted] == ["refresh-1", "refresh-2"]
    assert fake_clock.sleeps == [pytest.approx(MINT_INTERVAL)]


# -- which token endpoint ------------------------------------------------------------------------


def test_without_token_url_a_client_of_another_api_is_refused_before_any_request() -> None:
    provider = OAuth2Refresh(client_id="client-id", client_secret=SECRET, refresh_token=REFRESH)

    with pytest.raises(QueryError, match="pass token_url=") as caught:
        OutreachClient(provider, base_url="http://127.0.0.1:8787/api/v2")

    assert "http://127.0.0.1:8787/api/v2" in str(caught.value)
    assert SECRET not in str(caught.value)
    assert REFRESH not in str(caught.value)


async def test_without_token_url_a_production_client_uses_outreachs_endpoint() -> None:
    provider = OAuth2Refresh(client_id="client-id", client_secret=SECRET, refresh_token=REFRESH)
    async with OutreachClient(provider):  # the default base URL is production's
        assert provider.token_url == URL(DEFAULT_TOKEN_URL)


async def test_a_named_token_url_serves_any_api() -> None:
    provider = OAuth2Refresh(
        client_id="client-id", client_secret=SECRET, refresh_token=REFRESH, token_url=TOKEN_URL
    )
    async with OutreachClient(provider, base_url="http://127.0.0.1:8787/api/v2"):
        assert provider.token_url == TOKEN_URL


@pytest.mark.parametrize(
    ("base_url", "production"),
    [
        ("https://api.outreach.io/api/v2", True),
        ("https://API.Outreach.io:443/api/v2", True),
        ("http://api.outreach.io/api/v2", False),
        ("https://api.outreach.io:8443/api/v2", False),
        ("https://api.outreach.io.example/api/v2", False),
    ],
)
def test_production_is_one_origin_however_it_is_spelled(base_url: str, production: bool) -> None:
    assert is_production(URL(base_url)) is production
