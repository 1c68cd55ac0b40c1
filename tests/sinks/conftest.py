"""Fixtures of the sink tests: one PostgreSQL server per session, a fresh database per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import yarl

from tests.postgres_server import postgres_server_url

asyncpg = pytest.importorskip("asyncpg", reason="the postgres extra is not installed")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of the session's server (as its superuser)."""
    with postgres_server_url() as url:
        yield url


@pytest.fixture
async def database(postgres_server: str) -> AsyncIterator[str]:
    """A new, empty database for one test; its superuser URL."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield str(yarl.URL(postgres_server).with_path(f"/{name}"))
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()
