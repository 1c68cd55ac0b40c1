"""``RedisTokenStore``: one org's OAuth tokens shared by every process and machine, via Redis.

Outreach may rotate the refresh token on every refresh, and presenting a spent one is
``invalid_grant`` (facts 1.1): two workers that refresh at once log the org out. So a fleet keeps
one token set per tenant in Redis and renews it under one lock:

- ``outreach:tokens:<tenant>`` holds the token set (the JSON of :class:`FileTokenStore`).
- ``outreach:tokens:<tenant>:lock`` is the renewal lock: ``<owner>|<deadline>``. It is a lease:
  a holder that dies (SIGKILL mid-refresh) stops extending it, and once its deadline passes the
  next worker takes the lock over, so a tenant is never left unable to refresh. A live holder
  extends the lease every third of it while it works (a throttled refresh may take minutes).
- ``outreach:tokens:<tenant>:seeds`` holds the fingerprints of the seeds stored by :meth:`seed`
  (a fleet's configured refresh token, stored once per value, never over rotated tokens).
- :class:`~outreach_async.OAuth2Refresh` (built with ``from_store``) renews only while holding
  the lock, reads the store first (a worker that lost the race adopts the winner's tokens and
  does not refresh again), and saves the new set before releasing the lock and before using it.

Deadlines are the callers' epoch seconds (``clock``, injectable): keep the fleet's clocks in
sync (NTP), as the rate limiter requires too. Every lock step is one Lua script, so it is atomic.
``redis`` is imported only when a URL is given, so the package works without the ``redis`` extra.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

from outreach_async._exceptions import TokenStoreError
from outreach_async._hooks import logger

from ._tokens import TokenSet, TokenStore, token_set_from_json, token_set_to_json

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisTokenStore"]

#: how long a renewal lock lasts unless its holder extends it, seconds
DEFAULT_LEASE = 30.0
#: how often a worker waiting for the lock looks again, seconds
DEFAULT_POLL = 0.05

# Take the lock when it is free or its lease has passed (the holder died).
_ACQUIRE = """
local current = redis.call('GET', KEYS[1])
if current then
  local deadline = tonumber(string.match(current, '|([^|]+)$'))
  if deadline and deadline > tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[3], 'PX', ARGV[4])
