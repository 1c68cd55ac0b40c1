"""A tenant's credentials in a job: its static token, or its OAuth tokens shared in Redis.

Outreach rotates refresh tokens, and a spent one is ``invalid_grant``, so the workers of a fleet
never each keep their own: an OAuth tenant's token set lives in one
:class:`~outreach_async.RedisTokenStore` under the fleet's namespace,
``outreach:tokens:<namespace>:<tenant>`` (its renewal lock beside it, ``...:lock``), and every
job builds its provider with :meth:`OAuth2Refresh.from_store
<outreach_async.OAuth2Refresh.from_store>`: one refresh in flight per tenant across the fleet,
and each rotated set saved before it is used.

The refresh token in ``fleet.toml`` only *seeds* that store (:meth:`RedisTokenStore.seed
<outreach_async.RedisTokenStore.seed>`, keyed by :meth:`OAuthConfig.seed_fingerprint
<outreach_async.fleet.OAuthConfig.seed_fingerprint>`): of the workers that meet a tenant first,
or an edited refresh token first, exactly one stores it; a config that did not change never
overwrites the rotated tokens, nor does a worker still holding an older config.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from outreach_async import OAuth2Refresh, RedisTokenStore, TokenSet

from ._config import Tenant

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["tenant_credentials", "tenant_token_store"]


def tenant_token_store(
    redis: Redis, namespace: str, tenant: str, *, clock: Callable[[], float] = time.time
) -> RedisTokenStore:
    """The shared token store of one OAuth tenant of the fleet ``namespace``."""
    return RedisTokenStore(redis, f"{namespace}:{tenant}", clock=clock)


async def tenant_credentials(
    redis: Redis, namespace: str, tenant: Tenant, *, clock: Callable[[], float] = time.time
) -> str | OAuth2Refresh:
    """What a job's client authenticates with: the static token, or for an OAuth tenant a
    provider renewing through the fleet's shared store (seeded first, with no access token:
    the first request mints one). ``clock`` (epoch seconds) is the provider's and the store's.
    """
    oauth = tenant.oauth
    if oauth is None:
        token = tenant.access_token()
        assert token is not None  # a tenant has exactly one credential
        return token
    store = tenant_token_store(redis, namespace, tenant.name, clock=clock)
    await store.seed(TokenSet("", oauth.refresh_token), oauth.seed_fingerprint())
    return await OAuth2Refresh.from_store(
        store,
        client_id=oauth.client_id,
        client_secret=oauth.client_secret,
        token_url=oauth.token_url,
        clock=clock,
    )
