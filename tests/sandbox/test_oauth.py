"""The sandbox's OAuth server: token issuance, rotation, throttle, the routes and the 401s."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator
from typing import Literal

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from outreach_async.sandbox.oauth import (
    OAuthError,
    TokenAuthority,
    add_oauth_routes,
    auth_middleware,
    required_scope,
)
from outreach_async.sandbox.ratelimit import USER_ID_KEY
from tests.clock import FakeClock

REDIRECT = "http://127.0.0.1:9/callback"
CLIENT = {"client_id": "sandbox-client", "client_secret": "sandbox-secret"}


def _code_params(code: str) -> dict[str, str]:
    return {**CLIENT, "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}


def _refresh_params(token: str) -> dict[str, str]:
    return {**CLIENT, "grant_type": "refresh_token", "refresh_token": token}


def _refuse(authority: TokenAuthority, params: dict[str, str]) -> OAuthError:
    with pytest.raises(OAuthError) as caught:
        authority.grant(params)
    return caught.value


# -- the authority, pure --


def test_static_token_never_expires_and_is_unrestricted() -> None:
    clock = FakeClock()
    authority = TokenAuthority(clock=clock)
    token = authority.issue_static_token()
    clock.now += 10 * 365 * 86400
    assert authority.is_valid(token)
    assert authority.user_of(token) == 1
    assert authority.scopes_of(token) is None
    assert authority.mint_count == 0
    assert not authority.is_valid("not-a-token")


def test_code_exchange_answers_the_documented_fields_and_the_token_lives_two_hours() -> None:
    clock = FakeClock(1_700_000_000.25)
    authority = TokenAuthority(clock=clock)
    code = authority.issue_authorization_code(REDIRECT, "prospects.read accounts.all")
    answer = authority.grant(_code_params(code))
    assert set(answer) == {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "scope",
        "created_at",
    }
    assert answer["token_type"] == "bearer"
    assert answer["expires_in"] == 7200
    assert answer["scope"] == "prospects.read accounts.all"
    assert answer["created_at"] == 1_700_000_000
    assert authority.scopes_of(answer["access_token"]) == frozenset(
        {"prospects.read", "accounts.all"}
    )
    assert answer["refresh_token"] in authority.refresh_tokens
    assert authority.mint_count == 1
    clock.now += 7199
    assert authority.is_valid(answer["access_token"])
    clock.now += 1
    assert not authority.is_valid(answer["access_token"])


def test_a_code_works_once_and_only_with_its_redirect_uri() -> None:
    clock = FakeClock()
    authority = TokenAuthority(clock=clock)
    code = authority.issue_authorization_code(REDIRECT)
    mismatch = _refuse(authority, {**_code_params(code), "redirect_uri": "http://127.0.0.1/x"})
    assert (mismatch.status, mismatch.error) == (400, "invalid_grant")
    authority.grant(_code_params(code))
    clock.now += 61
    reused = _refuse(authority, _code_params(code))
    assert (reused.status, reused.error) == (400, "invalid_grant")


def test_a_code_expires_after_ten_minutes() -> None:
    clock = FakeClock()
    authority = TokenAuthority(clock=clock)
    code = authority.issue_authorization_code(REDIRECT)
    clock.now += 600
    assert _refuse(authority, _code_params(code)).error == "invalid_grant"


def test_wrong_client_credentials_are_401_invalid_client() -> None:
    authority = TokenAuthority()
    code = authority.issue_authorization_code(REDIRECT)
    refused = _refuse(authority, {**_code_params(code), "client_secret": "guess"})
    assert (refused.status, refused.error) == (401, "invalid_client")
    assert authority.mint_count == 0


def test_unknown_grant_type_is_400() -> None:
    refused = _refuse(TokenAuthority(), {**CLIENT, "grant_type": "password"})
    assert (refused.status, refused.error) == (400, "unsupported_grant_type")


def test_refresh_rotates_and_keeps_the_old_token_by_default() -> None:
    clock = FakeClock()
    authority = TokenAuthority(clock=clock)
    first = authority.issue_refresh_token()
    answer = authority.grant(_refresh_params(first))
    assert answer["refresh_token"] != first
    assert authority.refresh_tokens == {first, answer["refresh_token"]}
    clock.now += 60
    authority.grant(_refresh_params(first))  # the lenient mode: old tokens still work
    assert authority.mint_count == 2


def test_strict_rotation_spends_the_presented_refresh_token() -> None:
    clock = FakeClock()
    authority = TokenAuthority(clock=clock, strict_rotation=True)
    first = authority.issue_refresh_token()
    second = authority.grant(_refresh_params(first))["refresh_token"]
    assert authority.refresh_tokens == {second}
    clock.now += 60
    assert _refuse(authority, _refresh_params(first)).error == "invalid_grant"
    assert authority.grant(_refresh_params(second))["refresh_token"] != second


def test_without_rotation_the_same_refresh_token_comes_back() -> None:
    authority = TokenAuthority(rotate_refresh_tokens=False)
    token = authority.issue_refresh_token()
    assert authority.grant(_refresh_params(token))["refresh_token"] == token


def test_refresh_tokens_die_after_fourteen_days_or_enough_newer_ones() -> None:
    clock = FakeClock()
    authority = TokenAuthority(clock=clock, max_refresh_tokens=3, mint_throttle=0)
    oldest = authority.issue_refresh_token()
    newer = [authority.issue_refresh_token() for _ in range(2)]
    assert oldest in authority.refresh_tokens
    authority.issue_refresh_token()
    assert oldest not in authority.refresh_tokens
    assert _refuse(authority, _refresh_params(oldest)).error == "invalid_grant"
    clock.now += 14 * 86400
    assert not authority.refresh_tokens
    assert _refuse(authority, _refresh_params(newer[-1])).error == "invalid_grant"


def test_a_second_mint_within_sixty_seconds_is_429_and_spends_nothing() -> None:
    clock = FakeClock()
    authority = TokenAuthority(clock=clock, strict_rotation=True)
    current = authority.grant(_refresh_params(authority.issue_refresh_token()))["refresh_token"]
    clock.now += 59.5
    throttled = _refuse(authority, _refresh_params(current))
    assert (throttled.status, throttled.retry_after) == (429, 1)
    assert current in authority.refresh_tokens
    assert (authority.mint_count, authority.throttled_count) == (1, 1)
    clock.now += 0.5
    authority.grant(_refresh_params(current))
    assert authority.mint_count == 2


def test_expire_makes_access_and_refresh_tokens_invalid() -> None:
    authority = TokenAuthority()
    access = authority.issue_static_token()
    refresh = authority.issue_refresh_token()
    authority.expire(access)
    authority.expire(refresh)
    assert not authority.is_valid(access)
    assert refresh not in authority.refresh_tokens


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("GET", "/api/v2/prospects", "prospects.read"),
        ("GET", "/api/v2/prospects/1", "prospects.read"),
        ("PATCH", "/api/v2/prospects/1", "prospects.write"),
        ("POST", "/api/v2/sequenceStates/4/actions/pause", "sequenceStates.write"),
        ("DELETE", "/api/v2/accounts/3", "accounts.delete"),
        ("GET", "/api/v2", None),
    ],
)
def test_required_scope_follows_resource_and_method(
    method: str, path: str, scope: str | None
) -> None:
    assert required_scope(method, path) == scope


# -- over loopback --


async def _whoami(request: web.Request) -> web.Response:
    return web.json_response({"user": request.get(USER_ID_KEY)})


def _app(authority: TokenAuthority, style: Literal["text", "gateway"] = "text") -> web.Application:
    app = web.Application(middlewares=[auth_middleware(authority, unauthorized_body=style)])
    add_oauth_routes(app, authority)
    app.router.add_route("*", "/api/v2/{tail:.*}", _whoami)
    app.router.add_get("/health", _whoami)
    return app


@contextlib.asynccontextmanager
async def _served(app: web.Application) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


async def test_token_endpoint_accepts_form_and_json_bodies() -> None:
    clock = FakeClock()
    authority = TokenAuthority(clock=clock)
    async with _served(_app(authority)) as client:
        form = await client.post(
            "/oauth/token", data=_refresh_params(authority.issue_refresh_token())
        )
        form_body = await form.json()
        clock.now += 60
        payload = orjson.dumps(_refresh_params(form_body["refresh_token"]))
        as_json = await client.post(
            "/oauth/token", data=payload, headers={"Content-Type": "application/json"}
        )
        json_body = await as_json.json()
    assert (form.status, as_json.status) == (200, 200)
    assert authority.is_valid(form_body["access_token"])
    assert authority.is_valid(json_body["access_token"])
    assert json_body["refresh_token"] != form_body["refresh_token"]


async def test_token_endpoint_errors_are_oauth_shaped_and_429_has_retry_after() -> None:
    clock = FakeClock()
    authority = TokenAuthority(clock=clock)
    async with _served(_app(authority)) as client:
        bad = await client.post("/oauth/token", data=_refresh_params("unknown"))
        bad_body = await bad.json()
        basic = {
            "Authorization": "Basic " + base64.b64encode(b"sandbox-client:sandbox-secret").decode()
        }
        params = {"grant_type": "refresh_token", "refresh_token": authority.issue_refresh_token()}
        ok = await client.post("/oauth/token", data=params, headers=basic)
        again = await client.post(
            "/oauth/token", data=_refresh_params(authority.issue_refresh_token())
        )
        again_body = await again.json()
        broken = await client.post(
            "/oauth/token", data=b"{", headers={"Content-Type": "application/json"}
        )
    assert bad.status == 400
    assert bad_body["error"] == "invalid_grant"
    assert isinstance(bad_body["error_description"], str)
    assert ok.status == 200
    assert again.status == 429
    assert again.headers["Retry-After"] == "60"
    assert again_body["error"] == "rate_limit_exceeded"
    assert broken.status == 400


async def test_authorize_redirects_with_a_code_that_can_be_exchanged() -> None:
    authority = TokenAuthority()
    query = {
        "client_id": "sandbox-client",
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "prospects.all",
        "state": "xyz",
    }
    async with _served(_app(authority)) as client:
        redirect = await client.get("/oauth/authorize", params=query, allow_redirects=False)
        location = URL(redirect.headers["Location"])
        exchanged = await client.post("/oauth/token", data=_code_params(location.query["code"]))
        exchanged_body = await exchanged.json()
        stranger = await client.get(
            "/oauth/authorize", params={**query, "client_id": "other"}, allow_redirects=False
        )
        wrong_type = await client.get(
            "/oauth/authorize", params={**query, "response_type": "token"}, allow_redirects=False
        )
    assert redirect.status == 302
    assert str(location.with_query(None)) == REDIRECT
    assert location.query["state"] == "xyz"
    assert exchanged.status == 200
    assert exchanged_body["scope"] == "prospects.all"
    assert stranger.status == 400
    assert "Location" not in stranger.headers
    assert URL(wrong_type.headers["Location"]).query["error"] == "unsupported_response_type"


async def test_missing_bad_or_expired_tokens_get_a_plain_text_401() -> None:
    authority = TokenAuthority()
    expired = authority.issue_static_token()
    authority.expire(expired)
    async with _served(_app(authority)) as client:
        answers = [
            await client.get("/api/v2/prospects"),
            await client.get("/api/v2/prospects", headers={"Authorization": "Bearer nope"}),
            await client.get("/api/v2/prospects", headers={"Authorization": f"Bearer {expired}"}),
            await client.get("/api/v2/prospects", headers={"Authorization": "Basic abc"}),
        ]
        texts = [await answer.text() for answer in answers]
        outside = await client.get("/health")
    assert [answer.status for answer in answers] == [401, 401, 401, 401]
    assert texts == ["Invalid access token"] * 4
    assert answers[0].content_type == "text/plain"
    assert outside.status == 200


async def test_gateway_style_401_is_json_but_not_json_api() -> None:
    async with _served(_app(TokenAuthority(), style="gateway")) as client:
        answer = await client.get("/api/v2/prospects")
        body = await answer.json()
    assert answer.status == 401
    assert body == {
        "error": "Invalid JWT token.",
        "description": "The JWT token could not be decoded.",
    }


async def test_valid_token_passes_and_names_the_user_for_the_rate_limiter() -> None:
    authority = TokenAuthority(user_id=42)
    token = authority.issue_static_token()
    async with _served(_app(authority)) as client:
        answer = await client.get("/api/v2/prospects", headers={"Authorization": f"bearer {token}"})
        body = await answer.json()
    assert answer.status == 200
    assert body == {"user": 42}


async def test_scoped_tokens_get_403_unauthorized_oauth_scope_for_what_they_lack() -> None:
    authority = TokenAuthority()
    token = authority.issue_static_token("prospects.read accounts.all")
    headers = {"Authorization": f"Bearer {token}"}
    async with _served(_app(authority)) as client:
        read = await client.get("/api/v2/prospects", headers=headers)
        write = await client.post("/api/v2/prospects", headers=headers)
        account_delete = await client.delete("/api/v2/accounts/1", headers=headers)
        body = orjson.loads(await write.read())
    assert (read.status, write.status, account_delete.status) == (200, 403, 200)
    assert write.content_type == "application/vnd.api+json"
    [error] = body["errors"]
    assert error["id"] == "unauthorizedOauthScope"
    assert error["detail"] == (
        "Your authorization does not include the required scope 'prospects.write'."
    )


def _jwt(claims: dict[str, object]) -> str:
    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(orjson.dumps(value)).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


async def test_s2s_install_token_is_minted_from_any_app_jwt_and_lasts_an_hour() -> None:
    clock = FakeClock(1_700_000_000.0)
    authority = TokenAuthority(clock=clock)
    url = "/api/app/installs/abc-123/actions/accessToken"
    app_jwt = _jwt({"iss": "S2S-GUID", "iat": clock.now, "exp": clock.now + 3600})
    async with _served(_app(authority)) as client:
        minted = await client.post(url, headers={"Authorization": f"Bearer {app_jwt}"})
        body = await minted.json()
        token = body["data"]["meta"]["accessToken"]
        used = await client.get("/api/v2/prospects", headers={"Authorization": f"Bearer {token}"})
        used_body = await used.json()
        refused = [
            await client.post(url, headers={"Authorization": f"Bearer {_jwt({'iat': 1})}"}),
            await client.post(url, headers={"Authorization": "Bearer not.a.jwt"}),
            await client.post(
                url, headers={"Authorization": f"Bearer {_jwt({'iss': 'x', 'exp': 5})}"}
            ),
        ]
    assert minted.status == 200
    assert body["data"]["id"] == "abc-123"
    assert body["data"]["meta"]["expiresAt"] == "2023-11-14T23:13:20.000Z"
    assert used.status == 200
    assert used_body == {"user": None}  # an S2S token acts for no user
    assert [answer.status for answer in refused] == [401, 401, 401]
    clock.now += 3600
    assert not authority.is_valid(token)


def test_tokens_never_start_with_a_dash_so_a_command_line_reads_them_as_values() -> None:
    from outreach_async.sandbox.oauth import _new_token

    tokens = [_new_token() for _ in range(2000)]  # one in 64 of token_urlsafe's starts with "-"
    assert not [t for t in tokens if t.startswith("-")]
    assert len(set(tokens)) == 2000
    assert all(len(t) == 43 for t in tokens)
