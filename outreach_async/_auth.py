"""Auth providers: where the bearer token comes from, and how it is renewed.

The transport asks its :class:`TokenProvider` for a token before each request and, when Outreach
answers 401, asks it once to ``refresh`` the rejected token. Two providers ship:

- :class:`StaticToken`: a fixed access token; a 401 is final.
- :class:`OAuth2Refresh`: the refresh-token grant against ``/oauth/token``. Access tokens live two
  hours and the endpoint mints at most one token per user per 60 s, answering 429 otherwise
  (facts 1.1, 11.1-11.3), so the provider refreshes ahead of expiry, lets exactly one refresh run
  however many requests wait for it, waits the throttle out instead of storming it, and hands
  every new token set (the refresh token may rotate) to ``on_refresh`` before using it.

No module here imports aiohttp: the token endpoint is called through a ``FormPoster`` that the
transport hands over with :meth:`OAuth2Refresh.bind` when it is constructed.

Tokens never appear in a repr, a log line or an exception message.
"""

from __future__ import annotations

import asyncio
import inspect
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs
import orjson
from yarl import URL

from outreach_async._exceptions import (
    AuthenticationError,
    OutreachError,
    RateLimitError,
    ResponseFormatError,
    TokenStoreError,
)
from outreach_async._hooks import logger, safe_url
from outreach_async._http import Response
from outreach_async._jsonapi import parse_error_body
from outreach_async._retry import parse_retry_after

if TYPE_CHECKING:
    from outreach_async._tokenstore import TokenStore

__all__ = [
    "DEFAULT_TOKEN_URL",
    "FormPoster",
    "OAuth2Refresh",
    "RenewingProvider",
    "SingleFlight",
    "StaticToken",
    "TokenProvider",
    "TokenSet",
]

DEFAULT_TOKEN_URL = "https://api.outreach.io/oauth/token"
#: Outreach mints one access token per user and app every 60 s; faster gets a 429 (facts 1.1).
MINT_INTERVAL = 60.0
#: expires_in when the token endpoint leaves it out: Outreach's tokens live 2 h (facts 1.1).
DEFAULT_EXPIRES_IN = 7200.0
#: how many throttled (429) answers a refresh waits out before giving up
MAX_THROTTLED_TRIES = 5

_HIDDEN = "<hidden>"


@runtime_checkable
class TokenProvider(Protocol):
    """Where bearer tokens come from: implement this for your own scheme."""

    async def token(self) -> str:
        """The access token to send now (refreshing first if it is about to expire)."""
        ...

    async def refresh(self, rejected: str) -> bool:
        """Outreach rejected ``rejected`` (401): return True when a different token is now
        available (the request is then retried once), False when there is none."""
        ...


class FormPoster(Protocol):
    """POST a form to an absolute URL without bearer auth; the transport provides it."""

    def __call__(self, url: URL, data: Mapping[str, str]) -> Awaitable[Response]: ...


class StaticToken(TokenProvider):
    """A fixed access token. Its repr hides the token; a 401 raises at once."""

    __slots__ = ("_token",)

    def __init__(self, token: str) -> None:
        if not isinstance(token, str) or not token:
            raise ValueError("StaticToken needs a non-empty access token string")
        self._token = token

    async def token(self) -> str:
        """The token given at construction."""
        return self._token

    async def refresh(self, rejected: str) -> bool:
        """A static token cannot be renewed: always False."""
        return False

    def __repr__(self) -> str:
        return f"StaticToken(token={_HIDDEN!r})"


@attrs.frozen
class TokenSet:
    """What a refresh produced, handed to ``on_refresh`` so the caller can persist it.

    ``expires_at`` is a wall-clock timestamp (seconds since the epoch, as ``time.time()``).
    """

    access_token: str = attrs.field(repr=lambda _: repr(_HIDDEN))
    refresh_token: str = attrs.field(repr=lambda _: repr(_HIDDEN))
    expires_at: float | None = None


OnRefresh = Callable[[TokenSet], Awaitable[None] | None]


async def call_on_refresh(on_refresh: OnRefresh | None, tokens: TokenSet) -> None:
    """Call a sync or async ``on_refresh`` callback (None: nothing to call)."""
    if on_refresh is not None:
        result = on_refresh(tokens)
        if inspect.isawaitable(result):
            await result


class SingleFlight:
    """Runs one renewal at a time: callers arriving meanwhile join it and share its outcome.

    The renewal runs as its own task, shielded, so a caller that is cancelled (a request that
    timed out) cannot abandon it halfway and lose a rotated token; every waiter shares its
    outcome, a failure included, so a failed renewal is not replayed once per waiter.
    """

    __slots__ = ("_flight",)

    def __init__(self) -> None:
        self._flight: asyncio.Future[None] | None = None

    @property
    def running(self) -> bool:
        """Whether a renewal is in flight now."""
        return self._flight is not None

    async def run(self, renew: Callable[[], Awaitable[None]]) -> None:
        """Join the renewal in flight, or start ``renew()``; return when it is done."""
        if self._flight is None:
            flight = asyncio.ensure_future(renew())
            flight.add_done_callback(self._landed)
            self._flight = flight
        await asyncio.shield(self._flight)

    def _landed(self, flight: asyncio.Future[None]) -> None:
        if self._flight is flight:
            self._flight = None
        if not flight.cancelled():
            flight.exception()  # retrieved here too, in case every waiter was cancelled


