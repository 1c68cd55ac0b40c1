"""Shared test configuration."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings

from tests.clock import FakeClock
from tests.postgres_server import postgres_server_url
from tests.redis_server import redis_server_url

if TYPE_CHECKING:
    from redis.asyncio import Redis

# Property tests run on a 2-core CI machine next to loopback servers: no deadline flakiness.
settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=50
)
# Mutation testing (tools/mutation.py) runs the tests once per mutant: fewer examples, and the
# same ones every run, so two reports of one commit agree.
settings.register_profile(
    "mutation", parent=settings.get_profile("default"), max_examples=10, derandomize=True
)
settings.load_profile(os.environ.get("OUTREACH_HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis to test against: ``REDIS_URL``, or a throwaway redis-server, or skip."""
    with redis_server_url() as url:
        yield url


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[Redis]:
    """A client of :func:`redis_url`'s server, closed after the test."""
    from redis.asyncio import Redis  # the redis extra: only the tests that use Redis need it

    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server's URL (as its superuser), one per session (see
    ``tests/postgres_server.py``: ``POSTGRES_URL``, or a throwaway cluster, or skip)."""
    with postgres_server_url() as url:
        yield url


@pytest.fixture
def fake_clock() -> FakeClock:
    """A fresh :class:`FakeClock` (see ``tests/clock.py``)."""
    return FakeClock()
