"""``OutreachClient``: the composition root (config, auth, limiter, retry, transport, repositories).

One client per application: open it at start-up, share it between all handlers and tasks, close
it at shutdown. Every repository of the client shares its transport, so ``max_concurrency`` and
the rate-limit budget hold across all of them.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from yarl import URL

from ._exceptions import ClientClosedError
from ._hooks import Hooks
from ._http import Request, Response, TokenProvider
from ._ratelimit import RateLimiter
from ._repositories import RepositoryAttributes
from ._retry import RetryPolicy
from ._transport import Timer, Transport
from .auth import StaticToken
from .models._base import Resource
from .resources import SPECIAL_REPOSITORIES, Repository

if TYPE_CHECKING:
    import aiohttp

__all__ = ["DEFAULT_BASE_URL", "OutreachClient"]

R = TypeVar("R", bound=Resource)

DEFAULT_BASE_URL = "https://api.outreach.io/api/v2"


class OutreachClient(RepositoryAttributes):
    """The asyncio client for the Outreach REST API v2.

    ``auth`` is an access token (``str``) or a :class:`TokenProvider` such as
    :class:`OAuth2Refresh`. Use it as ``async with OutreachClient(...) as outreach:`` or call
    :meth:`close` when done. ``sleep``, ``clock`` (monotonic), ``wall_clock`` (epoch) and ``rng``
    drive every wait of the rate limiter and the retries, and ``timer`` (default
    ``asyncio.timeout``) each request's ``timeout``: tests pass fakes so nothing sleeps.
    """

    def __init__(
        self,
        auth: str | TokenProvider,
        *,
        base_url: str | URL = DEFAULT_BASE_URL,
        max_concurrency: int = 8,
        timeout: float = 30.0,
        max_retries: int = 5,
        rate_limiter: RateLimiter | None = None,
        session: aiohttp.ClientSession | None = None,
        retry: RetryPolicy | None = None,
        hooks: Hooks | None = None,
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        timer: Timer = asyncio.timeout,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self._base_url = URL(str(base_url).rstrip("/"))
        self._auth = StaticToken(auth) if isinstance(auth, str) else auth
        self._transport = Transport(
            base_url=self._base_url,
            auth=self._auth,
            timeout=timeout,
            timer=timer,
            max_concurrency=max_concurrency,
            retry=retry or RetryPolicy(max_retries=max_retries),
            rate_limiter=rate_limiter,
            session=session,
            hooks=hooks,
            trace_configs=trace_configs,
            sleep=sleep,
            clock=clock,
            wall_clock=wall_clock,
            rng=rng,
        )
        self._repositories: dict[type[Resource], Repository[Any]] = {}
        self._closed = False

    def __repr__(self) -> str:
        return f"<OutreachClient {self._base_url}{' closed' if self._closed else ''}>"

    @property
    def base_url(self) -> URL:
        """The API root every request path hangs from (``.../api/v2``)."""
        return self._base_url

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def transport(self) -> Transport:
        """The transport (for advanced use: hooks, the limiter)."""
        return self._transport

    def repository(self, model: type[R]) -> Repository[R]:
        """The repository of a model class; ``repository(Prospect) is outreach.prospects``."""
        repo = self._repositories.get(model)
        if repo is None:
            cls = SPECIAL_REPOSITORIES.get(model.__resource_spec__.type, Repository)
            repo = self._repositories[model] = cls(self, model)
        return repo

    async def send(self, request: Request) -> Response:
        """Send one request through the transport (retries, rate limit and auth included)."""
        if self._closed:
            raise ClientClosedError("this OutreachClient is closed")
        return await self._transport.send(request)

    async def close(self) -> None:
        """Close the client's HTTP session (a session passed in by the caller is left open)."""
        if not self._closed:
            self._closed = True
            await self._transport.aclose()

    async def __aenter__(self) -> OutreachClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
