"""S2S app tokens: the RS256 app JWT, and install tokens minted once however many requests wait.

Needs PyJWT with cryptography (the ``jwt`` extra); skipped with the reason when they are absent.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Mapping
from typing import Any

import orjson
import pytest
from multidict import CIMultiDict
from yarl import URL

from outreach_async import OutreachClient
from outreach_async._exceptions import (
    AuthenticationError,
    QueryError,
    ResponseFormatError,
    ServerError,
)
from outreach_async._http import Response
from outreach_async.auth import AppTokenProvider
from outreach_async.auth._apptoken import build_app_token
from tests.clock import WALL_EPOCH, FakeClock

jwt: Any = pytest.importorskip("jwt", reason="PyJWT is not installed: pip install '.[jwt]'")
rsa: Any = pytest.importorskip(
    "cryptography.hazmat.primitives.asymmetric.rsa",
    reason="cryptography is not installed: pip install '.[jwt]'",
)
serialization: Any = pytest.importorskip("cryptography.hazmat.primitives.serialization")

GUID = "s2s-guid-1234"
BASE = URL("https://api.outreach.test")
INSTALL_URL = BASE / "api/app/installs/42/actions/accessToken"


def generate_key() -> tuple[str, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return pem, key.public_key()


PRIVATE_PEM, PUBLIC_KEY = generate_key()


def install_answer(token: str, expires_at: str | None = None, status: int = 200) -> Response:
    meta: dict[str, Any] = {"accessToken": token}
    if expires_at is not None:
        meta["expiresAt"] = expires_at
    body = orjson.dumps({"data": {"type": "install", "id": "42", "meta": meta}})
    return Response(status, CIMultiDict(), body, INSTALL_URL, "POST")


class FakeInstallEndpoint:
    """Stands in for ``post_form``: mints install-N, or replays queued answers first."""

    def __init__(self, *queued: Response) -> None:
        self.queued = list(queued)
        self.calls: list[tuple[URL, dict[str, str], dict[str, str]]] = []

    async def __call__(
        self, url: URL, data: Mapping[str, str], *, headers: Mapping[str, str] | None = None
    ) -> Response:
        self.calls.append((url, dict(data), dict(headers or {})))
        for _ in range(3):  # let waiting callers pile up meanwhile
            await asyncio.sleep(0)
        if self.queued:
            return self.queued.pop(0)
        return install_answer(f"install-{len(self.calls)}")

    def app_tokens(self) -> list[dict[str, Any]]:
        """The claims of each app JWT sent, verified with the public key."""
        out = []
        for _, _, headers in self.calls:
            scheme, _, token = headers["Authorization"].partition(" ")
            assert scheme == "Bearer"
            out.append(
                jwt.decode(token, PUBLIC_KEY, algorithms=["RS256"], options={"verify_exp": False})
            )
        return out


def make_provider(clock: FakeClock, endpoint: FakeInstallEndpoint) -> AppTokenProvider:
    provider = AppTokenProvider(
        s2s_guid=GUID, private_key=PRIVATE_PEM, install_id=42, base=BASE, clock=clock.time
    )
    provider.bind(endpoint)
    return provider


# -- the app JWT --------------------------------------------------------------------------------


def test_the_app_token_is_rs256_over_iat_exp_and_iss() -> None:
    token = build_app_token(GUID, PRIVATE_PEM, now=WALL_EPOCH + 0.7)
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    claims = jwt.decode(token, PUBLIC_KEY, algorithms=["RS256"], options={"verify_exp": False})
    assert claims == {"iat": int(WALL_EPOCH), "exp": int(WALL_EPOCH) + 3600, "iss": GUID}


def test_a_token_signed_by_another_key_does_not_verify() -> None:
    other_pem, _ = generate_key()
    token = build_app_token(GUID, other_pem, now=WALL_EPOCH)
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, PUBLIC_KEY, algorithms=["RS256"], options={"verify_exp": False})


def test_an_unusable_key_fails_at_construction_without_showing_it() -> None:
    with pytest.raises(ValueError, match="RSA private key") as caught:
        AppTokenProvider(s2s_guid=GUID, private_key="not-a-pem-secret", install_id=42)
    assert "not-a-pem-secret" not in str(caught.value)


def test_without_pyjwt_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "jwt", None)  # import jwt now raises ImportError
    with pytest.raises(ImportError, match=r"outreach-async\[jwt\]"):
        AppTokenProvider(s2s_guid=GUID, private_key=PRIVATE_PEM, install_id=42)


def test_the_repr_hides_the_key() -> None:
    provider = AppTokenProvider(s2s_guid=GUID, private_key=PRIVATE_PEM, install_id=42, base=BASE)
    assert "PRIVATE" not in repr(provider)
    assert "install_id='42'" in repr(provider)


# -- minting and renewing -----------------------------------------------------------------------


async def test_the_first_request_mints_with_a_fresh_app_token(fake_clock: FakeClock) -> None:
    endpoint = FakeInstallEndpoint()
    provider = make_provider(fake_clock, endpoint)
    assert await provider.token() == "install-1"
    assert await provider.token() == "install-1"
    assert [call[0] for call in endpoint.calls] == [INSTALL_URL]
    assert endpoint.app_tokens() == [
        {"iat": int(WALL_EPOCH), "exp": int(WALL_EPOCH) + 3600, "iss": GUID}
    ]
    assert provider.expires_at == WALL_EPOCH + 3600


async def test_the_token_is_renewed_before_its_hour_runs_out(fake_clock: FakeClock) -> None:
    endpoint = FakeInstallEndpoint()
    provider = make_provider(fake_clock, endpoint)
    await provider.token()
    fake_clock.advance(3600 - 301)
    assert await provider.token() == "install-1"
    fake_clock.advance(2)  # inside the 300 s margin: renewed in the background
    assert await provider.token() == "install-1"
    await provider.settle()
    assert await provider.token() == "install-2"
    assert endpoint.app_tokens()[1]["iat"] == int(WALL_EPOCH + 3600 - 299)


async def test_a_stated_expiry_earlier_than_an_hour_wins(fake_clock: FakeClock) -> None:
    endpoint = FakeInstallEndpoint(install_answer("install-1", "2023-11-14T22:43:20.000Z"))
    provider = make_provider(fake_clock, endpoint)
    await provider.token()
    assert provider.expires_at == WALL_EPOCH + 1800  # 2023-11-14T22:13:20Z is WALL_EPOCH


async def test_fifty_concurrent_requests_around_expiry_mint_once(fake_clock: FakeClock) -> None:
    endpoint = FakeInstallEndpoint()
    provider = make_provider(fake_clock, endpoint)
    await provider.token()
    fake_clock.advance(3600)  # expired
    tokens = await asyncio.gather(*(provider.token() for _ in range(50)))
    assert set(tokens) == {"install-2"}
    assert len(endpoint.calls) == 2


async def test_fifty_concurrent_401s_mint_once(fake_clock: FakeClock) -> None:
    endpoint = FakeInstallEndpoint()
    provider = make_provider(fake_clock, endpoint)
    rejected = await provider.token()
    assert all(await asyncio.gather(*(provider.refresh(rejected) for _ in range(50))))
    assert await provider.token() == "install-2"
    assert len(endpoint.calls) == 2
    assert await provider.refresh(rejected)  # a late 401 for the old token mints nothing
    assert len(endpoint.calls) == 2


async def test_a_failed_renewal_ahead_of_expiry_keeps_the_valid_token_and_waits(
    fake_clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    failing = install_answer("", status=503)
    endpoint = FakeInstallEndpoint(install_answer("install-1"), failing)
    provider = make_provider(fake_clock, endpoint)
    await provider.token()
    fake_clock.advance(3600 - 200)
    with caplog.at_level(logging.WARNING, logger="outreach_async"):
        assert await provider.token() == "install-1"
        await provider.settle()
        assert await provider.token() == "install-1"  # no second try right away
        await provider.settle()
    assert len(endpoint.calls) == 2
    assert "ahead of expiry failed" in caplog.text
    fake_clock.advance(30)
    assert await provider.token() == "install-1"
    await provider.settle()
    assert await provider.token() == "install-3"


async def test_a_refused_mint_of_an_expired_token_raises(fake_clock: FakeClock) -> None:
    refused = Response(
        401,
        CIMultiDict(),
        b'{"error":"Invalid JWT token.","description":"The JWT token could not be decoded."}',
        INSTALL_URL,
        "POST",
    )
    endpoint = FakeInstallEndpoint(refused)
    provider = make_provider(fake_clock, endpoint)
    with pytest.raises(AuthenticationError, match="could not be decoded"):
        await provider.token()
    endpoint.queued.append(install_answer("", status=500))
    with pytest.raises(ServerError):
        await provider.token()


async def test_an_answer_without_the_token_is_a_format_error(fake_clock: FakeClock) -> None:
    body = orjson.dumps({"data": {"type": "install", "id": "42"}})
    endpoint = FakeInstallEndpoint(Response(200, CIMultiDict(), body, INSTALL_URL, "POST"))
    provider = make_provider(fake_clock, endpoint)
    with pytest.raises(ResponseFormatError, match=r"data\.meta\.accessToken"):
        await provider.token()


async def test_an_unbound_provider_says_what_to_do(fake_clock: FakeClock) -> None:
    provider = AppTokenProvider(
        s2s_guid=GUID, private_key=PRIVATE_PEM, install_id=42, clock=fake_clock.time
    )
    with pytest.raises(RuntimeError, match="OutreachClient"):
        await provider.token()


def test_without_base_a_client_of_another_api_is_refused_before_any_request() -> None:
    provider = AppTokenProvider(s2s_guid=GUID, private_key=PRIVATE_PEM, install_id=42)
    with pytest.raises(QueryError, match="pass base="):
        OutreachClient(provider, base_url="http://127.0.0.1:8787/api/v2")
    assert provider.url.host == "api.outreach.io"
