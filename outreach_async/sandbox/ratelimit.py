"""The sandbox's per-user rate limit: a fixed-window budget and the ``X-RateLimit-*`` headers.

Outreach allows 10,000 requests per hour per user and sends ``X-RateLimit-Limit``,
``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` (epoch seconds) on every response; over budget
it answers 429 ``rateLimitExceeded`` with an integer ``Retry-After``
(outreach-api-facts.md §2). Since about 2023 ``X-RateLimit-Remaining`` can hold two
comma-separated values (``"9999, 19988"``, §2 and §11.6); ``two_value_remaining`` mimics that.

The counting is pure (:meth:`RateLimitState.take` with the time passed in); the middleware only
reads the clock, asks the state and writes headers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import attrs
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from outreach_async.sandbox.errors import ApiError, error_response

__all__ = [
    "RateLimitConfig",
    "RateLimitDecision",
    "RateLimitState",
    "USER_ID_KEY",
    "WindowCounts",
    "rate_limit_headers",
    "rate_limit_middleware",
]

#: Where the auth layer stores the id of the user a request acts for; the limiter keys on it.
USER_ID_KEY = web.RequestKey("outreach_user_id", int)


@attrs.define
class RateLimitConfig:
    """How the sandbox limits each user: ``limit`` requests per fixed ``window`` of seconds."""

    limit: int = 10_000
    window: float = 3600.0
    two_value_remaining: bool = False
    enabled: bool = True
    #: Only requests under this path prefix count (the token endpoint has its own throttle).
    path_prefix: str = "/api/"


@attrs.frozen
class RateLimitDecision:
    """The answer for one request: served or not, and what the headers must say."""

    allowed: bool
    limit: int
    remaining: int
    #: Requests counted in the window so far, including this one when it was allowed.
    used: int
    reset_at: float
    retry_after: int


@attrs.define
class WindowCounts:
    """What one fixed window saw, across all users."""

    start: float
    served: int = 0
    rejected: int = 0


@attrs.define
class RateLimitState:
    """Counters of the limiter: per user per window, and totals that benchmarks read."""

    served: int = 0
    rejected: int = 0
    #: Window start (epoch seconds) -> counts in that window, for utilisation figures.
    windows: dict[float, WindowCounts] = attrs.field(factory=dict)
    _used: dict[tuple[str, int], int] = attrs.field(factory=dict, init=False)

    def take(self, key: str, now: float, config: RateLimitConfig) -> RateLimitDecision:
        """Count one request of ``key`` at ``now`` and say whether it may be served."""
        index = math.floor(now / config.window)
        start = index * config.window
        reset_at = start + config.window
        counts = self.windows.setdefault(start, WindowCounts(start))
        used = self._used.get((key, index), 0)
        allowed = used < config.limit
        if allowed:
            used += 1
            self._used[(key, index)] = used
            self.served += 1
            counts.served += 1
        else:
            self.rejected += 1
            counts.rejected += 1
        return RateLimitDecision(
            allowed=allowed,
            limit=config.limit,
            remaining=max(config.limit - used, 0),
            used=used,
            reset_at=reset_at,
            retry_after=max(math.ceil(reset_at - now), 1),
        )

    def remaining(self, key: str, now: float, config: RateLimitConfig) -> int:
        """How many requests ``key`` may still make in the window holding ``now``."""
        index = math.floor(now / config.window)
        return max(config.limit - self._used.get((key, index), 0), 0)


def rate_limit_headers(decision: RateLimitDecision, config: RateLimitConfig) -> dict[str, str]:
    """The ``X-RateLimit-*`` headers (and ``Retry-After`` on a refusal) for ``decision``."""
    remaining = str(decision.remaining)
    if config.two_value_remaining:
        # The second value's meaning is undocumented (TAP commit 21f1545); we send a larger
        # budget counting the same requests so clients must take the first value.
        remaining = f"{remaining}, {max(2 * decision.limit - decision.used, 0)}"
    headers = {
        "X-RateLimit-Limit": str(decision.limit),
        "X-RateLimit-Remaining": remaining,
        "X-RateLimit-Reset": str(math.ceil(decision.reset_at)),
    }
    if not decision.allowed:
        headers["Retry-After"] = str(decision.retry_after)
    return headers


def _exceeded_response(decision: RateLimitDecision, headers: Mapping[str, str]) -> web.Response:
    # The detail is the documented example text with our limit and window end filled in
    # (outreach-api-facts.md §2, "429 body").
    again = datetime.fromtimestamp(decision.reset_at, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    detail = (
        f"You have exceeded your permitted rate limit of {decision.limit:,}; "
        f"please try again at {again}."
    )
    return error_response(
        ApiError(429, "rateLimitExceeded", "Rate Limit Exceeded", detail, headers=headers)
    )


def _caller_key(request: web.Request) -> str:
    user_id = request.get(USER_ID_KEY)
    if user_id is not None:
        return f"user:{user_id}"
    return "authorization:" + request.headers.get("Authorization", "")


def rate_limit_middleware(
    config: RateLimitConfig,
    clock: Callable[[], float] = time.time,
    *,
    state: RateLimitState | None = None,
) -> Middleware:
    """An aiohttp middleware that enforces ``config`` per user and stamps the headers.

    Place it inside the auth middleware: Outreach counts requests per authorized user, so
    requests refused with 401 never reach the limiter. Pass ``state`` to read the counters.
    """
    counters = state if state is not None else RateLimitState()

    @web.middleware
    async def rate_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not config.enabled or not request.path.startswith(config.path_prefix):
            return await handler(request)
        decision = counters.take(_caller_key(request), clock(), config)
        headers = rate_limit_headers(decision, config)
        if not decision.allowed:
            return _exceeded_response(decision, headers)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            # Errors raised as exceptions (404 for an unknown route, ...) carry them too.
            exc.headers.update(headers)
            raise
        response.headers.update(headers)
        return response

    return rate_limit
