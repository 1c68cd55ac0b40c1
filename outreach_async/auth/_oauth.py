"""OAuth 2.0 refresh-token grant: :class:`OAuth2Refresh`, and reading the token endpoint's answers.

Access tokens live two hours and the endpoint mints at most one token per user per 60 s,
answering 429 otherwise (facts 1.1, 11.1-11.3), so the provider refreshes ahead of expiry in the
background (a valid token never waits for it), lets exactly one refresh run however many
requests wait for it, waits the throttle out (only for an expired or rejected token) instead of
storming it, and hands every new token set (the refresh token may rotate) to ``on_refresh``
before using it.

The token endpoint is called through a ``FormPoster`` that the transport hands over with
:meth:`OAuth2Refresh.bind`. Tokens never appear in a repr, a log line or an exception message.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from yarl import URL

from outreach_async._exceptions import (
    AuthenticationError,
    RateLimitError,
    ResponseFormatError,
    TokenStoreError,
)
from outreach_async._hooks import logger, safe_url
from outreach_async._http import Response
from outreach_async._jsonapi import parse_error_body
from outreach_async._retry import parse_retry_after

from ._provider import FormPoster, RenewingProvider, SingleFlight, require_endpoint_for
from ._tokens import (
    OnRefresh,
    SharedTokenStore,
    TokenSet,
    TokenStore,
    call_on_refresh,
)

__all__ = [
    "DEFAULT_TOKEN_URL",
    "OAuth2Refresh",
    "grant_refused",
    "parse_token_answer",
]

DEFAULT_TOKEN_URL = "https://api.outreach.io/oauth/token"
#: Outreach mints one access token per user and app every 60 s; faster gets a 429 (facts 1.1).
MINT_INTERVAL = 60.0
#: expires_in when the token endpoint leaves it out: Outreach's tokens live 2 h (facts 1.1).
DEFAULT_EXPIRES_IN = 7200.0
#: how many throttled (429) answers a refresh waits out before giving up
MAX_THROTTLED_TRIES = 5


class OAuth2Refresh(RenewingProvider):
    """OAuth 2.0 refresh-token grant with single-flight, throttle-aware renewal.

    ``access_token``/``expires_at`` (epoch seconds) seed a token saved earlier; without them the
    first request mints one. ``token_url`` is the token endpoint; leave it out only for a client
    of Outreach's production API (any other base URL is refused when the client is built, so a
    refresh token never goes to the wrong server).

    When the token is ``refresh_margin`` seconds from expiry, one refresh starts in the
    background and requests keep using the current token: a refresh refused by the 60 s mint
    throttle, or failing, is logged and tried again later, and never makes a request wait. Only
    an expired token, or one Outreach rejects (401), makes requests wait for a refresh, which
    then waits the throttle out. ``on_refresh`` (sync or async) receives each new
    :class:`TokenSet` before the new access token is used: persist ``refresh_token`` there,
    because Outreach may rotate it (facts 1.1). ``clock`` (wall time) and ``sleep`` are
    injectable for tests.
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        token_url: str | URL | None = None,
        access_token: str | None = None,
        expires_at: float | None = None,
        on_refresh: OnRefresh | None = None,
        refresh_margin: float = 300.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.client_id = client_id
        self._client_secret = client_secret
        self._refresh_token = refresh_token
        #: None: Outreach's own, allowed only for a client of Outreach's production API
        self._token_url_given = token_url is not None
        self.token_url = URL(DEFAULT_TOKEN_URL if token_url is None else token_url)
        self._access_token = access_token
        self.expires_at = expires_at
        self._on_refresh = on_refresh
        self.refresh_margin = refresh_margin
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._renewal = SingleFlight()
        self._poster: FormPoster | None = None
        #: a store other processes share: renew only under its lock (set by from_store)
        self._shared: SharedTokenStore | None = None
        self._last_mint_at: float | None = None
        self._throttled_until = 0.0
        self._retry_ahead_at = 0.0

    @classmethod
    async def from_store(
        cls,
        store: TokenStore,
        *,
        client_id: str,
        client_secret: str,
        token_url: str | URL | None = None,
        on_refresh: OnRefresh | None = None,
        **options: Any,
    ) -> OAuth2Refresh:
        """A provider seeded from ``store`` that saves every new token set there before use.

        ``on_refresh``, when given, runs after the save. ``options`` are the other keywords of
        the constructor (``refresh_margin``, ``clock``, ...). A store that several processes
        share (a :class:`~outreach_async.auth.SharedTokenStore` such as
        :class:`~outreach_async.RedisTokenStore`) is renewed under its lock: one refresh in
        flight per tenant, and a process that lost the race adopts the winner's tokens from
        the store instead of refreshing again. Raises
        :class:`~outreach_async.TokenStoreError` when the store holds no tokens yet (run
        ``outreach-async auth login`` first).
        """
        saved = await store.load()
        if saved is None:
            raise TokenStoreError(
                f"{store!r} holds no tokens yet: log in first (outreach-async auth login)"
            )

        async def persist(tokens: TokenSet) -> None:
            await store.save(tokens)  # first: the old refresh token may be spent already
            await call_on_refresh(on_refresh, tokens)

        provider = cls(
            client_id=client_id,
            client_secret=client_secret,
            refresh_token=saved.refresh_token,
            token_url=token_url,
            access_token=saved.access_token or None,
            expires_at=saved.expires_at,
            on_refresh=persist,
            **options,
        )
        if isinstance(store, SharedTokenStore):
            provider._shared = store
        return provider

    def bind(self, poster: FormPoster, api_base: URL | None = None) -> None:
        """Give the provider the transport's way to call the token endpoint (done by the client,
        with its base URL). Without a ``token_url``, a client of any API but Outreach's
        production one is refused with :class:`~outreach_async.QueryError`."""
        if not self._token_url_given:
            require_endpoint_for(
                api_base,
                "OAuth2Refresh without token_url",
                "pass token_url= (a sandbox's is sandbox.token_url)",
            )
        self._poster = poster

    def __repr__(self) -> str:
        return (
            f"OAuth2Refresh(client_id={self.client_id!r}, token_url={safe_url(self.token_url)!r}, "
            f"expires_at={self.expires_at!r})"
        )

    # -- when to renew ------------------------------------------------------------------------

    def _next_mint_at(self) -> float:
        """The earliest time Outreach will mint again for us (its 60 s throttle, a Retry-After)."""
        after_last = -float("inf") if self._last_mint_at is None else self._last_mint_at
        return max(after_last + MINT_INTERVAL, self._throttled_until)

    def _ahead_not_before(self) -> float:
        """Not before the mint throttle lets us, nor soon after a failed early attempt."""
        return max(self._next_mint_at(), self._retry_ahead_at)

    # -- minting ------------------------------------------------------------------------------

    async def _mint(self) -> None:
        """Install a new token set, waiting as long as it takes (only the single flight runs
        this, so at most one call is in flight per process; a shared store's lock makes it one
        per tenant)."""
        if self._shared is None:
            await self._mint_waiting()
            return
        async with self._shared.renewal():
            if not await self._adopt_shared():
                await self._mint_waiting()

    async def _mint_ahead(self) -> None:
        """Renew a token that still works, in one try: never waiting on a throttle, nor on a
        shared store's lock (another process renewing is as good)."""
        if self._shared is None:
            await self._try_ahead()
            return
        async with self._shared.renewal(wait=False) as held:
            if held and not await self._adopt_shared():
                await self._try_ahead()

    async def _adopt_shared(self) -> bool:
        """Under the shared lock: take what another process saved. Its refresh token is the
        one to spend next in any case; its access token is adopted (True: no refresh needed)
        when it is another one than ours and has not expired."""
        assert self._shared is not None
        saved = await self._shared.load()
        if saved is None:
            return False
        self._refresh_token = saved.refresh_token
        newer = saved.access_token and saved.access_token != self._access_token
        alive = saved.expires_at is None or self._clock() < saved.expires_at
        if not (newer and alive):
            return False
        self._access_token, self.expires_at = saved.access_token, saved.expires_at
        logger.debug("adopted the access token another process refreshed")
        return True

    async def _mint_waiting(self) -> None:
        """Call the token endpoint, waiting out its throttle, and install the new token set."""
        for _ in range(MAX_THROTTLED_TRIES):
            wait = self._next_mint_at() - self._clock()
            if wait > 0:
                logger.debug("waiting %.1f s for the token endpoint's mint throttle", wait)
                await self._sleep(wait)
            if await self._attempt():
                return
        raise RateLimitError(
            f"POST {safe_url(self.token_url)} -> HTTP 429: the token endpoint kept throttling "
            f"after {MAX_THROTTLED_TRIES} tries",
            status=429,
            method="POST",
            url=safe_url(self.token_url),
        )

    async def _try_ahead(self) -> None:
        """One call of the token endpoint for a token that still works: a 429 (another process
        minted within the minute) leaves the current token in use until the next chance."""
        if not await self._attempt():
            logger.info(
                "the token endpoint throttled an early refresh; the current access token stays "
                "in use and is refreshed after %.0f s",
                self._next_mint_at() - self._clock(),
            )

    async def _attempt(self) -> bool:
        """One call of the token endpoint: True when a new token set is installed, False when
        the endpoint throttled it (429); a refused grant raises."""
        poster = self._require_poster()
        logger.debug("refreshing the access token at %s", safe_url(self.token_url))
        response = await poster(self.token_url, self._form())
        self._last_mint_at = self._clock()
        if response.status == 429:
            self._throttled_until = self._clock() + self._throttle_wait(response)
            return False
        if not 200 <= response.status < 300:
            raise self._refresh_failed(response)
        await self._install(self._parse_token_set(response))
        self._retry_ahead_at = 0.0
        return True

    def _require_poster(self) -> FormPoster:
        if self._poster is None:
            raise RuntimeError(
                "OAuth2Refresh is not bound to a client yet: pass it to OutreachClient(...)"
            )
        return self._poster

    def _form(self) -> dict[str, str]:
        return {
            "grant_type": "refresh_token",
            "client_id": self.client_id,
            "client_secret": self._client_secret,
            "refresh_token": self._refresh_token,
        }

    def _throttle_wait(self, response: Response) -> float:
        """Retry-After (or the documented 60 s) plus positive jitter, so workers spread out."""
        retry_after = parse_retry_after(response.headers.get("Retry-After"), self._clock())
        base = MINT_INTERVAL if retry_after is None else retry_after
        return base + self._rng.uniform(0.0, 1.0)

    def _parse_token_set(self, response: Response) -> TokenSet:
        return parse_token_answer(
            response, token_url=self.token_url, now=self._clock(), refresh_token=self._refresh_token
        )

    async def _install(self, token_set: TokenSet) -> None:
        """Hand the new set to ``on_refresh`` first, then start using it (even if it failed:
        the old refresh token may already be spent)."""
        try:
            await call_on_refresh(self._on_refresh, token_set)
        finally:
            self._access_token = token_set.access_token
            self._refresh_token = token_set.refresh_token
            self.expires_at = token_set.expires_at
            logger.debug("access token refreshed; it expires at %s", token_set.expires_at)

    def _refresh_failed(self, response: Response) -> AuthenticationError:
        """A refused grant (400 invalid_grant, 401): the refresh token is no good."""
        return grant_refused(response, self.token_url, "token refresh failed")


