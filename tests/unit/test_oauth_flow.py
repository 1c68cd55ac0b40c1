"""The authorization-code flow's parts: the authorize URL, the code exchange, the loopback
listener (end to end against the sandbox: tests/integration/test_auth_sandbox.py)."""

from __future__ import annotations

import asyncio
import urllib.parse
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict
from yarl import URL

from outreach_async._exceptions import (
    AuthenticationError,
    QueryError,
    RateLimitError,
    ResponseFormatError,
)
from outreach_async._http import Response
from outreach_async.auth import (
    AuthorizationError,
    LoopbackRedirect,
    TokenSet,
    TokenStore,
    authorize_url,
    exchange_code,
    login,
)
from outreach_async.auth._login import new_state
from tests.clock import WALL_EPOCH, FakeClock

TOKEN_URL = URL("https://api.outreach.test/oauth/token")
SECRET = "client-secret-do-not-print"
REDIRECT = "http://127.0.0.1:8765/callback"

# -- the authorize URL --------------------------------------------------------------------------


def test_the_authorize_url_carries_every_parameter_percent_encoded() -> None:
    url = authorize_url("abc", REDIRECT, ["prospects.read", "accounts.all"], state="xyz")
    assert url == (
        "https://api.outreach.io/oauth/authorize?client_id=abc"
        "&redirect_uri=http%3A%2F%2F127.0.0.1%3A8765%2Fcallback&response_type=code"
        "&scope=prospects.read%20accounts.all&state=xyz"
    )


def test_scopes_may_be_one_string_and_repeats_are_dropped() -> None:
    url = URL(authorize_url("abc", REDIRECT, "prospects.read, accounts.read prospects.read"))
    assert url.query["scope"] == "prospects.read accounts.read"
    assert "state" not in url.query


def test_a_base_with_a_query_keeps_it() -> None:
    url = URL(authorize_url("abc", REDIRECT, "prospects.read", base="http://127.0.0.1:1/a?x=1"))
    assert url.query["x"] == "1"
    assert url.query["client_id"] == "abc"


@pytest.mark.parametrize("scopes", [[], "", " , ", [""]])
def test_no_scope_is_refused(scopes: Any) -> None:
    with pytest.raises(QueryError, match="at least one scope"):
        authorize_url("abc", REDIRECT, scopes)


@given(
    client_id=st.text(min_size=1),
    redirect=st.text(min_size=1),
    scopes=st.lists(st.from_regex(r"[A-Za-z+&=%#.]{1,12}", fullmatch=True), min_size=1),
    state=st.text(),
)
def test_every_value_survives_encoding(
    client_id: str, redirect: str, scopes: list[str], state: str
) -> None:
    url = authorize_url(client_id, redirect, scopes, state)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query, keep_blank_values=True)
    assert query["client_id"] == [client_id]
    assert query["redirect_uri"] == [redirect]
    assert query["scope"] == [" ".join(dict.fromkeys(scopes))]
    assert query["state"] == [state]


def test_states_are_unguessable_and_distinct() -> None:
    states = {new_state() for _ in range(100)}
    assert len(states) == 100
    assert all(len(s) >= 43 for s in states)  # 32 random bytes, base64


# -- the code exchange --------------------------------------------------------------------------


