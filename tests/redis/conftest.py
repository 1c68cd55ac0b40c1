"""Fixtures for the tests against a real redis-server: a client on ``redis_url`` (see
``tests/conftest.py`` and ``tests/redis_server.py``) and a fresh user name per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis


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