return 1
"""
# Extend or release the lock only while we still own it (a lease taken over is not ours).
_EXTEND = """
local current = redis.call('GET', KEYS[1])
if not current or string.sub(current, 1, #ARGV[1] + 1) ~= ARGV[1] .. '|' then return 0 end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 'PX', ARGV[3])
return 1
"""
# KEYS: the token set, the seed fingerprints; ARGV: this seed's fingerprint, its token set. A
# seed stored before is stored again only if the token set is gone (deleted by hand).
_SEED = """
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 and redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"""
_RELEASE = """
local current = redis.call('GET', KEYS[1])
if current and string.sub(current, 1, #ARGV[1] + 1) == ARGV[1] .. '|' then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def _connect(url: str) -> Redis:
    try:
        module: Any = importlib.import_module("redis.asyncio")
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "RedisTokenStore needs the redis package: pip install 'outreach-async[redis]'"
        ) from exc
    client: Redis = module.Redis.from_url(url)
    return client


class RedisTokenStore(TokenStore):
    """One tenant's token set in Redis, with the fleet-wide renewal lock (a lease).

    ``redis`` is a ``redis.asyncio.Redis`` client or a URL; ``tenant`` names the Outreach org
    (every worker of that org uses the same name). Pass the store to
    :meth:`OAuth2Refresh.from_store <outreach_async.OAuth2Refresh.from_store>`, which then
    renews through :meth:`renewal`. ``clock`` (epoch seconds) and ``sleep`` are injectable.
    """

    def __init__(
        self,
        redis: Redis | str,
        tenant: str,
        *,
        lease: float = DEFAULT_LEASE,
        poll: float = DEFAULT_POLL,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        if not tenant:
            raise ValueError("RedisTokenStore needs a tenant name")
        if lease <= 0 or poll <= 0:
            raise ValueError("lease and poll must be positive numbers of seconds")
        self._redis = _connect(redis) if isinstance(redis, str) else redis
        # a client was given or made, so redis is installed: its error base for _reaching_redis
        self._redis_error: type[Exception] = importlib.import_module("redis.exceptions").RedisError
        self.tenant = tenant
        self.key = f"outreach:tokens:{tenant}"
        self.lock_key = f"{self.key}:lock"
        self.seeds_key = f"{self.key}:seeds"
        self.lease = lease
        self.poll = poll
        self._clock = clock
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"RedisTokenStore(tenant={self.tenant!r})"

    @contextlib.contextmanager
    def _reaching_redis(self, doing: str) -> Iterator[None]:
        """Redis's own errors (unreachable, timed out, refused) as the library's typed
        :class:`TokenStoreError`, naming the store and what it was doing; the cause is kept."""
        try:
            yield
        except self._redis_error as exc:
            raise TokenStoreError(f"{self!r}: {doing} failed: {exc}") from exc

    async def load(self) -> TokenSet | None:
        """The tenant's saved token set, or None before the first login. Raises
        :class:`~outreach_async.TokenStoreError` when Redis cannot be reached."""
        with self._reaching_redis("reading the token set"):
            raw = await self._redis.get(self.key)
        if raw is None:
            return None
        return token_set_from_json(raw if isinstance(raw, bytes) else raw.encode(), repr(self))

    async def save(self, tokens: TokenSet) -> None:
        """Replace the tenant's token set (one SET: readers see the old set or the new one)."""
        with self._reaching_redis("saving the token set"):
            await self._redis.set(self.key, token_set_to_json(tokens))

    async def seed(self, tokens: TokenSet, fingerprint: str) -> bool:
        """Save ``tokens`` unless the seed called ``fingerprint`` was saved before (and the
        token set is still there); True when saved now. One atomic step: of many processes
        seeding at once, one saves, so none spends a configured refresh token already rotated.
        ``fingerprint`` must not be a secret (a digest of the seed)."""
        with self._reaching_redis("seeding the token set"):
            saved = await self._redis.eval(
                _SEED, 2, self.key, self.seeds_key, fingerprint, token_set_to_json(tokens)
            )
        return bool(saved)

    @contextlib.asynccontextmanager
    async def renewal(self, *, wait: bool = True) -> AsyncIterator[bool]:
        """Hold the tenant's renewal lock for the block: yields True. With ``wait=False`` and
        the lock held elsewhere, yields False at once (a renewal is under way there)."""
        owner = uuid.uuid4().hex
        while not await self._acquire(owner):
            if not wait:
                yield False
                return
            await self._sleep(self.poll)
        keeper = asyncio.ensure_future(self._keep(owner))
        try:
            yield True
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await keeper  # a failed extension was logged; the release below still runs
            try:
                await self._redis.eval(_RELEASE, 1, self.lock_key, owner)
            except self._redis_error as error:  # the lease lapses on its own; the tokens are saved
                logger.warning("releasing the token renewal lock failed: %s", error)

    async def _acquire(self, owner: str) -> bool:
        now = self._clock()
        with self._reaching_redis("taking the renewal lock"):
            taken = await self._redis.eval(
                _ACQUIRE, 1, self.lock_key, owner, repr(now), repr(now + self.lease), self._ttl_ms()
            )
        return bool(taken)

    async def _keep(self, owner: str) -> None:
        """Extend the lease every third of it while the holder works."""
        while True:
            await self._sleep(self.lease / 3)
            deadline = self._clock() + self.lease
            try:
                kept = await self._redis.eval(
                    _EXTEND, 1, self.lock_key, owner, repr(deadline), self._ttl_ms()
                )
            except Exception as error:  # Redis away: the lease may lapse; the refresh goes on
                logger.warning("extending the token renewal lock failed: %s", error)
                continue
            if not kept:
                logger.warning("the token renewal lock of %s was taken over", self.tenant)
                return

    def _ttl_ms(self) -> int:
        # A backstop in Redis's own time, so a dead holder's key goes away even if no one asks.
        return int(self.lease * 2 * 1000)