class RenewingProvider(TokenProvider):
    """A provider of one access token that expires: renewed ``refresh_margin`` seconds before
    it does, and once when Outreach rejects it, with one renewal in flight however many
    requests wait for it (:class:`SingleFlight`).

    Subclasses set the attributes below in ``__init__`` and implement ``_mint`` (get and
    install a new token) and ``_refresh_ahead`` (renew a token that still works, or not yet).
    """

    _access_token: str | None
    expires_at: float | None
    refresh_margin: float
    _clock: Callable[[], float]
    _renewal: SingleFlight

    async def token(self) -> str:
        """The current access token, renewed first when it is missing or about to expire."""
        current = self._access_token
        if current is not None and not self._due():
            return current
        if current is None or self._expired():
            await self._renew()
        else:
            await self._refresh_ahead()
        assert self._access_token is not None
        return self._access_token

    async def refresh(self, rejected: str) -> bool:
        """Renew after a 401, unless another request already replaced ``rejected``."""
        if self._access_token is not None and self._access_token != rejected:
            return True  # compare before refreshing: someone else already did
        await self._renew()
        return True

    def _due(self) -> bool:
        """Inside the margin before expiry (or past it)."""
        return (
            self.expires_at is not None and self._clock() >= self.expires_at - self.refresh_margin
        )

    def _expired(self) -> bool:
        return self.expires_at is not None and self._clock() >= self.expires_at

    async def _renew(self) -> None:
        """Join the mint in flight, or start one: one mint however many callers wait."""
        await self._renewal.run(self._mint)

    async def _refresh_ahead(self) -> None:
        raise NotImplementedError

    async def _mint(self) -> None:
        raise NotImplementedError


class OAuth2Refresh(RenewingProvider):
    """OAuth 2.0 refresh-token grant with single-flight, throttle-aware renewal.

    ``access_token``/``expires_at`` (epoch seconds) seed a token saved earlier; without them the
    first request mints one. The token is renewed ``refresh_margin`` seconds before it expires,
    and once when Outreach rejects it. ``on_refresh`` (sync or async) receives each new
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
        token_url: str | URL = DEFAULT_TOKEN_URL,
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
        self.token_url = URL(token_url)
        self._access_token = access_token
        self.expires_at = expires_at
        self._on_refresh = on_refresh
        self.refresh_margin = refresh_margin
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._renewal = SingleFlight()
        self._poster: FormPoster | None = None
        self._last_mint_at: float | None = None
        self._throttled_until = 0.0

    @classmethod
    async def from_store(
        cls,
        store: TokenStore,
        *,
        client_id: str,
        client_secret: str,
        token_url: str | URL = DEFAULT_TOKEN_URL,
        on_refresh: OnRefresh | None = None,
        **options: Any,
    ) -> OAuth2Refresh:
        """A provider seeded from ``store`` that saves every new token set there before use.

        ``on_refresh``, when given, runs after the save. ``options`` are the other keywords of
        the constructor (``refresh_margin``, ``clock``, ...). Raises
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

        return cls(
            client_id=client_id,
            client_secret=client_secret,
            refresh_token=saved.refresh_token,
            token_url=token_url,
            access_token=saved.access_token or None,
            expires_at=saved.expires_at,
            on_refresh=persist,
            **options,
        )

    def bind(self, poster: FormPoster) -> None:
        """Give the provider the transport's way to call the token endpoint (done by the client)."""
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

    async def _refresh_ahead(self) -> None:
        """Renew a token that still works: never wait on the throttle for it, never fail on it."""
        if not self._renewal.running and self._clock() < self._next_mint_at():
            return
        try:
            await self._renew()
        except OutreachError as error:
            # The current token is still valid; the next due call (after the throttle) retries.
            logger.warning("refreshing the access token ahead of expiry failed: %s", error)

    # -- minting ------------------------------------------------------------------------------

    async def _mint(self) -> None:
        """Call the token endpoint (waiting out its throttle) and install the new token set.

        Only :meth:`_renew` calls this, so at most one runs at a time.
        """
        poster = self._require_poster()
        for _ in range(MAX_THROTTLED_TRIES):
            wait = self._next_mint_at() - self._clock()
            if wait > 0:
                logger.debug("waiting %.1f s for the token endpoint's mint throttle", wait)
                await self._sleep(wait)
            logger.debug("refreshing the access token at %s", safe_url(self.token_url))
            response = await poster(self.token_url, self._form())
            self._last_mint_at = self._clock()
            if response.status == 429:
                self._throttled_until = self._clock() + self._throttle_wait(response)
                continue
            if not 200 <= response.status < 300:
                raise self._refresh_failed(response)
            await self._install(self._parse_token_set(response))
            return
        raise RateLimitError(
            f"POST {safe_url(self.token_url)} -> HTTP 429: the token endpoint kept throttling "
            f"after {MAX_THROTTLED_TRIES} tries",
            status=429,
            method="POST",
            url=safe_url(self.token_url),
        )

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
