"""Observability: event hooks the transport calls, and the URL redaction they all share.

``Hooks(on_request=..., on_response=..., on_retry=..., on_rate_limit=...)`` takes plain or async
callables. Each receives one small attrs event; URLs in events (and in logs and error messages)
have secret-looking query values and any user:password replaced, so a hook that ships events
to a log service never leaks a credential. Tokens travel in headers, which no event carries.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Awaitable, Callable
from typing import TypeVar

import attrs
from yarl import URL

__all__ = [
    "Hooks",
    "RateLimitEvent",
    "RequestEvent",
    "ResponseEvent",
    "RetryEvent",
    "logger",
    "safe_url",
]

#: The library's logger; the transport logs each request and retry at DEBUG, never a token.
logger = logging.getLogger("outreach_async")

_REDACTED = "REDACTED"
# Query parameter names whose values may be credentials (an access_token pasted into a link,
# an OAuth code or client secret). Outreach's own cursors (page[after]) are not secrets.
_SECRET_NAME = re.compile(
    r"token|secret|password|passwd|key|signature|sig|code|auth|credential", re.IGNORECASE
)


def safe_url(url: URL | str) -> str:
    """``url`` as text, with user:password and secret-looking query values redacted."""
    url = URL(url) if isinstance(url, str) else url
    if url.user is not None or url.password is not None:
        url = url.with_user(None)
    if url.query and any(_SECRET_NAME.search(name) for name in url.query):
        query = [
            (name, _REDACTED if _SECRET_NAME.search(name) else value)
            for name, value in url.query.items()
        ]
        url = url.with_query(query)
    return str(url)


@attrs.frozen
class RequestEvent:
    """A request is about to go on the wire. ``attempt`` is 1 for the first try."""

    method: str
    url: str
    operation: str
    attempt: int


@attrs.frozen
class ResponseEvent:
    """A complete answer arrived (any status); ``elapsed`` is seconds on the wire."""

    method: str
    url: str
    operation: str
    attempt: int
    status: int
    elapsed: float


@attrs.frozen
class RetryEvent:
    """A try failed and will be repeated after ``wait`` seconds.

    ``attempt`` numbers the retry about to happen (1 = the first retry), as ``RetryContext``
    does; ``status`` is the HTTP status, or None when the failure was a connection error or a
    timeout (then ``error`` names it).
    """

    method: str
    url: str
    operation: str
    attempt: int
    status: int | None
    error: str | None
    wait: float


@attrs.frozen
class RateLimitEvent:
    """The rate limit made a request wait ``wait`` seconds.

    Emitted when the limiter held a request back before sending (``status`` None) and when the
    server answered 429, or 503 with ``Retry-After`` (``status`` set, ``wait`` from the header).
    """

    method: str
    url: str
    operation: str
    status: int | None
    wait: float


_E = TypeVar("_E")


async def _call(callback: Callable[[_E], Awaitable[None] | None] | None, event: _E) -> None:
    """Run a sync or async callback; exceptions propagate (a broken hook should be seen)."""
    if callback is None:
        return
    result = callback(event)
    if inspect.isawaitable(result):
        await result


@attrs.define
class Hooks:
    """Optional callbacks for request, response, retry and rate-limit events (sync or async)."""

    on_request: Callable[[RequestEvent], Awaitable[None] | None] | None = None
    on_response: Callable[[ResponseEvent], Awaitable[None] | None] | None = None
    on_retry: Callable[[RetryEvent], Awaitable[None] | None] | None = None
    on_rate_limit: Callable[[RateLimitEvent], Awaitable[None] | None] | None = None

    async def request(self, event: RequestEvent) -> None:
        """Hand ``event`` to ``on_request``, if set."""
        await _call(self.on_request, event)

    async def response(self, event: ResponseEvent) -> None:
        """Hand ``event`` to ``on_response``, if set."""
        await _call(self.on_response, event)

    async def retry(self, event: RetryEvent) -> None:
        """Hand ``event`` to ``on_retry``, if set."""
        await _call(self.on_retry, event)

    async def rate_limit(self, event: RateLimitEvent) -> None:
        """Hand ``event`` to ``on_rate_limit``, if set."""
        await _call(self.on_rate_limit, event)