def answer(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
    return Response(status, CIMultiDict(headers or {}), orjson.dumps(body), TOKEN_URL, "POST")


class FakeTokenEndpoint:
    def __init__(self, *answers: Response) -> None:
        self.answers = list(answers)
        self.forms: list[dict[str, str]] = []

    async def __call__(self, url: URL, data: Mapping[str, str]) -> Response:
        assert url == TOKEN_URL
        self.forms.append(dict(data))
        return self.answers.pop(0)


async def exchange(endpoint: FakeTokenEndpoint, clock: FakeClock) -> TokenSet:
    return await exchange_code(
        "the-code",
        client_id="abc",
        client_secret=SECRET,
        redirect_uri=REDIRECT,
        token_url=TOKEN_URL,
        poster=endpoint,
        clock=clock.time,
        sleep=clock.sleep,
    )


async def test_the_code_is_exchanged_with_the_authorization_code_grant(
    fake_clock: FakeClock,
) -> None:
    granted = {"access_token": "a1", "refresh_token": "r1", "expires_in": 7200}
    endpoint = FakeTokenEndpoint(answer(200, granted))
    tokens = await exchange(endpoint, fake_clock)
    assert endpoint.forms == [
        {
            "grant_type": "authorization_code",
            "code": "the-code",
            "redirect_uri": REDIRECT,
            "client_id": "abc",
            "client_secret": SECRET,
        }
    ]
    assert tokens == TokenSet("a1", "r1", WALL_EPOCH + 7200)


async def test_a_refused_code_raises_with_the_reason_and_no_secret(fake_clock: FakeClock) -> None:
    refusal = {"error": "invalid_grant", "error_description": "The code is invalid or expired."}
    endpoint = FakeTokenEndpoint(answer(400, refusal))
    with pytest.raises(AuthenticationError) as caught:
        await exchange(endpoint, fake_clock)
    assert "invalid_grant" in str(caught.value)
    assert caught.value.status == 400
    assert SECRET not in str(caught.value)
    assert "the-code" not in str(caught.value)


async def test_the_mint_throttle_is_waited_out(fake_clock: FakeClock) -> None:
    throttled = answer(429, {"error": "rate_limit_exceeded"}, {"Retry-After": "42"})
    granted = answer(200, {"access_token": "a1", "refresh_token": "r1"})
    endpoint = FakeTokenEndpoint(throttled, granted)
    tokens = await exchange(endpoint, fake_clock)
    assert fake_clock.sleeps == [42.0]
    assert len(endpoint.forms) == 2
    assert tokens.expires_at == WALL_EPOCH + 42 + 7200  # 2 h when expires_in is left out


async def test_endless_throttling_gives_up(fake_clock: FakeClock) -> None:
    endpoint = FakeTokenEndpoint(*[answer(429, {}) for _ in range(5)])
    with pytest.raises(RateLimitError):
        await exchange(endpoint, fake_clock)
    assert fake_clock.sleeps == [60.0] * 5


async def test_an_answer_without_a_refresh_token_is_a_format_error(fake_clock: FakeClock) -> None:
    endpoint = FakeTokenEndpoint(answer(200, {"access_token": "a1"}))
    with pytest.raises(ResponseFormatError, match="refresh_token"):
        await exchange(endpoint, fake_clock)


# -- the loopback listener ----------------------------------------------------------------------


@pytest.fixture
async def browser() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def visit(browser: aiohttp.ClientSession, url: str, **query: str) -> int:
    async with browser.get(URL(url).with_query(query)) as page:
        await page.read()
        return page.status


async def read_page(browser: aiohttp.ClientSession, url: str, **query: str) -> tuple[int, str]:
    async with browser.get(URL(url).with_query(query)) as page:
        return page.status, await page.text()


async def test_the_listener_takes_the_code_of_a_redirect_with_its_state(
    browser: aiohttp.ClientSession,
) -> None:
    async with LoopbackRedirect("s1") as listener:
        assert URL(listener.redirect_uri).host == "127.0.0.1"
        assert URL(listener.redirect_uri).path == "/callback"
        page = asyncio.create_task(read_page(browser, listener.redirect_uri, code="c1", state="s1"))
        assert await listener.code() == "c1"
        listener.finish()
        status, text = await page
        assert status == 200
        assert "<h1>Logged in</h1>" in text
        assert await visit(browser, listener.redirect_uri, code="c2", state="s1") == 409
        assert await listener.code() == "c1"


async def test_the_page_waits_for_the_verdict_and_tells_a_failure(
    browser: aiohttp.ClientSession,
) -> None:
    async with LoopbackRedirect("s1") as listener:
        page = asyncio.create_task(read_page(browser, listener.redirect_uri, code="c1", state="s1"))
        await listener.code()
        for _ in range(20):
            await asyncio.sleep(0)
        assert not page.done()  # no "Logged in" before the tokens are saved
        listener.finish("The login failed: the token endpoint said <invalid_client>.")
        status, text = await page
    assert status == 500
    assert "Login failed" in text
    assert "&lt;invalid_client&gt;" in text  # the reason, escaped


async def test_a_listener_closed_without_a_verdict_says_the_login_did_not_finish(
    browser: aiohttp.ClientSession,
) -> None:
    listener = await LoopbackRedirect("s1").start()
    page = asyncio.create_task(read_page(browser, listener.redirect_uri, code="c1", state="s1"))
    await listener.code()
    await listener.aclose()
    status, text = await page
    assert status == 500
    assert "did not finish" in text or "stopped before it finished" in text


async def test_a_redirect_with_another_state_is_refused(browser: aiohttp.ClientSession) -> None:
    async with LoopbackRedirect("s1") as listener:
        assert await visit(browser, listener.redirect_uri, code="forged", state="s2") == 400
        with pytest.raises(AuthorizationError, match="state"):
            await listener.code()


async def test_a_redirect_without_state_is_refused(browser: aiohttp.ClientSession) -> None:
    async with LoopbackRedirect("s1") as listener:
        assert await visit(browser, listener.redirect_uri, code="forged") == 400
        with pytest.raises(AuthorizationError, match="state"):
            await listener.code()


async def test_a_denied_authorization_says_why(browser: aiohttp.ClientSession) -> None:
    async with LoopbackRedirect("s1") as listener:
        status = await visit(
            browser,
            listener.redirect_uri,
            error="access_denied",
            error_description="The user said no",
            state="s1",
        )
        assert status == 400
        with pytest.raises(AuthorizationError, match="The user said no"):
            await listener.code()


async def test_other_paths_change_nothing(browser: aiohttp.ClientSession) -> None:
    async with LoopbackRedirect("s1") as listener:
        origin = URL(listener.redirect_uri).origin()
        assert await visit(browser, str(origin / "favicon.ico")) == 404
        page = asyncio.create_task(visit(browser, listener.redirect_uri, code="c1", state="s1"))
        assert await listener.code() == "c1"
        listener.finish()
        assert await page == 200


class NoStore(TokenStore):
    async def load(self) -> TokenSet | None:
        return None

    async def save(self, tokens: TokenSet) -> None:
        raise AssertionError("nothing should be saved")


async def test_a_login_nobody_finishes_ends_with_a_clear_error() -> None:
    shown: list[str] = []
    with pytest.raises(AuthorizationError, match="no authorization arrived"):
        await login(
            client_id="abc",
            client_secret=SECRET,
            scopes="prospects.read",
            store=NoStore(),
            open_url=None,
            announce=shown.append,
            browser_timeout=0.01,
        )
    assert len(shown) == 1
    assert URL(shown[0]).query["redirect_uri"].startswith("http://127.0.0.1:")
    assert SECRET not in shown[0]
