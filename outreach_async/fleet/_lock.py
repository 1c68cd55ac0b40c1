"""A lock with a lease in Redis: two runs of the same tenant x resource never overlap.

``SET key token NX PX lease`` takes it; the holder renews the lease every third of it while it
works, and only the holder (the one that knows the token) can renew or release it: a lease that
lapsed and was taken by another worker is not the first holder's any more. A worker killed with
SIGKILL stops renewing, so its lock lapses after at most one lease and the job's next delivery
takes it. A job whose renewal fails (the lease lapsed: Redis unreachable, the process stalled)
is cancelled at once, before another worker could write beside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["LOST", "LeaseLock"]

T = TypeVar("T")

#: what :meth:`LeaseLock.run` returns when the lease was lost and the work cancelled
LOST: Final = object()

# KEYS[1]: the lock; ARGV[1]: the holder's token; ARGV[2]: the lease in ms
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


class LeaseLock:
    """One lock key; ``lease`` in seconds (see the module docstring)."""

    def __init__(
        self,
        redis: Redis,
        key: str,
        *,
        lease: float,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.redis = redis
        self.key = key
        self.lease_ms = max(1, int(lease * 1000))
        self.token = uuid.uuid4().hex
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"<LeaseLock {self.key}>"

    async def try_acquire(self) -> bool:
        """Take the lock if nobody holds it."""
        return bool(await self.redis.set(self.key, self.token, nx=True, px=self.lease_ms))

    async def renew(self) -> bool:
        """Extend the lease; False when the lock is not ours any more."""
        return bool(await self.redis.eval(_RENEW, 1, self.key, self.token, self.lease_ms))

    async def release(self) -> bool:
        """Let the lock go, if it is still ours."""
        return bool(await self.redis.eval(_RELEASE, 1, self.key, self.token))

    async def acquire_unless_alive(self) -> bool:
        """Take the lock, waiting out a holder that stopped renewing (a killed worker);
        False as soon as the holder shows it is alive (its lease was renewed meanwhile).

        Waits at most about one lease: a dead holder's lease lapses within it, and a live
        holder renews within a third of it."""
        last_ttl: int | None = None
        while True:
            if await self.try_acquire():
                return True
            ttl = int(await self.redis.pttl(self.key))
            if last_ttl is not None and ttl > last_ttl:
                return False  # renewed since we last looked: another run is in progress
            last_ttl = ttl
            await self._sleep(self.lease_ms / 6000)

    async def run(self, work: Callable[[], Awaitable[T]]) -> T | object:
        """Run ``work`` while renewing the lease (the lock must be held), then release it.

        Returns what ``work`` returned, or :data:`LOST` when the lease was lost: ``work`` was
        cancelled then."""
        task = asyncio.ensure_future(work())
        keeper = asyncio.ensure_future(self._keep(task))
        try:
            return await task
        except asyncio.CancelledError:
            if keeper.done() and not keeper.cancelled() and keeper.result() is False:
                return LOST
            raise
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            with contextlib.suppress(Exception):  # a lapsed lease is released by Redis anyway
                await asyncio.shield(self.release())

    async def _keep(self, task: asyncio.Future[Any]) -> bool:
        """Renew every third of the lease; cancel ``task`` and return False when the lock is
        not ours any more, or when two renewals in a row failed (a third of the lease is left:
        stopping now is safer than racing its end)."""
        failures = 0
        while True:
            await self._sleep(self.lease_ms / 3000)
            try:
                renewed: bool | None = await self.renew()
            except Exception:  # Redis unreachable for now: the lease still runs
                renewed = None
            failures = failures + 1 if renewed is None else 0
            if renewed is False or failures >= 2:
                task.cancel()
                return False
