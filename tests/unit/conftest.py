"""Fixtures for the unit tests: aioresponses (through the aiohttp 3.14 shim) and small
aiohttp.web servers on loopback for the edge cases a mock cannot show (the fake clock is
``tests/clock.py``, its fixture in ``tests/conftest.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
from aiohttp import web
from yarl import URL

from tests.aioresponses_compat import aioresponses


@pytest.fixture
def aioresponses_mock() -> Iterator[aioresponses]:
    """aioresponses patched for aiohttp 3.14 (see ``tests/aioresponses_compat.py``)."""
    with aioresponses() as mock:
        yield mock


Serve = Callable[[web.Application], Awaitable[URL]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Start aiohttp.web applications on 127.0.0.1 (a free port each); returns their root URL."""
    runners: list[web.AppRunner] = []

    async def start(app: web.Application) -> URL:
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        host, port = runner.addresses[0][:2]
        return URL.build(scheme="http", host=host, port=port)

    yield start
    for runner in reversed(runners):
        await runner.cleanup()
