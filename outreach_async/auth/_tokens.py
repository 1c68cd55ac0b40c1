"""Token sets and where they are kept: the values every auth module shares (no I/O here).

A :class:`TokenSet` is what a login or a refresh produces; a :class:`TokenStore` keeps one
between runs. Outreach may rotate the refresh token on every refresh and a refresh token dies 14
days after it was issued (facts 1.1, 11.2), so a long-lived integration must persist each new
token set before it uses it: :meth:`OAuth2Refresh.from_store
<outreach_async.OAuth2Refresh.from_store>` loads the saved set and saves every new one.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, runtime_checkable

import attrs
import orjson

from outreach_async._exceptions import TokenStoreError

__all__ = [
    "OnRefresh",
    "SharedTokenStore",
    "TokenSet",
    "TokenStore",
    "call_on_refresh",
    "token_set_from_json",
    "token_set_to_json",
]

#: what a repr shows instead of a secret
HIDDEN = "<hidden>"


@attrs.frozen
class TokenSet:
    """What a refresh produced, handed to ``on_refresh`` so the caller can persist it.

    ``expires_at`` is a wall-clock timestamp (seconds since the epoch, as ``time.time()``).
    """

    access_token: str = attrs.field(repr=lambda _: repr(HIDDEN))
    refresh_token: str = attrs.field(repr=lambda _: repr(HIDDEN))
    expires_at: float | None = None


OnRefresh = Callable[[TokenSet], Awaitable[None] | None]


async def call_on_refresh(on_refresh: OnRefresh | None, tokens: TokenSet) -> None:
    """Call a sync or async ``on_refresh`` callback (None: nothing to call)."""
    if on_refresh is not None:
        result = on_refresh(tokens)
        if inspect.isawaitable(result):
            await result


@runtime_checkable
class TokenStore(Protocol):
    """Loads and saves one :class:`TokenSet`; implement it for your own storage."""

    async def load(self) -> TokenSet | None:
        """The saved token set, or None when nothing was saved yet."""
        ...

    async def save(self, tokens: TokenSet) -> None:
        """Persist ``tokens`` durably, replacing what was saved before."""
        ...


@runtime_checkable
class SharedTokenStore(TokenStore, Protocol):
    """A :class:`TokenStore` that several processes share, with a lock for renewing.

    :meth:`OAuth2Refresh.from_store <outreach_async.OAuth2Refresh.from_store>` renews only
    while holding it, so one refresh is in flight per tenant however many processes share it
    (:class:`~outreach_async.RedisTokenStore` is one).
    """

    def renewal(self, *, wait: bool = True) -> AbstractAsyncContextManager[bool]:
        """Hold the renewal lock for the block (True); with ``wait=False``, yield False at
        once when another process holds it."""
        ...


def token_set_to_json(tokens: TokenSet) -> bytes:
    """The JSON form of a token set (what :class:`FileTokenStore` writes)."""
    return orjson.dumps(
        {
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "expires_at": tokens.expires_at,
        },
        option=orjson.OPT_INDENT_2,
    )


def token_set_from_json(raw: bytes, where: str = "the token store") -> TokenSet:
    """Read :func:`token_set_to_json`'s form back; :class:`TokenStoreError` when it is not one."""
    try:
        loaded: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise TokenStoreError(f"{where} does not hold JSON") from None
    if not isinstance(loaded, dict):
        raise TokenStoreError(f"{where} does not hold a JSON object")
    access, refresh = loaded.get("access_token"), loaded.get("refresh_token")
    expires_at = loaded.get("expires_at")
    if not isinstance(access, str) or not isinstance(refresh, str) or not refresh:
        raise TokenStoreError(f"{where} lacks an access_token or refresh_token string")
    if expires_at is not None and (
        isinstance(expires_at, bool)
        or not isinstance(expires_at, int | float)
        or not math.isfinite(expires_at)
    ):
        raise TokenStoreError(f"{where} has an expires_at that is not a number of seconds")
    return TokenSet(
        access_token=access,
        refresh_token=refresh,
        expires_at=None if expires_at is None else float(expires_at),
    )
