"""Fixtures of the sink tests: a fresh database per test on the session's PostgreSQL server
(``postgres_server``, from the root conftest)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yarl

from outreach_async.sinks import DatabaseSink, open_sink

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


@pytest.fixture(params=["postgres", "duckdb"])
def sink_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new database of each kind: PostgreSQL (:func:`database`), then a DuckDB file."""
    if request.param == "postgres":
        return str(request.getfixturevalue("database"))
    pytest.importorskip("duckdb")
    return f"duckdb:///{tmp_path / 'o.duckdb'}"


@pytest.fixture
async def sink(sink_url: str) -> AsyncIterator[DatabaseSink]:
    """The ``prospects`` sink of :func:`sink_url`, open for one test."""
    async with open_sink(sink_url, "prospects") as opened:
        yield opened
