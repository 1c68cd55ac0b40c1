"""What every token provider shares: a static token, one renewal in flight, renewing ahead.

The transport asks its :class:`~outreach_async.TokenProvider` for a token before each request
and, when Outreach answers 401, asks it once to ``refresh`` the rejected token.
:class:`StaticToken` is a fixed token (a 401 is final); :class:`RenewingProvider` is the base of
the providers whose token expires (:class:`~outreach_async.OAuth2Refresh`,
:class:`~outreach_async.AppTokenProvider`): renewed ahead of expiry in the background, and while
requests wait only when the token expired or was rejected, one renewal at a time.

No module here imports aiohttp: token endpoints are called through a poster that the transport
hands over (``bind``) when the client is built, with the client's base URL.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from yarl import URL

from outreach_async._exceptions import QueryError
from outreach_async._hooks import logger, safe_url
from outreach_async._http import Response, TokenProvider

from ._tokens import HIDDEN

__all__ = [
    "PRODUCTION_ORIGIN",
    "FormPoster",
    "RenewingProvider",
    "SingleFlight",
    "StaticToken",
    "TokenProvider",
    "is_production",
    "require_endpoint_for",
]

#: where Outreach's production API lives; a provider left on its defaults serves only this
PRODUCTION_ORIGIN = URL("https://api.outreach.io")
#: after a failed renewal ahead of expiry, wait this long before trying again
RETRY_AHEAD_INTERVAL = 30.0


def is_production(api_base: URL) -> bool:
    """Whether ``api_base`` is on Outreach's production API (yarl lowercases the host; an
    explicit default port is the same origin)."""
    return (api_base.scheme, api_base.host, api_base.port) == (
        PRODUCTION_ORIGIN.scheme,
        PRODUCTION_ORIGIN.host,
        PRODUCTION_ORIGIN.port,
    )


def require_endpoint_for(api_base: URL | None, provider: str, fix: str) -> None:
    """Refuse a provider left on production's endpoint for a client of another API (a sandbox,
    a test server): its first renewal would send the app's secrets and the refresh token to
    production. ``api_base`` is the client's base URL (None: not known, nothing to check)."""
    if api_base is not None and not is_production(api_base):
        raise QueryError(
            f"{provider} would call Outreach's production endpoint, but the client talks to "
            f"{safe_url(api_base)}: {fix}"
        )


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
        return f"StaticToken(token={HIDDEN!r})"


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

    def start(self, renew: Callable[[], Awaitable[None]]) -> asyncio.Future[None]:
        """Start ``renew()`` unless a renewal is in flight already; the flight, not awaited."""
        if self._flight is None:
            flight = asyncio.ensure_future(renew())
            flight.add_done_callback(self._landed)
            self._flight = flight
        return self._flight

    async def run(self, renew: Callable[[], Awaitable[None]]) -> None:
        """Join the renewal in flight, or start ``renew()``; return when it is done."""
        await asyncio.shield(self.start(renew))

    async def settle(self) -> None:
        """Wait for a renewal in flight to land, whatever its outcome (its waiters see that)."""
        flight = self._flight
        if flight is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(flight)

    def _landed(self, flight: asyncio.Future[None]) -> None:
        if self._flight is flight:
            self._flight = None
        if not flight.cancelled():
            flight.exception()  # retrieved here too, in case every waiter was cancelled


class RenewingProvider(TokenProvider):
    """A provider of one access token that expires, with one renewal in flight however many
    requests wait for it (:class:`SingleFlight`).

    - A token inside ``refresh_margin`` seconds of its expiry still works, so no request waits
      for its renewal: the first request to see it due starts one attempt in the background
      (:meth:`_mint_ahead`) and every request goes on with the current token. An attempt that
      is refused (the mint throttle) or fails is logged, and tried again later
      (:meth:`_ahead_not_before`); only when the token expires does a request wait.
    - A missing or expired token, or one Outreach rejected (401), is renewed while the
      request waits (:meth:`_mint`, which may wait out a throttle).

    Subclasses set the attributes below in ``__init__`` and implement ``_mint`` and
    ``_mint_ahead``; they may override ``_ahead_not_before``.
    """

    _access_token: str | None
    expires_at: float | None
    refresh_margin: float
    _clock: Callable[[], float]
    _renewal: SingleFlight
    #: no early renewal before this time (wall clock): set after one failed
    _retry_ahead_at: float

    async def token(self) -> str:
        """The current access token; a missing or expired one is renewed first (waiting), a
        valid one due for renewal is renewed in the background (never waiting)."""
        current = self._access_token
        if current is None or self._expired():
            await self._replace(current)
        elif self._due():
            self._start_ahead()
        assert self._access_token is not None
        return self._access_token

    async def refresh(self, rejected: str) -> bool:
        """Renew after a 401, unless another request already replaced ``rejected``."""
        if self._access_token is not None and self._access_token != rejected:
            return True  # compare before refreshing: someone else already did
        await self._replace(rejected)
        return True

    async def settle(self) -> None:
        """Wait until no renewal is in flight (the client calls this as it closes, so an early
        renewal never outlives it halfway, with a rotated token unsaved)."""
        await self._renewal.settle()

    def _due(self) -> bool:
        """Inside the margin before expiry (or past it)."""
        return (
            self.expires_at is not None and self._clock() >= self.expires_at - self.refresh_margin
        )

    def _expired(self) -> bool:
        return self.expires_at is not None and self._clock() >= self.expires_at

    async def _replace(self, unusable: str | None) -> None:
        """Renew until the token is no longer ``unusable`` (missing, expired or rejected).

        A renewal in flight is joined first; when that was an early attempt that changed
        nothing (throttled, failed), a full mint follows.
        """
        await self._renewal.run(self._mint)
        if self._access_token is None or self._access_token == unusable:
            await self._renewal.run(self._mint)

    def _start_ahead(self) -> None:
        if self._renewal.running or self._clock() < self._ahead_not_before():
            return
        self._renewal.start(self._renew_ahead)

    async def _renew_ahead(self) -> None:
        """One early attempt, in the background: it never raises (nobody awaits it)."""
        try:
            await self._mint_ahead()
        except Exception as error:  # the current token still works; log, and try later
            self._retry_ahead_at = self._clock() + RETRY_AHEAD_INTERVAL
            logger.warning("renewing the access token ahead of expiry failed: %s", error)

    def _ahead_not_before(self) -> float:
        """The earliest time for the next early attempt."""
        return self._retry_ahead_at

    async def _mint_ahead(self) -> None:
        """Try once to renew a token that still works, without waiting on any throttle."""
        raise NotImplementedError

    async def _mint(self) -> None:
        """Get and install a new token, waiting out throttles: a request waits for it."""
        raise NotImplementedError
