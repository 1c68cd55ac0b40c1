"""The transport seam: headers, token scoping, error mapping, retries, concurrency, hooks, logs.

aioresponses (through the aiohttp 3.14 shim) stands in for Outreach where the answer is all that
matters; small aiohttp.web servers on 127.0.0.1 show what a mock cannot (a dropped connection,
a refused one, real concurrency, trace configs). Waits go through a fake clock: nothing sleeps.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from collections.abc import AsyncIterator, Mapping
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st
from yarl import URL

from outreach_async._exceptions import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ConnectError,
    NotFoundError,
    OutreachError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeout,
    ServerError,
    UnsupportedMediaTypeError,
    ValidationError,
)
from outreach_async._hooks import (
    Hooks,
    RateLimitEvent,
    RequestEvent,
    ResponseEvent,
    RetryEvent,
    safe_url,
)
from outreach_async._http import Request, Response
from outreach_async._ratelimit import RateLimitInfo
from outreach_async._retry import RetryPolicy
from outreach_async._transport import MAY_HAVE_TAKEN_EFFECT, Transport, map_client_error
from outreach_async.auth import StaticToken
from tests.aioresponses_compat import aioresponses, needs_stream_writer
from tests.clock import WALL_EPOCH, FakeClock
from tests.unit.conftest import Serve

BASE = URL("https://api.outreach.test/api/v2")
PROSPECTS = BASE / "prospects"
TOKEN = "sekrit-access-token-0123456789"
JSONAPI = "application/vnd.api+json"
EMPTY_PAGE = b'{"data": []}'


class RecordingLimiter:
    """A RateLimiter that never waits and remembers what it was shown."""

    def __init__(self) -> None:
        self.acquired = 0
        self.observed: list[tuple[RateLimitInfo, int, float | None]] = []

    async def acquire(self) -> None:
        self.acquired += 1

    async def observe(self, info: RateLimitInfo, *, status: int, retry_after: float | None) -> None:
        self.observed.append((info, status, retry_after))


class CountingToken:
    """A TokenProvider whose refresh hands out the next token of a list."""

    def __init__(self, *tokens: str) -> None:
        self.tokens = list(tokens)
        self.refreshed: list[str] = []

    async def token(self) -> str:
        return self.tokens[0]

    async def refresh(self, rejected: str) -> bool:
        self.refreshed.append(rejected)
        if len(self.tokens) > 1:
            self.tokens.pop(0)
            return True
        return False


def make_transport(clock: FakeClock, **overrides: Any) -> Transport:
    options: dict[str, Any] = {
        "base_url": BASE,
        "auth": StaticToken(TOKEN),
        "retry": RetryPolicy(max_retries=3),
        "rate_limiter": RecordingLimiter(),
        "sleep": clock.sleep,
        "clock": clock.monotonic,
        "wall_clock": clock.time,
        "rng": random.Random(7),
    }
    options.update(overrides)
    transport = Transport(**options)
    _OPEN.append(transport)
    return transport


_OPEN: list[Transport] = []


@pytest.fixture(autouse=True)
async def _close_transports() -> AsyncIterator[None]:
    """Close every transport a test made, even when the test failed half-way."""
    yield
    while _OPEN:
        await _OPEN.pop().aclose()


def session_of(transport: Transport) -> aiohttp.ClientSession | None:
    """The session a transport holds right now (private: lifecycle tests only)."""
    return transport._session


def sent_headers(mock: aioresponses, method: str, url: URL, index: int = 0) -> Mapping[str, str]:
    call = mock.requests[(method, url)][index]
    headers: Mapping[str, str] = call.kwargs["headers"]
    return headers


def jsonapi_error(**error: Any) -> dict[str, Any]:
    return {"errors": [error]}


@pytest.fixture
def transport(fake_clock: FakeClock) -> Transport:
    return make_transport(fake_clock)


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# -- the aioresponses shim ---------------------------------------------------------------------


def test_shim_is_needed_on_this_aiohttp() -> None:
    # When this fails, aiohttp dropped stream_writer again or the shim is obsolete: re-check it.
    assert needs_stream_writer() == (aiohttp.__version__ >= "3.14")


# -- headers and token scoping -------------------------------------------------------------------


async def test_sends_bearer_jsonapi_headers_and_returns_the_answer(
    transport: Transport, aioresponses_mock: aioresponses
) -> None:
    aioresponses_mock.get(PROSPECTS, body=EMPTY_PAGE, headers={"X-Test": "yes"})

    response = await transport.send(Request.get(PROSPECTS))

    assert response == Response(
        status=200, headers=response.headers, body=EMPTY_PAGE, url=PROSPECTS, method="GET"
    )
    assert response.headers["x-test"] == "yes"
    headers = sent_headers(aioresponses_mock, "GET", PROSPECTS)
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["Accept"] == JSONAPI
    assert headers["Content-Type"] == JSONAPI
    assert headers["User-Agent"].startswith("outreach-async/")


async def test_post_body_goes_out_as_given(
    transport: Transport, aioresponses_mock: aioresponses
) -> None:
    aioresponses_mock.post(PROSPECTS, status=201, body=b'{"data": {"type": "prospect", "id": 1}}')
    body = b'{"data": {"type": "prospect", "attributes": {"firstName": "Sally"}}}'

    response = await transport.send(Request("POST", PROSPECTS, body=body, idempotent=False))

    assert response.status == 201
    assert aioresponses_mock.requests[("POST", PROSPECTS)][0].kwargs["data"] == body


@pytest.mark.parametrize(
    "foreign",
    [
        "https://evil.example/api/v2/prospects?page[after]=x",
        "http://api.outreach.test/api/v2/prospects",  # another scheme is another origin
        "https://api.outreach.test:8443/api/v2/prospects",  # and so is another port
    ],
)
async def test_token_never_goes_to_another_origin(
    transport: Transport, aioresponses_mock: aioresponses, foreign: str
) -> None:
    url = URL(foreign)
    aioresponses_mock.get(url, body=EMPTY_PAGE)

    await transport.send(Request.get(url))

    headers = sent_headers(aioresponses_mock, "GET", url)
    assert "Authorization" not in headers
    assert headers["Accept"] == JSONAPI


async def test_a_next_link_on_the_same_origin_gets_the_token(
    transport: Transport, aioresponses_mock: aioresponses
) -> None:
    url = URL("https://api.outreach.test/api/v2/prospects?page%5Bafter%5D=abc", encoded=True)
    aioresponses_mock.get(url, body=EMPTY_PAGE)

    await transport.send(Request.get(url))

    assert sent_headers(aioresponses_mock, "GET", url)["Authorization"] == f"Bearer {TOKEN}"


# -- status codes -> typed errors ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_class", "error_id"),
    [
        (400, BadRequestError, "permittedParams.unknownAttribute"),
        (403, PermissionDeniedError, "unauthorizedOauthScope"),
        (404, NotFoundError, "resourceNotFound"),
        (409, ConflictError, "conflict"),
        (415, UnsupportedMediaTypeError, "unsupportedMediaType"),
        (422, ValidationError, "validationError"),
        (418, APIError, "teapot"),
    ],
)
async def test_error_statuses_raise_typed_errors_with_parsed_objects(
    transport: Transport,
    aioresponses_mock: aioresponses,
    status: int,
    error_class: type[APIError],
    error_id: str,
) -> None:
    payload = jsonapi_error(
        id=error_id,
        title="Something Wrong",
        detail="Name can't be blank.",
        source={"pointer": "/data/attributes/name"},
    )
    aioresponses_mock.get(PROSPECTS, status=status, payload=payload)

    with pytest.raises(error_class) as caught:
        await transport.send(Request.get(PROSPECTS))

    error = caught.value
    assert type(error) is error_class
    assert error.status == status
    assert [(e.id, e.title, e.detail, e.pointer) for e in error.errors] == [
        (error_id, "Something Wrong", "Name can't be blank.", "/data/attributes/name")
    ]
    assert error.method == "GET"
    assert error.url == str(PROSPECTS)
    assert b"Something Wrong" in error.body
    assert "Name can't be blank." in str(error)
    assert len(aioresponses_mock.requests[("GET", PROSPECTS)]) == 1  # 4xx are not retried


async def test_plain_text_401_with_a_static_token_raises_at_once(
    transport: Transport, aioresponses_mock: aioresponses
) -> None:
    aioresponses_mock.get(
        PROSPECTS, status=401, body=b"Invalid access token", content_type="text/plain"
    )

    with pytest.raises(AuthenticationError) as caught:
        await transport.send(Request.get(PROSPECTS))

    assert caught.value.errors == []
    assert caught.value.body == b"Invalid access token"
    assert "Invalid access token" in str(caught.value)
    assert len(aioresponses_mock.requests[("GET", PROSPECTS)]) == 1


async def test_html_502_becomes_a_server_error_after_the_retries(
    fake_clock: FakeClock, aioresponses_mock: aioresponses
) -> None:
    transport = make_transport(fake_clock, retry=RetryPolicy(max_retries=2))
    html = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    for _ in range(3):
        aioresponses_mock.get(PROSPECTS, status=502, body=html, content_type="text/html")

    with pytest.raises(ServerError) as caught:
        await transport.send(Request.get(PROSPECTS))

    assert caught.value.status == 502
    assert caught.value.errors == []
    assert "502 Bad Gateway" in str(caught.value)
    assert "gave up after 2 retries" in str(caught.value)
    assert len(aioresponses_mock.requests[("GET", PROSPECTS)]) == 3
    assert len(fake_clock.sleeps) == 2


# -- retries -------------------------------------------------------------------------------------


async def test_get_is_retried_on_503_then_succeeds(
    fake_clock: FakeClock, aioresponses_mock: aioresponses
) -> None:
    retries: list[RetryEvent] = []
    transport = make_transport(fake_clock, hooks=Hooks(on_retry=retries.append))
    aioresponses_mock.get(PROSPECTS, status=503, body=b"")
    aioresponses_mock.get(PROSPECTS, body=EMPTY_PAGE)

    response = await transport.send(Request.get(PROSPECTS, operation="prospects.list"))

    assert response.status == 200
    assert len(fake_clock.sleeps) == 1
    assert 0 <= fake_clock.sleeps[0] <= transport.retry.backoff_cap
    assert retries == [
        RetryEvent("GET", str(PROSPECTS), "prospects.list", 1, 503, None, fake_clock.sleeps[0])
    ]


async def test_backoff_grows_and_stays_capped(
    fake_clock: FakeClock, aioresponses_mock: aioresponses
) -> None:
    policy = RetryPolicy(max_retries=6, backoff_base=1.0, backoff_cap=4.0)
    transport = make_transport(fake_clock, retry=policy)
    for _ in range(6):
        aioresponses_mock.get(PROSPECTS, status=500, body=b"")
    aioresponses_mock.get(PROSPECTS, body=EMPTY_PAGE)

    await transport.send(Request.get(PROSPECTS))

    assert len(fake_clock.sleeps) == 6
    assert all(0 <= wait <= 4.0 for wait in fake_clock.sleeps)


async def test_post_is_not_retried_on_503_and_says_it_may_have_taken_effect(
    transport: Transport, fake_clock: FakeClock, aioresponses_mock: aioresponses
) -> None:
    aioresponses_mock.post(PROSPECTS, status=503, body=b"")

    with pytest.raises(ServerError) as caught:
        await transport.send(Request("POST", PROSPECTS, body=b"{}", idempotent=False))

    assert MAY_HAVE_TAKEN_EFFECT in str(caught.value)
    assert len(aioresponses_mock.requests[("POST", PROSPECTS)]) == 1
    assert fake_clock.sleeps == []


async def test_429_with_retry_after_is_waited_out_even_for_a_post(
    fake_clock: FakeClock, aioresponses_mock: aioresponses
) -> None:
    limiter = RecordingLimiter()
    events: list[RateLimitEvent] = []
    transport = make_transport(
        fake_clock, rate_limiter=limiter, hooks=Hooks(on_rate_limit=events.append)
    )
    limited = jsonapi_error(id="rateLimitExceeded", title="Rate Limit Exceeded")
    aioresponses_mock.post(
        PROSPECTS,
        status=429,
        payload=limited,
        headers={"Retry-After": "7", "X-RateLimit-Limit": "10000", "X-RateLimit-Remaining": "0"},
    )
    aioresponses_mock.post(PROSPECTS, status=201, body=b'{"data": {"type": "prospect", "id": 1}}')

    response = await transport.send(Request("POST", PROSPECTS, body=b"{}", idempotent=False))

    assert response.status == 201
    [wait] = fake_clock.sleeps
    assert 7.0 < wait <= 7.0 + 0.7  # Retry-After plus positive jitter, never less
    info, status, retry_after = limiter.observed[0]
    assert (info.limit, info.remaining, status, retry_after) == (10000, 0, 429, 7.0)
    assert limiter.observed[1][1] == 201
    assert events == [RateLimitEvent("POST", str(PROSPECTS), "", 429, 7.0)]


async def test_jitter_spreads_a_fleet_waking_from_the_same_retry_after(
    aioresponses_mock: aioresponses,
) -> None:
    waits = []
    for seed in range(5):
        clock = FakeClock()
        transport = make_transport(clock, rng=random.Random(seed))
        aioresponses_mock.get(PROSPECTS, status=429, body=b"", headers={"Retry-After": "30"})
        aioresponses_mock.get(PROSPECTS, body=EMPTY_PAGE)
        await transport.send(Request.get(PROSPECTS))
        waits.extend(clock.sleeps)
        await transport.aclose()

    assert all(30.0 < w <= 33.0 for w in waits)
    assert len(set(waits)) == 5


async def test_503_maintenance_retry_after_as_a_date_is_honoured(
    fake_clock: FakeClock, aioresponses_mock: aioresponses
) -> None:
    transport = make_transport(fake_clock)
    # Two minutes after the fake wall clock's now, as an HTTP date.
    when = "Tue, 14 Nov 2023 22:15:20 GMT"
    assert WALL_EPOCH + 120 == 1_700_000_120
    payload = jsonapi_error(id="scheduledServerMaintenance")
    aioresponses_mock.get(PROSPECTS, status=503, payload=payload, headers={"Retry-After": when})
    aioresponses_mock.get(PROSPECTS, body=EMPTY_PAGE)

    await transport.send(Request.get(PROSPECTS))

    [wait] = fake_clock.sleeps
    assert 120.0 < wait <= 125.0


async def test_rate_limit_error_carries_retry_after_when_retries_run_out(
    fake_clock: FakeClock, aioresponses_mock: aioresponses
) -> None:
    transport = make_transport(fake_clock, retry=RetryPolicy(max_retries=0))
    aioresponses_mock.get(
        PROSPECTS,
        status=429,
        payload=jsonapi_error(id="rateLimitExceeded"),
        headers={"Retry-After": "12"},
    )

    with pytest.raises(RateLimitError) as caught:
        await transport.send(Request.get(PROSPECTS))

    assert caught.value.retry_after == 12.0
    assert caught.value.error_ids == ["rateLimitExceeded"]


async def test_every_response_is_shown_to_the_rate_limiter(
    fake_clock: FakeClock, aioresponses_mock: aioresponses
) -> None:
    limiter = RecordingLimiter()
    transport = make_transport(fake_clock, rate_limiter=limiter)
    headers = {"X-RateLimit-Limit": "10000", "X-RateLimit-Remaining": "9999, 19988"}
    aioresponses_mock.get(PROSPECTS, status=404, payload={"errors": []}, headers=headers)
    aioresponses_mock.get(PROSPECTS, body=EMPTY_PAGE, headers=headers)

    with pytest.raises(NotFoundError):
        await transport.send(Request.get(PROSPECTS))
    await transport.send(Request.get(PROSPECTS))

    assert limiter.acquired == 2
    assert [(info.limit, info.remaining, status) for info, status, _ in limiter.observed] == [
        (10000, 9999, 404),
        (10000, 9999, 200),
    ]


class ReleasingLimiter(RecordingLimiter):
    """A RecordingLimiter that also counts the tickets handed back unused."""

    def __init__(self) -> None:
        super().__init__()
        self.released = 0

    async def release(self) -> None:
        self.released += 1


class RefusedToken:
    """A TokenProvider whose token cannot be had (a refresh the token endpoint refused)."""

    async def token(self) -> str:
        raise AuthenticationError("POST /oauth/token -> HTTP 400: refresh failed", status=400)

    async def refresh(self, rejected: str) -> bool:
        return False


async def test_a_request_whose_token_cannot_be_had_gives_its_rate_limit_ticket_back(
    fake_clock: FakeClock,
) -> None:
    limiter = ReleasingLimiter()
    transport = make_transport(fake_clock, rate_limiter=limiter, auth=RefusedToken())
    with pytest.raises(AuthenticationError):
        await transport.send(Request.get(PROSPECTS))  # nothing is sent: no mock needed
    assert (limiter.acquired, limiter.released, limiter.observed) == (1, 1, [])


async def test_default_limiter_learns_and_waits_on_the_fake_clock(
    fake_clock: FakeClock, aioresponses_mock: aioresponses
) -> None:
    transport = make_transport(fake_clock, rate_limiter=None)
    reset = str(int(fake_clock.time()) + 3600)
    budget = {"X-RateLimit-Limit": "10000", "X-RateLimit-Reset": reset}
    aioresponses_mock.get(
        PROSPECTS,
        status=429,
        body=b"",
        headers={**budget, "X-RateLimit-Remaining": "0", "Retry-After": "5"},
    )
    aioresponses_mock.get(
        PROSPECTS, body=EMPTY_PAGE, headers={**budget, "X-RateLimit-Remaining": "9000"}
    )

    response = await transport.send(Request.get(PROSPECTS))

    assert response.status == 200
    assert fake_clock.elapsed >= 5.0  # the 429 was waited out, on the injected clock only


# -- aiohttp errors -> TransportError ------------------------------------------------------------


def _connector_error() -> aiohttp.ClientConnectorError:
    key: Any = SimpleNamespace(host="api.outreach.test", port=443, ssl=True)
    return aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "Connection refused"))


@pytest.mark.parametrize(
    ("raised", "error_class", "sent"),
    [
        (_connector_error(), ConnectError, False),
        (aiohttp.ConnectionTimeoutError("connect"), RequestTimeout, False),
        (aiohttp.ServerDisconnectedError(), ConnectError, None),
        (aiohttp.ClientPayloadError("truncated"), ConnectError, None),
        (aiohttp.ClientOSError(104, "Connection reset by peer"), ConnectError, None),
        (aiohttp.SocketTimeoutError("read"), RequestTimeout, None),
        (TimeoutError(), RequestTimeout, None),
    ],
)
def test_aiohttp_errors_map_to_transport_errors(
    raised: BaseException, error_class: type[OutreachError], sent: bool | None
) -> None:
    error = map_client_error(raised, method="GET", url=PROSPECTS)

    assert type(error) is error_class
    assert (error.method, error.url, error.sent) == ("GET", str(PROSPECTS), sent)
    assert MAY_HAVE_TAKEN_EFFECT not in str(error)


def test_a_write_that_may_have_arrived_says_so() -> None:
    lost = map_client_error(
        aiohttp.ServerDisconnectedError(), method="POST", url=PROSPECTS, idempotent=False
    )
    refused = map_client_error(_connector_error(), method="POST", url=PROSPECTS, idempotent=False)

    assert MAY_HAVE_TAKEN_EFFECT in str(lost)
    assert MAY_HAVE_TAKEN_EFFECT not in str(refused)


async def test_timeouts_are_retried_for_a_get_and_chained(
    transport: Transport, fake_clock: FakeClock, aioresponses_mock: aioresponses
) -> None:
    for _ in range(4):
        aioresponses_mock.get(PROSPECTS, exception=TimeoutError())

    with pytest.raises(RequestTimeout) as caught:
        await transport.send(Request.get(PROSPECTS))

    assert isinstance(caught.value.__cause__, TimeoutError)
    assert caught.value.sent is None
    assert len(fake_clock.sleeps) == 3
    assert "gave up after 3 retries" in str(caught.value)


async def test_post_is_retried_when_the_connection_was_refused(
    transport: Transport, aioresponses_mock: aioresponses
) -> None:
    aioresponses_mock.post(PROSPECTS, exception=_connector_error())
    aioresponses_mock.post(PROSPECTS, status=201, body=b'{"data": {"type": "prospect", "id": 1}}')

    response = await transport.send(Request("POST", PROSPECTS, body=b"{}", idempotent=False))

    assert response.status == 201
    assert len(aioresponses_mock.requests[("POST", PROSPECTS)]) == 2


async def test_post_timeout_is_not_retried(
    transport: Transport, fake_clock: FakeClock, aioresponses_mock: aioresponses
) -> None:
    aioresponses_mock.post(PROSPECTS, exception=TimeoutError())

    with pytest.raises(RequestTimeout) as caught:
        await transport.send(Request("POST", PROSPECTS, body=b"{}", idempotent=False))

    assert MAY_HAVE_TAKEN_EFFECT in str(caught.value)
    assert fake_clock.sleeps == []


async def test_connection_refused_on_loopback_is_a_connect_error_never_sent(
    fake_clock: FakeClock,
) -> None:
    base = URL(f"http://127.0.0.1:{free_port()}/api/v2")
    transport = make_transport(fake_clock, base_url=base, retry=RetryPolicy(max_retries=2))
    tries: list[RequestEvent] = []
    transport.hooks.on_request = tries.append

    with pytest.raises(ConnectError) as caught:
        await transport.send(Request("POST", base / "prospects", body=b"{}", idempotent=False))

    assert caught.value.sent is False
    assert isinstance(caught.value.__cause__, aiohttp.ClientConnectorError)
    assert len(tries) == 3  # refused: provably never arrived, so even a POST is retried


async def test_post_whose_connection_drops_after_sending_is_not_duplicated(
    fake_clock: FakeClock, serve: Serve
) -> None:
    received: list[bytes] = []

    async def drop(request: web.Request) -> web.Response:
        received.append(await request.read())
        assert request.transport is not None
        request.transport.close()  # the write arrived; the answer never leaves
        return web.Response()

    app = web.Application()
    app.router.add_post("/api/v2/prospects", drop)
    base = await serve(app) / "api/v2"
    transport = make_transport(fake_clock, base_url=base)

    with pytest.raises(ConnectError) as caught:
        await transport.send(Request("POST", base / "prospects", body=b"{}", idempotent=False))

    assert received == [b"{}"]
    assert caught.value.sent is None
    assert MAY_HAVE_TAKEN_EFFECT in str(caught.value)
    assert isinstance(caught.value.__cause__, aiohttp.ClientError)


async def test_slow_answer_past_the_timeout_is_a_request_timeout(
    fake_clock: FakeClock, serve: Serve
) -> None:
    never = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await never.wait()
        return web.Response()

    app = web.Application()
    app.router.add_get("/api/v2/prospects", hang)
    base = await serve(app) / "api/v2"
    transport = make_transport(
        fake_clock, base_url=base, timeout=0.05, retry=RetryPolicy(max_retries=0)
    )

    with pytest.raises(RequestTimeout) as caught:
        await transport.send(Request.get(base / "prospects"))

    assert isinstance(caught.value.__cause__, TimeoutError)
    never.set()


# -- 401 and token refresh -----------------------------------------------------------------------


async def test_401_refreshes_once_and_retries_once(
    fake_clock: FakeClock, aioresponses_mock: aioresponses
) -> None:
    auth = CountingToken("old-token", "new-token")
    transport = make_transport(fake_clock, auth=auth)
    aioresponses_mock.get(PROSPECTS, status=401, body=b"Invalid access token")
    aioresponses_mock.get(PROSPECTS, body=EMPTY_PAGE)

    response = await transport.send(Request.get(PROSPECTS))

    assert response.status == 200
    assert auth.refreshed == ["old-token"]
    assert sent_headers(aioresponses_mock, "GET", PROSPECTS, 1)["Authorization"] == (
        "Bearer new-token"
    )
    assert fake_clock.sleeps == []


async def test_a_second_401_after_the_refresh_raises(
    fake_clock: FakeClock, aioresponses_mock: aioresponses
) -> None:
    auth = CountingToken("t1", "t2", "t3")
    transport = make_transport(fake_clock, auth=auth)
    aioresponses_mock.get(PROSPECTS, status=401, body=b"", repeat=True)

    with pytest.raises(AuthenticationError):
        await transport.send(Request.get(PROSPECTS))

    assert auth.refreshed == ["t1"]
    assert len(aioresponses_mock.requests[("GET", PROSPECTS)]) == 2


# -- concurrency: slots only while on the wire ---------------------------------------------------


async def test_never_more_than_max_concurrency_in_flight(
    fake_clock: FakeClock, serve: Serve
) -> None:
    in_flight = 0
    peak = 0

    async def slow(request: web.Request) -> web.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.005)
        in_flight -= 1
        return web.Response(body=EMPTY_PAGE, content_type=JSONAPI)

    app = web.Application()
    app.router.add_get("/api/v2/prospects", slow)
    base = await serve(app) / "api/v2"
    transport = make_transport(fake_clock, base_url=base, max_concurrency=3)

    responses = await asyncio.gather(
        *(transport.send(Request.get(base / "prospects")) for _ in range(30))
    )

    assert [r.status for r in responses] == [200] * 30
    assert peak == 3


async def test_backoff_sleeps_hold_no_slot(aioresponses_mock: aioresponses) -> None:
    gate = asyncio.Event()
    sleeping = asyncio.Event()

    async def blocking_sleep(seconds: float) -> None:
        sleeping.set()
        await gate.wait()

    clock = FakeClock()
    transport = make_transport(clock, max_concurrency=1, sleep=blocking_sleep)
    slow_url, other_url = BASE / "a", BASE / "b"
    aioresponses_mock.get(slow_url, status=503, body=b"")
    aioresponses_mock.get(slow_url, body=EMPTY_PAGE)
    aioresponses_mock.get(other_url, body=EMPTY_PAGE)

    first = asyncio.create_task(transport.send(Request.get(slow_url)))
    await sleeping.wait()
    # The only slot is free while the first request backs off: the second one goes through.
    other = await asyncio.wait_for(transport.send(Request.get(other_url)), timeout=5)
    gate.set()

    assert other.status == 200
    assert (await first).status == 200


async def test_rate_limiter_waits_hold_no_slot(aioresponses_mock: aioresponses) -> None:
    gate = asyncio.Event()
    waiting = asyncio.Event()

    class HoldFirst(RecordingLimiter):
        async def acquire(self) -> None:
            await super().acquire()
            if self.acquired == 1:
                waiting.set()
                await gate.wait()

    transport = make_transport(FakeClock(), max_concurrency=1, rate_limiter=HoldFirst())
    aioresponses_mock.get(PROSPECTS, body=EMPTY_PAGE, repeat=True)

    first = asyncio.create_task(transport.send(Request.get(PROSPECTS)))
    await waiting.wait()
    second = await asyncio.wait_for(transport.send(Request.get(PROSPECTS)), timeout=5)
    gate.set()

    assert second.status == 200
    assert (await first).status == 200


# -- session lifecycle ---------------------------------------------------------------------------


async def test_a_users_session_is_used_and_left_open(
    fake_clock: FakeClock, aioresponses_mock: aioresponses
) -> None:
    aioresponses_mock.get(PROSPECTS, body=EMPTY_PAGE)
    async with aiohttp.ClientSession() as session:
        transport = make_transport(fake_clock, session=session)
        await transport.send(Request.get(PROSPECTS))
        await transport.aclose()

        assert transport.closed
        assert not session.closed


async def test_own_session_is_created_lazily_and_closed(
    fake_clock: FakeClock, aioresponses_mock: aioresponses
) -> None:
    transport = make_transport(fake_clock)  # constructed outside any request: no session yet
    assert session_of(transport) is None
    aioresponses_mock.get(PROSPECTS, body=EMPTY_PAGE)
    await transport.send(Request.get(PROSPECTS))
    session = session_of(transport)
    assert session is not None

    await transport.aclose()

    assert session.closed
    with pytest.raises(OutreachError, match="closed"):
        await transport.send(Request.get(PROSPECTS))


def test_construction_needs_no_running_loop() -> None:
    transport = Transport(base_url=BASE, auth=StaticToken(TOKEN))
    assert not transport.closed


# -- hooks, trace configs, logs ------------------------------------------------------------------


async def test_hooks_receive_request_and_response_events_sync_or_async(
    fake_clock: FakeClock, aioresponses_mock: aioresponses
) -> None:
    requests: list[RequestEvent] = []
    responses: list[ResponseEvent] = []

    async def on_response(event: ResponseEvent) -> None:
        responses.append(event)

    hooks = Hooks(on_request=requests.append, on_response=on_response)
    transport = make_transport(fake_clock, hooks=hooks)
    url = PROSPECTS.with_query({"access_token": TOKEN, "page[size]": "5"})
    aioresponses_mock.get(url, body=EMPTY_PAGE)

    await transport.send(Request.get(url, operation="prospects.list"))

    shown = safe_url(url)
    assert TOKEN not in shown
    assert requests == [RequestEvent("GET", shown, "prospects.list", 1)]
    assert responses == [ResponseEvent("GET", shown, "prospects.list", 1, 200, 0.0)]


@given(
    secret=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=4).map(
        lambda s: "zq" + s
    ),
    name=st.sampled_from(["access_token", "client_secret", "api_key", "code", "Signature"]),
    others=st.dictionaries(
        st.sampled_from(["page[after]", "sort", "count"]), st.text("xyz-_ ,"), max_size=3
    ),
)
def test_safe_url_never_shows_a_secret_query_value(
    secret: str, name: str, others: dict[str, str]
) -> None:
    url = PROSPECTS.with_query({**others, name: secret}).with_user("me").with_password(secret)

    shown = safe_url(url)

    assert secret not in shown
    assert URL(shown).query.get(name) == "REDACTED"
    assert {k: URL(shown).query[k] for k in others} == others  # cursors and the like stay


async def test_limiter_waits_are_reported(
    fake_clock: FakeClock, aioresponses_mock: aioresponses
) -> None:
    class Slow(RecordingLimiter):
        async def acquire(self) -> None:
            await fake_clock.sleep(2.5)

    events: list[RateLimitEvent] = []
    transport = make_transport(
        fake_clock, rate_limiter=Slow(), hooks=Hooks(on_rate_limit=events.append)
    )
    aioresponses_mock.get(PROSPECTS, body=EMPTY_PAGE)

    await transport.send(Request.get(PROSPECTS))

    assert events == [RateLimitEvent("GET", str(PROSPECTS), "", None, 2.5)]


async def test_trace_configs_reach_the_session(fake_clock: FakeClock, serve: Serve) -> None:
    started: list[str] = []

    async def on_request_start(
        session: aiohttp.ClientSession, context: Any, params: aiohttp.TraceRequestStartParams
    ) -> None:
        started.append(params.method)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request_start)

    async def ok(request: web.Request) -> web.Response:
        return web.Response(body=EMPTY_PAGE)

    app = web.Application()
    app.router.add_get("/api/v2/prospects", ok)
    base = await serve(app) / "api/v2"
    transport = make_transport(fake_clock, base_url=base, trace_configs=[trace])

    await transport.send(Request.get(base / "prospects"))

    assert started == ["GET"]


async def test_real_headers_on_the_wire(fake_clock: FakeClock, serve: Serve) -> None:
    seen: list[Mapping[str, str]] = []

    async def record(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        return web.Response(body=EMPTY_PAGE)

    app = web.Application()
    app.router.add_get("/api/v2/prospects", record)
    base = await serve(app) / "api/v2"
    transport = make_transport(fake_clock, base_url=base)

    await transport.send(Request.get(base / "prospects"))

    [headers] = seen
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["Content-Type"] == JSONAPI  # on a GET too, as the docs require
    assert headers["Accept"] == JSONAPI


async def test_post_form_sends_no_bearer_token(
    transport: Transport, aioresponses_mock: aioresponses
) -> None:
    token_url = URL("https://api.outreach.test/oauth/token")
    aioresponses_mock.post(token_url, status=429, body=b"", headers={"Retry-After": "60"})

    response = await transport.post_form(token_url, {"grant_type": "refresh_token"})

    assert response.status == 429  # statuses come back as they are; the provider decides
    call = aioresponses_mock.requests[("POST", token_url)][0]
    assert "Authorization" not in call.kwargs["headers"]
    assert call.kwargs["data"] == {"grant_type": "refresh_token"}


async def test_tokens_never_reach_reprs_logs_or_error_messages(
    fake_clock: FakeClock, aioresponses_mock: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="outreach_async")
    auth = StaticToken(TOKEN)
    transport = make_transport(fake_clock, auth=auth)
    leaky = PROSPECTS.with_query({"access_token": TOKEN})
    aioresponses_mock.get(leaky, status=503, body=b"")
    aioresponses_mock.get(leaky, status=401, body=b"Invalid access token")
    aioresponses_mock.post(PROSPECTS, exception=aiohttp.ServerDisconnectedError())

    errors: list[BaseException] = []
    for request in (Request.get(leaky), Request("POST", PROSPECTS, idempotent=False)):
        with pytest.raises(OutreachError) as caught:
            await transport.send(request)
        errors.append(caught.value)

    assert caplog.records  # the DEBUG log did run
    texts = [caplog.text, repr(auth), str(auth), repr(transport)]
    texts += [str(e) for e in errors] + [repr(e) for e in errors]
    texts += [getattr(e, "url", "") for e in errors]
    for text in texts:
        assert TOKEN not in text