def parse_token_answer(
    response: Response, *, token_url: URL, now: float, refresh_token: str | None = None
) -> TokenSet:
    """The :class:`TokenSet` of a token endpoint's 2xx answer (facts 1.1: ``access_token``,
    ``expires_in``, ``refresh_token``).

    ``refresh_token`` is kept when the answer does not rotate it; without one, the answer must
    carry a refresh token (an authorization-code exchange).
    """
    try:
        raw = orjson.loads(response.body)
    except orjson.JSONDecodeError:
        raw = None
    if not isinstance(raw, dict):
        raw = {}
    access = _text(raw.get("access_token"))
    rotated = _text(raw.get("refresh_token")) or refresh_token
    if access is None or rotated is None:
        missing = "access_token" if access is None else "refresh_token"
        raise ResponseFormatError(
            f"POST {safe_url(token_url)} -> HTTP {response.status}: the answer carries no {missing}"
        )
    expires_in = raw.get("expires_in")
    lifetime = float(expires_in) if isinstance(expires_in, int | float) else DEFAULT_EXPIRES_IN
    return TokenSet(access_token=access, refresh_token=rotated, expires_at=now + lifetime)


def _text(value: object) -> str | None:
    """A non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def grant_refused(response: Response, token_url: URL, what: str) -> AuthenticationError:
    """The error for a token endpoint's refusal (``invalid_grant``, ``invalid_client``), with
    the endpoint's reason and never a secret."""
    errors = parse_error_body(response.body)
    reason = "; ".join(": ".join(p for p in (e.id, e.detail) if p) for e in errors)
    url = safe_url(token_url)
    return AuthenticationError(
        f"POST {url} -> HTTP {response.status}: {what}" + (f" ({reason})" if reason else ""),
        status=response.status,
        errors=errors,
        headers=response.headers,
        method="POST",
        url=url,
    )
