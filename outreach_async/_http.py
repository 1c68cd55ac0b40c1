"""The small request and response values that cross the transport seam (pure, no aiohttp).

Repositories and the paginator build :class:`Request` values; ``_transport`` sends them and hands
back :class:`Response` values. Retries, rate limiting and token refresh all live behind the seam;
the transport asks a :class:`TokenProvider` for its bearer tokens (``outreach_async.auth`` has the
providers that ship, which in turn reach the token endpoints through the transport).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, Protocol, TypeAlias, runtime_checkable

import attrs
from yarl import URL

Method: TypeAlias = Literal["GET", "POST", "PATCH", "DELETE"]

JSONAPI_MEDIA_TYPE = "application/vnd.api+json"


@attrs.frozen
class Request:
    """One HTTP request to the API.

    ``url`` is absolute and carries the query string already (a ``links.next`` URL is sent as
    given). ``idempotent`` tells the retry layer whether the request may be repeated after it may
    have reached the server: GET, DELETE, PATCH and the actions Outreach documents as idempotent.
    """

    method: Method
    url: URL
    body: bytes | None = None
    idempotent: bool = True
    #: a label for hooks and logs ("prospects.list", "prospects.create")
    operation: str = ""
    #: error statuses the caller handles itself instead of having them retried (the paginator
    #: halves ``page[size]`` on a 502 rather than resending a page the gateway cannot serve)
    no_retry_statuses: frozenset[int] = frozenset()

    @classmethod
    def get(cls, url: URL, *, operation: str = "") -> Request:
        return cls("GET", url, operation=operation)


@attrs.frozen
class Response:
    """A complete HTTP answer: status, headers (case-insensitive mapping) and the raw body."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: URL
    method: Method = "GET"


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
