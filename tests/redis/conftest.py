"""Fixtures for the tests against a real redis-server: a fresh user name per test (the client,
``redis_client``, is the root conftest's; see ``tests/redis_server.py``)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis


@pytest.fixture
async def user(redis_client: Redis) -> AsyncIterator[str]:
    """A fresh Outreach user name per test, so tests never share a budget; cleaned up after."""
    name = f"test-{uuid.uuid4().hex}"
    yield name
    await redis_client.delete(f"outreach:ratelimit:{name}")
