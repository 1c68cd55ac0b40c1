"""Fixtures of the sink tests: a fresh database per test on the session's PostgreSQL server
(``postgres_server``, from the root conftest)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import yarl

asyncpg = pytest.importorskip("asyncpg", reason="the postgres extra is not installed")


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
