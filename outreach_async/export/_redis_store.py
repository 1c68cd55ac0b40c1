"""A checkpoint store in Redis, for fleets (``--state redis://host:6379/0``).

Every key is one string holding canonical JSON, under ``outreach-async:checkpoint:``. ``SET`` is
atomic; :meth:`RedisCheckpointStore.replace` is a compare-and-set done by a Lua script, so two
fleet members cannot both start the next run. Durability is Redis's: run it with AOF
(``appendonly yes``) when a restart of Redis must not forget progress.

Needs the ``redis`` extra (``pip install outreach-async[redis]``).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from ._checkpoint import CheckpointError, Document, canonical_json, decode_checkpoint

if TYPE_CHECKING:
    import redis.asyncio as aioredis

__all__ = ["RedisCheckpointStore"]

PREFIX = "outreach-async:checkpoint:"

# KEYS[1]: the key; ARGV[1]: the expected value ("" for absent); ARGV[2]: the new value
_COMPARE_AND_SET = """
local current = redis.call('GET', KEYS[1])
if (current == false and ARGV[1] == '') or current == ARGV[1] then
    redis.call('SET', KEYS[1], ARGV[2])
    return 1
end
return 0
"""


class RedisCheckpointStore:
    """Checkpoints in Redis. Build it from a URL or pass a ``redis.asyncio.Redis``."""

    def __init__(self, client: aioredis.Redis, *, prefix: str = PREFIX, owned: bool = False):
        self._redis = client
        self._prefix = prefix
        self._owned = owned

    @classmethod
    def from_url(cls, url: str, *, prefix: str = PREFIX) -> RedisCheckpointStore:
        """A store on a new connection pool, closed by :meth:`close`."""
        try:
            import redis.asyncio as aioredis
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise CheckpointError(
                "a redis:// state needs the redis package: pip install 'outreach-async[redis]'"
            ) from exc
        return cls(aioredis.Redis.from_url(url), prefix=prefix, owned=True)

    def __repr__(self) -> str:
        return f"<RedisCheckpointStore prefix={self._prefix!r}>"

    async def _guard(self, pending: Awaitable[Any]) -> Any:
        from redis.exceptions import RedisError

        try:
            return await pending
        except RedisError as exc:
            raise CheckpointError(f"redis checkpoint store: {exc}") from exc

    async def load(self, key: str) -> Document | None:
        return decode_checkpoint(await self._guard(self._redis.get(self._prefix + key)))

    async def save(self, key: str, value: Document) -> None:
        await self._guard(self._redis.set(self._prefix + key, canonical_json(value)))

    async def create(self, key: str, value: Document) -> Document:
        full = self._prefix + key
        await self._guard(self._redis.set(full, canonical_json(value), nx=True))
        return decode_checkpoint(await self._guard(self._redis.get(full))) or {}

    async def replace(self, key: str, expected: Document | None, value: Document) -> bool:
        old = "" if expected is None else canonical_json(expected)
        script = self._redis.eval(
            _COMPARE_AND_SET, 1, self._prefix + key, old, canonical_json(value)
        )
        return bool(await self._guard(script))

    async def close(self) -> None:
        if self._owned:
            await self._redis.aclose()
