"""Logging in and staying logged in, against the sandbox's OAuth server over loopback HTTP.

The login tests play the browser: they GET the authorize URL, the sandbox (one user, always
consenting) redirects to the loopback listener with ``code`` and ``state``. The S2S tests need
PyJWT with cryptography (the ``jwt`` extra) and are skipped, saying so, without them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from yarl import URL

from outreach_async import (
    AuthenticationError,
    OAuth2Refresh,
    OutreachClient,
    PermissionDeniedError,
)
from outreach_async.auth import AppTokenProvider, FileTokenStore, TokenSet, login
from outreach_async.sandbox import Sandbox
from tests.clock import FakeClock

CLIENT_ID = "sandbox-client"
CLIENT_SECRET = "sandbox-secret"


async def read_browser_page(url: str) -> tuple[int, str]:
    """Open the authorize URL, follow its redirect to the loopback listener, read the page."""
    async with aiohttp.ClientSession() as browser, browser.get(url) as page:
        text = await page.text()
        assert page.url.host == "127.0.0.1"
        assert page.url.path == "/callback"
        return page.status, text


async def play_browser(url: str) -> int:
    """Open the authorize URL and follow its redirect to the loopback listener."""
    async with aiohttp.ClientSession() as browser, browser.get(url) as page:
        await page.read()
        assert page.url.host == "127.0.0.1"
        assert page.url.path == "/callback"
        return page.status


async def log_in(sandbox: Sandbox, store: FileTokenStore, scopes: str) -> tuple[TokenSet, str]:
    shown: list[str] = []
    tokens = await login(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        scopes=scopes,
        store=store,
        authorize_base=f"{sandbox.origin}/oauth/authorize",
        token_url=sandbox.token_url,
        open_url=play_browser,
        announce=shown.append,
    )
    return tokens, shown[0]


async def test_login_stores_tokens_that_work(outreach_sandbox: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    tokens, shown = await log_in(outreach_sandbox, FileTokenStore(path), "prospects.read")

    assert URL(shown).query["scope"] == "prospects.read"
    assert outreach_sandbox.authority.is_valid(tokens.access_token)
    assert tokens.refresh_token in outreach_sandbox.authority.refresh_tokens
    assert await FileTokenStore(path).load() == tokens
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600

    provider = await OAuth2Refresh.from_store(
        FileTokenStore(path),
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        token_url=outreach_sandbox.token_url,
    )
    async with OutreachClient(provider, base_url=outreach_sandbox.base_url) as outreach:
        assert await outreach.prospects.list().collect() == []
        # The scopes asked for are the scopes granted: not additive, nothing more (facts 1.1).
        with pytest.raises(PermissionDeniedError):
            await outreach.accounts.list().first()
    assert outreach_sandbox.authority.mint_count == 1  # the saved access token was used


async def test_an_expired_login_refreshes_and_saves_the_rotated_token(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "tokens.json"
    async with Sandbox(clock=clock, seed=3) as sandbox:
        first, _ = await log_in(sandbox, FileTokenStore(path), "prospects.all")
        clock.now += 7200 + 1  # the next run starts after the access token expired

        provider = await OAuth2Refresh.from_store(
            FileTokenStore(path),
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            token_url=sandbox.token_url,
            clock=clock,
            sleep=clock.sleep,
        )
        async with OutreachClient(provider, base_url=sandbox.base_url) as outreach:
            assert len(await outreach.prospects.list().collect()) == 3

        saved = await FileTokenStore(path).load()
        assert saved is not None
        assert saved.refresh_token != first.refresh_token  # rotated, and saved
        assert saved.refresh_token in sandbox.authority.refresh_tokens
        assert sandbox.authority.is_valid(saved.access_token)
        assert not sandbox.authority.is_valid(first.access_token)
        assert sandbox.authority.mint_count == 2


async def run_cli_login(
    sandbox: Sandbox, path: Path, secret: str
) -> tuple[int | None, str, str, tuple[int, str]]:
    """``auth login`` in a child process, the browser played here: its exit status, output,
    error output, and the page the browser was shown."""
    command = [
        *("-m", "outreach_async.cli", "auth", "login", "--client-id", CLIENT_ID),
        *("--scopes", "prospects.read", "accounts.read", "--token-file", str(path)),
        *("--authorize-url", f"{sandbox.origin}/oauth/authorize"),
        *("--token-url", sandbox.token_url, "--no-browser", "--timeout", "30"),
    ]
    env = {**os.environ, "OUTREACH_CLIENT_SECRET": secret}  # kept out of the argv
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None
    try:
        lines: list[str] = []
        while not (lines and lines[-1].startswith("http")):
            line = await asyncio.wait_for(process.stdout.readline(), 30)
            assert line, "the command ended before printing the authorize URL"
            lines.append(line.decode().strip())
        page = await read_browser_page(lines[-1])
        out, err = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert URL(lines[-1]).query["scope"] == "prospects.read accounts.read"
    return process.returncode, "\n".join(lines) + out.decode(), err.decode(), page


async def test_the_cli_logs_in_end_to_end(outreach_sandbox: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "cli" / "tokens.json"
    status, out, err, page = await run_cli_login(outreach_sandbox, path, CLIENT_SECRET)

    assert status == 0, err
    assert page[0] == 200
    assert "<h1>Logged in</h1>" in page[1]
    assert f"Tokens saved to {path}" in out
    saved = await FileTokenStore(path).load()
    assert saved is not None
    assert outreach_sandbox.authority.scopes_of(saved.access_token) == frozenset(
        {"prospects.read", "accounts.read"}
    )
    assert saved.access_token not in out + err


async def test_a_wrong_client_secret_fails_in_the_browser_too(
    outreach_sandbox: Sandbox, tmp_path: Path
) -> None:
    path = tmp_path / "tokens.json"
    wrong = "not-the-secret-do-not-print"
    status, out, err, (page_status, page) = await run_cli_login(outreach_sandbox, path, wrong)

    assert status == 3
    assert "invalid_client" in err
    assert len(err.strip().splitlines()) == 1  # one line, no traceback
    assert page_status == 500
    assert "<h1>Login failed</h1>" in page
    assert "invalid_client" in page
    assert "Logged in" not in page
    assert wrong not in out + err + page
    assert not path.exists()


def mint_elsewhere(sandbox: Sandbox) -> dict[str, Any]:
    """Another process of the same user refreshes now, so the mint throttle runs for 60 s."""
    return sandbox.authority.grant(
        {
            "grant_type": "refresh_token",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "refresh_token": sandbox.authority.issue_refresh_token(),
        }
    )


async def test_a_valid_token_keeps_serving_while_the_early_refresh_is_throttled() -> None:
    clock = FakeClock()
    async with Sandbox(clock=clock, seed=3) as sandbox:
        saved = mint_elsewhere(sandbox)  # our token set, minted 7000 s ago
        clock.now += 7000
        mint_elsewhere(sandbox)  # a colleague's process minted just now: 429s for 60 s
        provider = OAuth2Refresh(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            refresh_token=saved["refresh_token"],
            access_token=saved["access_token"],
            expires_at=clock.now + 200,  # 200 s left: inside the 300 s margin
            token_url=sandbox.token_url,
            clock=clock,
            sleep=clock.sleep,
        )
        async with OutreachClient(provider, base_url=sandbox.base_url) as outreach:
            for _ in range(3):
                assert len(await outreach.prospects.list().collect()) == 3
                await provider.settle()
            assert clock.sleeps == []  # no request waited for the throttled refresh
            assert sandbox.authority.throttled_count == 1  # asked once, not stormed
            assert await provider.token() == saved["access_token"]

            clock.now += 61  # the throttle has passed: the next early refresh goes through
            assert len(await outreach.prospects.list().collect()) == 3
            await provider.settle()
            renewed = await provider.token()
        assert renewed != saved["access_token"]
        assert sandbox.authority.is_valid(renewed)
        assert sandbox.authority.mint_count == 3
        assert clock.sleeps == []


async def test_a_failing_early_refresh_leaves_the_valid_token_in_use_until_it_expires(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    async with Sandbox(clock=clock, seed=3) as sandbox:
        saved = mint_elsewhere(sandbox)
        clock.now += 7000
        sandbox.authority.expire(saved["refresh_token"])  # revoked: every refresh is refused
        provider = OAuth2Refresh(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            refresh_token=saved["refresh_token"],
            access_token=saved["access_token"],
            expires_at=clock.now + 200,
            token_url=sandbox.token_url,
            clock=clock,
            sleep=clock.sleep,
        )
        async with OutreachClient(provider, base_url=sandbox.base_url) as outreach:
            with caplog.at_level(logging.WARNING, logger="outreach_async"):
                assert len(await outreach.prospects.list().collect()) == 3
                await provider.settle()
                assert len(await outreach.prospects.list().collect()) == 3
            assert "invalid_grant" in caplog.text
            assert saved["refresh_token"] not in caplog.text

            clock.now += 200  # expired now: this request waits for a refresh, which fails
            with pytest.raises(AuthenticationError, match="invalid_grant"):
                await outreach.prospects.list().collect()
        assert clock.sleeps == []


def rsa_private_pem() -> str:
    pytest.importorskip("jwt", reason="PyJWT is not installed: pip install '.[jwt]'")
    rsa: Any = pytest.importorskip(
        "cryptography.hazmat.primitives.asymmetric.rsa",
        reason="cryptography is not installed: pip install '.[jwt]'",
    )
    serialization: Any = pytest.importorskip("cryptography.hazmat.primitives.serialization")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return str(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
    )


async def test_an_s2s_install_token_is_minted_renewed_and_replaced_after_a_401() -> None:
    pem = rsa_private_pem()
    clock = FakeClock()
    async with Sandbox(clock=clock, seed=2) as sandbox:
        provider = AppTokenProvider(
            s2s_guid="app-guid", private_key=pem, install_id=7, base=sandbox.origin, clock=clock
        )
        mint_path = "/api/app/installs/7/actions/accessToken"

        def mints() -> int:
            return sum(r.path == mint_path and r.method == "POST" for r in sandbox.requests)

        async with OutreachClient(provider, base_url=sandbox.base_url) as outreach:
            assert len(await outreach.prospects.list().collect()) == 2
            first = await provider.token()
            assert sandbox.authority.is_valid(first)
            assert sandbox.authority.user_of(first) is None  # an app token acts for no user

            clock.now += 3600 - 100  # inside the renewal margin of the one-hour token
            await outreach.prospects.list().collect()  # with the valid token; renewal starts
            await provider.settle()
            second = await provider.token()
            assert second != first
            assert mints() == 2

            sandbox.authority.expire(second)  # revoked early: the API answers 401
            assert len(await outreach.prospects.list().collect()) == 2
            assert mints() == 3
            assert sandbox.authority.is_valid(await provider.token())
