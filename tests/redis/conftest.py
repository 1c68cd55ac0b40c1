"""Fixtures for the tests against a real redis-server (see ``tests/redis_server.py``)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis

from tests.redis_server import redis_server_url

#: A realistic epoch second (2023-11-14T22:13:20Z) for fake wall clocks.
WALL_EPOCH = 1_700_000_000.0


class FakeWallClock:
    """An epoch clock that only moves when ``sleep`` is awaited; sleeps are recorded.

    ``sleep`` still yields to the loop once, so other tasks (and Redis replies) run meanwhile.
    """

    def __init__(self) -> None:
        self.now = WALL_EPOCH
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)

    @property
    def elapsed(self) -> float:
        return self.now - WALL_EPOCH


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis to test against: ``REDIS_URL``, or a throwaway redis-server, or skip."""
    with redis_server_url() as url:
        yield url


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def user(redis_client: Redis) -> AsyncIterator[str]:
    """A fresh Outreach user name per test, so tests never share a budget; cleaned up after."""
    name = f"test-{uuid.uuid4().hex}"
    yield name
    await redis_client.delete(f"outreach:ratelimit:{name}")


@pytest.fixture
def fake_wall() -> FakeWallClock:
    return FakeWallClock()
