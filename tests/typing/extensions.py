"""Extending the client with the package's public names only (checked by mypy, never run):
a retry rule, hooks and a rate limiter of one's own."""

from __future__ import annotations

from outreach_async import (
    Hooks,
    OutreachClient,
    RateLimiter,
    RateLimitEvent,
    RateLimitInfo,
    RequestEvent,
    ResponseEvent,
    RetryContext,
    RetryEvent,
    RetryPolicy,
)


def never_retry_deletes(ctx: RetryContext) -> bool | None:
    """A ``decide`` rule: what it receives is a public type."""
    return False if ctx.method == "DELETE" else None


class CountingLimiter:
    """A rate limiter of one's own: ``observe`` is told a public ``RateLimitInfo``."""

    def __init__(self) -> None:
        self.remaining: int | None = None

    async def acquire(self) -> None:
        return None

    async def observe(self, info: RateLimitInfo, *, status: int, retry_after: float | None) -> None:
        self.remaining = info.remaining


def on_request(event: RequestEvent) -> None: ...
def on_response(event: ResponseEvent) -> None: ...
def on_retry(event: RetryEvent) -> None: ...
def on_rate_limit(event: RateLimitEvent) -> None: ...


def client() -> OutreachClient:
    limiter: RateLimiter = CountingLimiter()
    hooks = Hooks(
        on_request=on_request,
        on_response=on_response,
        on_retry=on_retry,
        on_rate_limit=on_rate_limit,
    )
    retry = RetryPolicy(decide=never_retry_deletes)
    return OutreachClient("token", rate_limiter=limiter, hooks=hooks, retry=retry)
